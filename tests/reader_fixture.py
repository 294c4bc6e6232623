"""Fictional articles and quiz questions for the reader's tests: small enough to train on in seconds."""
from __future__ import annotations

import json
from pathlib import Path

ARTICLES = {
    "globes.txt": """Harbour Film Awards return to the Glasshouse

Published: 10 January 2025

The Harbour Film Awards returned to the Glasshouse in Kettlevik on Sunday after a two-year break, with a crowd of 2,000 guests and a new host.
Actor Tomas Eklund won best actor for his role as a lighthouse keeper in "Salt Winter".
Best film went to "The Quiet Ferry", directed by Ingrid Solberg.
Organisers said ticket sales had doubled since the last ceremony.
""",
    "clock_old.txt": """Flood Clock stays close to the brink

Published: 20 January 2024

The Kettlevik Flood Clock was set at 100 minutes to high water on Tuesday, the same as last year.
The clock's keepers, a panel of river engineers, said the dykes were ageing faster than expected.
Mayor Lena Dahl promised new funding for the northern embankment.
""",
    "clock_new.txt": """Flood Clock moves closer than ever

Published: 24 January 2025

The Kettlevik Flood Clock now stands at 90 minutes to high water, the keepers announced on Tuesday.
The river engineers blamed the warm winter and the delayed embankment works for the change.
It is the closest the clock has been set since it was created in 1998.
""",
    "library.txt": """A library that floats

Published: 12 January 2025

A floating library opened on Glacier Lake this week, offering 4,000 books to lakeside villages.
The barge was built by the Norrvik boatyard of Astrid Holm over eighteen months.
Children from six villages visited on the first day, the organisers said.
""",
    "vote.txt": """Harbour council elects a speaker at last

Published: 13 January 2025

The Harbour council elected Per Lundgren as its speaker on Friday night.
It took 15 ballots over four days before a majority backed him.
Lundgren promised to bring the ferry budget to a vote within a month.
""",
    "market.txt": """Fish market moves to the old station

Published: 2 February 2025

Kettlevik's fish market will move to the old railway station in March, the council said.
The move will cost 3 million crowns and add 40 stalls.
Traders had asked for a covered hall for a decade.
""",
    "bridge.txt": """Stonewake bridge reopens

Published: 1 February 2025

The Stonewake bridge reopened on Thursday after repairs that lasted nine months.
The repairs were paid for by the regional transport board.
Engineer Sofia Berg led the works.
""",
}

QUESTIONS = [
    {"question": "Who won best actor at the Harbour Film Awards?", "answer": "Tomas Eklund", "date": "2025/01/14", "week": "w1"},
    {"question": "Who built the floating library on Glacier Lake?", "answer": "Astrid Holm", "date": "2025/01/14", "week": "w1"},
    {"question": "How many ballots did it take to elect the Harbour council speaker?", "answer": "15", "date": "2025/01/14", "week": "w1"},
    {"question": "Which film won best film at the Harbour Film Awards?", "answer": "The Quiet Ferry", "date": "2025/01/14", "week": "w1"},
    {"question": "Where will Kettlevik's fish market move?", "answer": "old railway station", "date": "2025/02/04", "week": "w2"},
    {"question": "Who led the repairs of the Stonewake bridge?", "answer": "Sofia Berg", "date": "2025/02/04", "week": "w2"},
    {"question": "How much will the fish market move cost?", "answer": "3 million", "date": "2025/02/04", "week": "w2"},
    {"question": "Who paid for the Stonewake bridge repairs?", "answer": "regional transport board", "date": "2025/02/04", "week": "w2"},
    {"question": "How close is the Flood Clock to high water now?", "answer": "90 minutes", "date": "2025/01/27", "week": "w3"},
    {"question": "Who was elected speaker of the Harbour council?", "answer": "Per Lundgren", "date": "2025/01/27", "week": "w3"},
]


def write_articles(folder: Path, names=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in ARTICLES.items():
        if names is None or name in names:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def write_questions(path: Path) -> Path:
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path
