"""What the engine keeps of each conversation's recent answers: the last one (for /sources) and the once-only notes
already said ("the language model is not answering"), both bounded so a public bot's memory does not grow with every
chat it ever answered."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import replace

from bot.answer import Answer

LAST_ANSWERS = 1000  # conversations whose last answer is kept for /sources (the oldest are forgotten first)


class RecentAnswers:
    def __init__(self, keep: int = LAST_ANSWERS):
        self.keep = keep
        self._last: OrderedDict[str, Answer] = OrderedDict()
        self._said: OrderedDict[tuple[str, str], None] = OrderedDict()  # (conversation, Answer.once) already said
        self._lock = threading.Lock()  # Telegram answers several chats at once, each in its own thread

    def add(self, conversation_id: str, answer: Answer) -> None:
        """Keep the conversation's last answer; a note meant once per conversation (Answer.once) is dropped from its
        later answers with the same key."""
        with self._lock:
            if answer.once:
                key = (conversation_id, answer.once)
                if key in self._said:
                    answer.note = ""
                else:
                    _put(self._said, key, None, self.keep)
            # /sources needs the text and citations; the gate's working state (~10x the rest) is not kept
            _put(self._last, conversation_id, replace(answer, verdict=None), self.keep)

    def last(self, conversation_id: str) -> Answer | None:
        return self._last.get(conversation_id)

    def drop(self, conversation_id: str) -> None:
        with self._lock:
            self._last.pop(conversation_id, None)


def _put(kept: OrderedDict, key, value, keep: int) -> None:
    kept[key] = value
    kept.move_to_end(key)
    while len(kept) > keep:
        kept.popitem(last=False)
