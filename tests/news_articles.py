"""Fictional articles for the watch, digest and alert tests (and benchmarks/watch.py): stories a watched topic should
match, and stories that share its words but are another story. TOPICS says which is which."""
from __future__ import annotations

from pathlib import Path

STRIKE = ("Ferry crews strike over pay on the Glacier Lake line", "Northwind Wire (fictional)", "24 March 2025",
          "Crews on the Glacier Lake ferries went on strike on Monday morning over pay, leaving about four thousand "
          "commuters without a crossing. The ferry workers' union said the strike would go on until Northwind Ferries "
          "offers more than the two percent it has put on the table.\n\nThe operator said it regretted the walkout "
          "and asked the union to return to talks on Wednesday.")
TIMETABLE = ("Glacier Lake ferry adds a late-evening crossing", "The Harbor City Gazette (fictional)", "24 March 2025",
             "The Glacier Lake ferry will add a crossing at half past ten on weekday evenings from April, Northwind "
             "Ferries said on Monday, after passenger numbers rose for the third year in a row.\n\nThe new crossing "
             "will be run by the smaller of the two ferries, the Ice Lily.")
SECOND_STRIKE = ("Ferry strike enters its third day as talks stall", "Northwind Wire (fictional)", "26 March 2025",
                 "The strike by Glacier Lake ferry crews entered its third day on Wednesday after talks between the "
                 "union and Northwind Ferries broke off without a deal. Commuters queued for the replacement buses "
                 "that the city laid on along the shore road.")
BUS_STRIKE = ("Harbor City bus drivers vote to walk out in April", "The Harbor City Gazette (fictional)", "25 March 2025",
              "Bus drivers in Harbor City voted on Tuesday to strike for two days in April unless the transit "
              "authority improves its offer on night-shift pay. The drivers' union said 87 percent of its members "
              "backed the strike.")
RATE_HOLD = ("Central Bank of Examplia holds its key rate at 4.5%", "Northwind Wire (fictional)", "27 March 2025",
             "The Central Bank of Examplia kept its key interest rate at 4.5 percent on Thursday, a week after raising "
             "it, saying it wanted to see how the increase worked through to mortgage rates before moving again. "
             "Governor Mira Solberg said inflation was still too high.")
BRIDGE_TOLL = ("Lantern Bridge toll to rise in May", "The Harbor City Gazette (fictional)", "27 March 2025",
               "Drivers crossing the Lantern Bridge will pay 30 crowns instead of 25 from the first of May, the city "
               "council decided on Thursday, to cover part of the repair's overrun. Cyclists and pedestrians will "
               "still cross free.")
CHESS = ("Runa Halvorsen draws with the world champion in an exhibition game", "Northwind Wire (fictional)",
         "28 March 2025",
         "Runa Halvorsen, Examplia's new world junior chess champion, drew with the reigning world champion in an "
         "exhibition game in Harbor City on Friday. The 17-year-old held the position for 64 moves.")
MARATHON = ("Record field for the Harbor City marathon", "The Harbor City Gazette (fictional)", "29 March 2025",
            "More than nine thousand runners started the Harbor City marathon on Saturday, a record for the race. "
            "Many of those from the far shore came over on the first ferry of the morning.\n\nThe route followed the "
            "harbor front past the Lantern Bridge and the old customs house. Volunteers handed out water every five "
            "kilometres.\n\nThe race was halted for twenty minutes after a lightning strike near the finish, and the "
            "organisers said nobody was hurt.")

ARTICLES = {"strike.md": STRIKE, "timetable.md": TIMETABLE, "second-strike.md": SECOND_STRIKE,
            "bus-strike.md": BUS_STRIKE, "rate-hold.md": RATE_HOLD, "bridge-toll.md": BRIDGE_TOLL, "chess.md": CHESS,
            "marathon.md": MARATHON}
# topic -> the titles of the new articles it should alert on (the others, and the example articles, must not match)
TOPICS = {
    "ferry strike": {STRIKE[0], SECOND_STRIKE[0]},
    "Glacier Lake ferry": {STRIKE[0], TIMETABLE[0], SECOND_STRIKE[0]},
    "bus drivers strike": {BUS_STRIKE[0]},
    "Lantern Bridge": {BRIDGE_TOLL[0]},
    "lantern festival": set(),
    "central bank interest rate": {RATE_HOLD[0]},
    "chess": {CHESS[0]},
    "tunnel": set(),
}


def write(folder: Path, name: str, article: tuple[str, str, str, str]) -> Path:
    title, outlet, day, text = article
    path = folder / name
    path.write_text(f"# {title}\n\n*{outlet} — {day}*\n\n{text}\n")
    return path
