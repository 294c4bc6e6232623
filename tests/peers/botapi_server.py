"""A Telegram Bot API server on 127.0.0.1 for tests and benchmarks: the real wire format, scripted by the caller.

Routes `/bot<TOKEN>/<method>` (JSON, form or multipart bodies) and `/file/bot<TOKEN>/<path>`. Updates the test pushes
are handed out by long-polling getUpdates; every other call is recorded in `calls` so tests can wait for replies.
`fail_next(method, retry_after)` makes the next call of a method answer 429 once, as Telegram does under flood control;
`fail_calls(n, status)` makes the next n calls of any method answer an error status (401 for a revoked token, 502
for an outage). Inline queries and button presses are pushed like messages (`push_inline_query`,
`push_callback_query`); `refuse(method)` makes a method unknown, as on a Bot API server older than it
(sendMessageDraft before Bot API 9.5).
`faults` takes a FaultPlan (faults.py): shares of a method's calls refused (429, 5xx) or answered late.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qsl, unquote, urlsplit

TOKEN = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQr"
BOT_ID = 123456789
BOT_USERNAME = "articlebot_test_bot"


@dataclass
class Call:
    method: str
    params: dict
    at: float
    result: object = None


@dataclass
class BotAPIServer:
    token: str = TOKEN
    calls: list = field(default_factory=list)
    updates: list = field(default_factory=list)
    files: dict = field(default_factory=dict)       # file_id -> (file_path, bytes)
    webhook: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)    # method -> retry_after, served once
    pushed_at: dict = field(default_factory=dict)   # update_id -> time pushed (benchmarks)
    pushed: dict = field(default_factory=dict)      # update_id -> the update
    outage: list = field(default_factory=list)      # [calls left (-1 = all), status, description]
    refused: set = field(default_factory=set)       # methods this server does not know (404)
    faults: object = None                            # a faults.FaultPlan, consulted once per call

    def __post_init__(self):
        self._cond = threading.Condition()
        self._update_id = 1000
        self._message_id = 5000
        self._chat_types: dict[int, str] = {}
        self._server: ThreadingHTTPServer | None = None
        self._stopped = False

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> "BotAPIServer":
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                self._route()

            def do_POST(self):
                self._route()

            def _route(self):
                path = unquote(urlsplit(self.path).path)  # httpx sends the token's ':' as %3A
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                file_prefix = f"/file/bot{api.token}/"
                if path.startswith(file_prefix):
                    wanted = path[len(file_prefix):]
                    for file_path, data in api.files.values():
                        if file_path == wanted:
                            return self._send(200, data, "application/octet-stream")
                    return self._send(404, f"no file {wanted}".encode(), "text/plain")
                prefix = f"/bot{api.token}/"
                if not path.startswith(prefix):
                    return self._json(404, {"ok": False, "error_code": 404, "description": "Not Found"})
                method = path[len(prefix):]
                params = dict(parse_qsl(urlsplit(self.path).query))
                params.update(_parse_body(self.headers.get("Content-Type", ""), body))
                status, payload = api.handle(method, params)
                self._json(status, payload)

            def _json(self, status, payload):
                self._send(status, json.dumps(payload).encode(), "application/json")

            def _send(self, status, data: bytes, ctype: str):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """What TELEGRAM_BASE_URL should be set to."""
        return f"{self.url}/bot"

    # --- the API -----------------------------------------------------------------------------
    def handle(self, method: str, params: dict) -> tuple[int, dict]:
        with self._cond:
            failing = bool(self.outage and self.outage[0] != 0)
            if failing:
                self.outage[0] -= 1 if self.outage[0] > 0 else 0
                status, description = self.outage[1:]
        if failing:
            self._record(method, params, str(status))
            return status, {"ok": False, "error_code": status, "description": description}
        if method in self.refused:
            self._record(method, params, "404")
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        with self._cond:
            retry = self.failures.pop(method, None)
        if retry is not None:
            self._record(method, params, "429")
            return 429, {"ok": False, "error_code": 429, "description": f"Too Many Requests: retry after {retry}",
                         "parameters": {"retry_after": retry}}
        if method == "getUpdates":
            return 200, {"ok": True, "result": self._get_updates(params)}
        fault = self.faults.pick(method) if self.faults is not None else None
        if fault is not None and fault.refuses:
            self._record(method, params, str(fault.status))
            return fault.status, fault.payload()
        handler: Callable | None = getattr(self, "_m_" + method, None)
        result = handler(params) if handler else True
        self._record(method, params, result)
        if fault is not None:
            time.sleep(fault.delay)  # carried out, answered late: the client may give up on a call that took effect
        return 200, {"ok": True, "result": result}

    def _record(self, method, params, result) -> None:
        with self._cond:
            self.calls.append(Call(method, params, time.monotonic(), result))
            self._cond.notify_all()

    def _get_updates(self, params: dict) -> list:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                if self.updates or time.monotonic() >= deadline or self._stopped:
                    return list(self.updates[: int(params.get("limit") or 100)])
                self._cond.wait(deadline - time.monotonic())

    def _m_getMe(self, params):
        return {"id": BOT_ID, "is_bot": True, "first_name": "Articlebot", "username": BOT_USERNAME,
                "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _message(self, chat_id, text: str, **extra) -> dict:
        with self._cond:
            self._message_id += 1
            mid = self._message_id
        chat_id = int(chat_id)
        chat = {"id": chat_id, "type": self._chat_types.get(chat_id, "private" if chat_id > 0 else "group")}
        if chat["type"] != "private":
            chat["title"] = "Test group"
        return {"message_id": mid, "date": int(time.time()), "chat": chat, "text": text,
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Articlebot", "username": BOT_USERNAME}, **extra}

    def _m_sendMessage(self, params):
        return self._message(params["chat_id"], params.get("text", ""))

    def _m_editMessageText(self, params):
        msg = self._message(params["chat_id"], params.get("text", ""))
        msg["message_id"] = int(params["message_id"])
        msg["edit_date"] = int(time.time())
        return msg

    def _m_sendMessageDraft(self, params):
        return True

    def _m_answerInlineQuery(self, params):
        return True

    def _m_answerCallbackQuery(self, params):
        return True

    def _m_getFile(self, params):
        file_path, data = self.files[params["file_id"]]
        return {"file_id": params["file_id"], "file_unique_id": "u" + params["file_id"], "file_size": len(data),
                "file_path": file_path}

    def _m_setWebhook(self, params):
        self.webhook = dict(params)
        return True

    def _m_deleteWebhook(self, params):
        self.webhook = {}
        return True

    def _m_getWebhookInfo(self, params):
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}

    # --- what tests call ---------------------------------------------------------------------
    def fail_next(self, method: str, retry_after: int = 1) -> None:
        with self._cond:
            self.failures[method] = retry_after

    def fail_calls(self, count: int, status: int, description: str = "") -> None:
        """The next `count` calls (any method; -1 = every call from now on) answer `status`."""
        names = {401: "Unauthorized", 502: "Bad Gateway", 500: "Internal Server Error"}
        with self._cond:
            self.outage = [count, status, description or names.get(status, "Error")]

    def make_message(self, chat_id: int, user_id: int, text: str = "", chat_type: str = "private",
                     reply_to_bot: bool = False, **extra) -> dict:
        self._chat_types[chat_id] = chat_type
        with self._cond:
            self._message_id += 1
            mid = self._message_id
        chat = {"id": chat_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Test group"
        msg = {"message_id": mid, "date": int(time.time()), "chat": chat,
               "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}}
        if text:
            msg["text"] = text
            entities = []
            if text.startswith("/"):
                entities.append({"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
            at = text.find("@" + BOT_USERNAME)
            if at >= 0 and not text.startswith("/"):
                entities.append({"type": "mention", "offset": at, "length": len(BOT_USERNAME) + 1})
            if entities:
                msg["entities"] = entities
        if reply_to_bot:
            msg["reply_to_message"] = self._message(chat_id, "an earlier answer")
        msg.update(extra)
        return msg

    def push_update(self, update: dict) -> int:
        with self._cond:
            self._update_id += 1
            update = {"update_id": self._update_id, **update}
            self.updates.append(update)
            self.pushed_at[self._update_id] = time.monotonic()
            self.pushed[self._update_id] = update
            self._cond.notify_all()
            return self._update_id

    def push_text(self, chat_id: int, user_id: int, text: str, chat_type: str = "private",
                  reply_to_bot: bool = False) -> int:
        return self.push_update({"message": self.make_message(chat_id, user_id, text, chat_type, reply_to_bot)})

    def push_document(self, chat_id: int, user_id: int, file_name: str, data: bytes,
                      mime_type: str = "text/plain", chat_type: str = "private", caption: str = "") -> int:
        file_id = f"doc{len(self.files) + 1}"
        self.files[file_id] = (f"documents/file_{len(self.files) + 1}{_suffix(file_name)}", data)
        doc = {"file_id": file_id, "file_unique_id": "u" + file_id, "file_name": file_name,
               "mime_type": mime_type, "file_size": len(data)}
        extra = {"document": doc}
        if caption:
            extra["caption"] = caption
        return self.push_update({"message": self.make_message(chat_id, user_id, "", chat_type, **extra)})

    def refuse(self, method: str) -> None:
        """From now on `method` is unknown here (404), as on an older Bot API server."""
        with self._cond:
            self.refused.add(method)

    def push_inline_query(self, user_id: int, query: str) -> str:
        """`@bot query` typed by a user in any chat; returns the inline query's id."""
        with self._cond:
            self._message_id += 1
            qid = f"iq{self._message_id}"
        self.push_update({"inline_query": {"id": qid, "query": query, "offset": "",
                                           "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}}})
        return qid

    def push_callback_query(self, user_id: int, message: dict, data: str) -> str:
        """A press of an inline keyboard button under `message` (a message the bot sent: a call's result)."""
        with self._cond:
            self._message_id += 1
            qid = f"cq{self._message_id}"
        self.push_update({"callback_query": {"id": qid, "data": data, "chat_instance": "ci", "message": message,
                                             "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}}})
        return qid

    def pushed_message_id(self, update_id: int) -> int:
        return self.pushed[update_id]["message"]["message_id"]

    def sent(self, chat_id: int | None = None, method: str = "sendMessage") -> list[Call]:
        with self._cond:
            return [c for c in self.calls if c.method == method
                    and (chat_id is None or int(c.params.get("chat_id", 0)) == chat_id)]

    def texts(self, chat_id: int) -> list[str]:
        return [c.params.get("text", "") for c in self.sent(chat_id)]

    def wait_for(self, predicate: Callable[["BotAPIServer"], object], timeout: float = 20.0):
        """Block until predicate(server) is truthy (returns it), or raise TimeoutError."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                value = predicate(self)
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"condition not met in {timeout} s; calls: "
                                       f"{[(c.method, c.params.get('text', '')[:60]) for c in self.calls[-10:]]}")
                self._cond.wait(min(left, 0.2))


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)  # a client hanging up on a long poll is normal


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


def _parse_body(ctype: str, body: bytes) -> dict:
    if not body:
        return {}
    if ctype.startswith("application/json"):
        return json.loads(body)
    if ctype.startswith("application/x-www-form-urlencoded"):
        return _nested(dict(parse_qsl(body.decode())))
    if ctype.startswith("multipart/form-data"):
        msg = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
        out = {}
        for part in msg.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            out[name] = payload if part.get_filename() else payload.decode()
        return _nested(out)
    return {}


def _nested(form: dict) -> dict:
    """Form bodies carry nested objects (reply_parameters, commands ...) as JSON strings, as the Bot API allows."""
    for key, value in list(form.items()):
        if isinstance(value, str) and value[:1] in ("[", "{"):
            try:
                form[key] = json.loads(value)
            except ValueError:
                pass
    return form


class AppThread:
    """Runs a python-telegram-bot Application (polling) on its own event loop in a thread, as `articlebot telegram`
    would, so synchronous tests and benchmarks can push updates and wait for replies."""

    def __init__(self, app, poll_timeout: int = 1, webhook: dict | None = None):
        import asyncio

        self.app = app
        self.webhook = webhook  # start_webhook(**webhook) instead of polling
        self.poll_timeout = poll_timeout
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop = None
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="ptb-app", daemon=True)

    def _run(self):
        import asyncio

        async def main():
            self._stop = asyncio.Event()
            async with self.app:
                if self.webhook is not None:
                    await self.app.updater.start_webhook(**self.webhook)
                else:
                    await self.app.updater.start_polling(poll_interval=0, timeout=self.poll_timeout)
                await self.app.start()
                if self.app.post_init:  # run_polling/run_webhook call it; so must we
                    await self.app.post_init(self.app)
                self._ready.set()
                await self._stop.wait()
                await self.app.updater.stop()
                await self.app.stop()

        try:
            self.loop.run_until_complete(main())
        except BaseException as exc:  # noqa: BLE001 - reported to the test through start()
            self.error = exc
            self._ready.set()
        finally:
            self.loop.close()

    def start(self, timeout: float = 30) -> "AppThread":
        self._thread.start()
        if not self._ready.wait(timeout) or self.error:
            raise RuntimeError(f"the bot did not start: {self.error!r}")
        return self

    def stop(self, timeout: float = 30) -> None:
        if self._stop is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
