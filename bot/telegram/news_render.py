"""Telegram HTML for what the bot sends unasked: a watch's alert (the matching sentence, cited), the one line that
sums up alerts past the hourly limit, the daily digest, and the list of a chat's watches. Everything from an article
is escaped, as in render.py."""

from __future__ import annotations

import time
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.answer import Citation
from bot.news.articles import NewArticle
from bot.news.digests import Digest
from bot.news.watches import Alert, Overflow, Watch
from bot.telegram.render import escape, link_html, render_citation
from ingest.wording import plural

DIGEST_MAX = 40  # articles listed in one digest; the rest are counted
OVERFLOW_TITLES = 3  # titles named in the line that sums up the alerts past the limit


def citation(article: NewArticle, sentence: str = "") -> Citation:
    return Citation(1, article.title, article.link, article.published, article.outlet, sentence, article.published_from)


def render_alert(alert: Alert) -> str:
    m = alert.match
    lines = [f"🔔 <b>{escape(alert.watch.topic)}</b> — a new article", ""]
    if m.sentence:
        lines += [f"“{escape(m.sentence)}” [1]", ""]
    lines.append(render_citation(citation(m.article, m.sentence)))
    lines.append(f"<i>/unwatch {alert.watch.id} stops these alerts</i>")
    return "\n".join(lines)


def render_overflow(over: Overflow) -> str:
    titles = "; ".join(escape(a.title) for a in over.articles[:OVERFLOW_TITLES])
    more = len(over.articles) - OVERFLOW_TITLES
    return (
        f"🔔 <b>{escape(over.watch.topic)}</b>: {plural(len(over.articles), 'more new article')} this hour, past the "
        f"{over.limit} alerts an hour: {titles}" + (f" and {more} more" if more > 0 else "") + " (/latest)"
    )


def alert_text(item: Alert | Overflow) -> str:
    return render_alert(item) if isinstance(item, Alert) else render_overflow(item)


def render_digest(digest: Digest, tz_name: str) -> str:
    since = datetime.fromtimestamp(digest.since, ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M %Z")
    lines = [f"📰 <b>News digest</b> — {plural(digest.count, 'new article')} since {escape(since)}"]
    listed = 0
    for section in digest.sections:
        lines += ["", f"<b>{escape(section.topic) if section.topic else 'Other new articles'}</b>"]
        for a in section.articles:
            if listed == DIGEST_MAX:
                break
            listed += 1
            when = ", ".join(escape(x) for x in (a.outlet, a.when) if x)
            lines.append(f"• {link_html(a.title, a.link)}" + (f" — {when}" if when else ""))
            lead = digest.leads.get(a.key, "")
            if lead:
                lines.append(f"  <i>{escape(lead)}</i>")
    if digest.count > listed:
        lines += ["", f"… and {plural(digest.count - listed, 'more article')} (/latest lists the newest)."]
    return "\n".join(lines)


def render_watches(watches: list[Watch], per_hour: int) -> str:
    if not watches:
        return "This chat watches nothing yet. <code>/watch ferry strike</code> posts each new article about it here."
    lines = [f"<b>Watching {plural(len(watches), 'topic')} here</b> (at most {per_hour} alerts a topic an hour):"]
    for w in watches:
        since = time.strftime("%Y-%m-%d", time.gmtime(w.created_at))
        lines.append(f"#{w.id} {escape(w.topic)} — since {since}")
    lines.append("/unwatch ID stops one.")
    return "\n".join(lines)
