"""Following feeds and folders (ingest/follow.py) and the one guarded fetcher (ingest/fetch.py), against a news site on
127.0.0.1 whose feed changes between polls (tests/peers/feed_server.py); names resolve through a stub, never DNS."""
from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO
from peers.feed_server import FeedSite, StubNetwork

STORIES = [
    ("Ferry operator orders two electric boats",
     "The Harbor City ferry operator has ordered two electric boats from the Skarvik yard for 31 million crowns, "
     "its chief executive Lise Marken said on Monday. The boats will enter service in the spring of next year."),
    ("Museum of Tides reopens after flood repairs",
     "The Museum of Tides reopened on Saturday after eight months of repairs to its flooded basement, which cost "
     "3.2 million crowns. Its director Arvid Holm said the whale skeleton had been restored."),
    ("Glacier Lake gets a new observation tower",
     "A wooden observation tower, 41 metres tall, opened on the north shore of Glacier Lake on Sunday. "
     "The architect, Mette Lund, designed it to sway no more than four centimetres in a storm."),
]
NEW_STORY = ("Harbor City names its first night mayor",
             "Harbor City has appointed Tove Brekke as its first night mayor, a post that will mediate between "
             "residents and the bars of the old town, the city council announced on Thursday.")


@pytest.fixture
def site():
    s = FeedSite().start()
    yield s
    s.stop()


@pytest.fixture
def loopback(settings):
    """Settings for tests that serve feeds on 127.0.0.1 (ALLOW_PRIVATE_URLS), with a short fetch timeout."""
    return settings.model_copy(update={"allow_private_urls": True, "fetch_timeout": 1.0})


def _writer(settings, store, embedder):
    from ingest.pipeline import ingest_items

    return lambda items: ingest_items(settings, store, items, embedder)


def _titles(store) -> set[str]:
    return {r.meta["title"] for r in store.records()}


# --- the feed that changes between polls -------------------------------------------------------
def test_first_poll_ingests_entries_unchanged_poll_is_a_304_and_a_new_entry_is_fetched_alone(loopback, store, counting, site):
    from ingest.follow import Following

    for title, text in STORIES:
        site.add_entry("city", title, text)
    following = Following(loopback)
    following.add(site.url("/city.xml"), "30m")
    write = _writer(loopback, store, counting)

    first = following.poll_due(write)
    assert [r.outcome for r in first] == ["new"] and first[0].added == 3, first[0].line()
    assert _titles(store) == {t for t, _ in STORIES}
    assert counting.embedded > 0
    assert len(site.hits("/a/")) == 3

    # nothing is due before its interval: the second poll is forced, as a restart of `follow run --once` would not be
    assert following.poll_due(write) == []
    embedded, pages = counting.embedded, len(site.hits("/a/"))
    second = following.poll_due(write, sources=following.list.all())
    assert second[0].outcome == "not modified", second[0].line()
    assert site.hits("/city.xml")[-1][1] == 304 and "If-None-Match" in site.hits("/city.xml")[-1][2]
    assert counting.embedded == embedded and len(site.hits("/a/")) == pages   # no embedding, no page fetched

    site.add_entry("city", *NEW_STORY)
    third = following.poll_due(write, sources=following.list.all())
    assert third[0].outcome == "new" and third[0].added == 1, third[0].line()
    assert [p for p, _, _ in site.hits("/a/")[pages:]] == ["/a/city-4.html"]   # only the new entry's page
    assert NEW_STORY[0] in _titles(store)
    row = following.list.get(site.url("/city.xml"))
    assert row.articles_added == 4 and row.failures == 0 and row.last_error == ""
    assert row.next_check == pytest.approx(time.time() + 1800, abs=60)


def test_per_poll_cap_leaves_the_rest_for_the_next_poll(loopback, store, counting, site):
    from ingest.follow import Following

    for title, text in STORIES:
        site.add_entry("city", title, text)
    following = Following(loopback.model_copy(update={"follow_max_new": 2}))
    following.add(site.url("/city.xml"))
    write = _writer(loopback, store, counting)
    first = following.poll_due(write)[0]
    assert (first.added, first.waiting) == (2, 1) and "1 more waiting" in first.line()
    second = following.poll_due(write, sources=following.list.all())[0]
    assert (second.outcome, second.added, second.waiting) == ("new", 1, 0)
    assert _titles(store) == {t for t, _ in STORIES}


def test_an_entry_whose_page_failed_is_tried_again_at_the_next_poll(loopback, store, counting, site):
    from ingest.follow import Following

    site.add_entry("city", *STORIES[0])
    site.add_entry("city", *STORIES[1])
    site.missing_pages.add("city-2")
    following = Following(loopback)
    following.add(site.url("/city.xml"))
    write = _writer(loopback, store, counting)
    first = following.poll_due(write)[0]
    assert first.added == 1 and f"1 skipped ({site.url('/a/city-2.html')}: unreachable (HTTP 404))" in first.line()

    site.missing_pages.clear()
    second = following.poll_due(write, sources=following.list.all())[0]
    assert (second.outcome, second.added) == ("new", 1)          # the feed is unchanged, but read again for it
    assert _titles(store) == {STORIES[0][0], STORIES[1][0]}
    assert following.poll_due(write, sources=following.list.all())[0].outcome == "not modified"


def test_failing_and_hanging_feeds_back_off_and_the_others_are_still_polled(loopback, store, counting, site):
    from ingest.follow import Following

    site.add_entry("city", *STORIES[0])
    following = Following(loopback)
    for path in ("/broken.xml", "/hang.xml", "/city.xml"):
        following.add(site.url(path), "1m")
    results = {r.source: r for r in following.poll_due(_writer(loopback, store, counting))}
    assert results[site.url("/city.xml")].added == 1
    broken, hang = following.list.get(site.url("/broken.xml")), following.list.get(site.url("/hang.xml"))
    assert broken.last_error == "unreachable (HTTP 500)" and broken.failures == 1
    assert hang.last_error.startswith("unreachable (ReadTimeout") and hang.failures == 1
    assert "failed: unreachable (HTTP 500); next try in" in results[site.url("/broken.xml")].line()
    first_delay = broken.next_check - broken.last_check
    assert 60 < first_delay <= 150                       # one interval doubled, with jitter

    following.poll_due(_writer(loopback, store, counting), sources=[following.list.get(site.url("/broken.xml"))])
    again = following.list.get(site.url("/broken.xml"))
    assert again.failures == 2 and 180 <= again.next_check - again.last_check <= 300
    assert following.list.due() == []                    # nobody hammers the failing sources


def test_restart_keeps_the_followed_list_and_embeds_nothing_again(loopback, store, counting, site):
    from ingest.follow import Following

    for title, text in STORIES:
        site.add_entry("city", title, text)
    Following(loopback).add(site.url("/city.xml"), "2h")
    Following(loopback).poll_due(_writer(loopback, store, counting))
    embedded, pages = counting.embedded, len(site.hits("/a/"))

    restarted = Following(loopback)                       # a new process: only the data dir is shared
    [row] = restarted.list.all()
    assert (row.source, row.every, row.articles_added) == (site.url("/city.xml"), 7200, 3)
    result = restarted.poll_due(_writer(loopback, store, counting), sources=restarted.list.all())[0]
    assert result.outcome == "not modified"
    assert counting.embedded == embedded and len(site.hits("/a/")) == pages


def test_follow_setting_seeds_the_list_once(loopback, site):
    from ingest.follow import Following

    seeded = Following(loopback.model_copy(update={"follow": (site.url("/city.xml"), str(EXAMPLES), "ftp://x/y")}))
    assert [f.source for f in seeded.list.all()] == [site.url("/city.xml"), str(EXAMPLES)]
    assert seeded.seed_problems == ["FOLLOW: ftp://x/y: refused: only http and https URLs are fetched"]
    seeded.remove(site.url("/city.xml"))
    assert [f.source for f in Following(loopback).list.all()] == [str(EXAMPLES)]


def test_folder_rescan_embeds_only_new_or_changed_files(loopback, store, counting, tmp_path):
    import shutil

    from ingest.follow import Following

    folder = tmp_path / "articles"
    shutil.copytree(EXAMPLES, folder)
    following = Following(loopback)
    following.add(str(folder), "10m")
    write = _writer(loopback, store, counting)
    assert following.poll_due(write)[0].added == 5
    embedded = counting.embedded

    unchanged = following.poll_due(write, sources=following.list.all())[0]
    assert unchanged.outcome == "unchanged" and counting.embedded == embedded

    (folder / "night-mayor.md").write_text(f"# {NEW_STORY[0]}\n\n{NEW_STORY[1]}\n")
    added = following.poll_due(write, sources=following.list.all())[0]
    assert added.added == 1 and NEW_STORY[0] in _titles(store)
    assert 0 < counting.embedded - embedded < 20          # the one new file's sentences, nothing else


def test_follow_rejects_bad_sources_and_intervals_in_one_line(loopback):
    from ingest.follow import FollowError, Following

    following = Following(loopback.model_copy(update={"allow_private_urls": False}))
    for source, every, message in [
        ("http://127.0.0.1:8080/feed.xml", None, "refused: 127.0.0.1 is a loopback address"),
        ("file:///etc/passwd", None, "only http and https"),
        ("/no/such/folder", None, "not a feed or page URL"),
        (str(EXAMPLES), "5 fortnights", "not an interval"),
    ]:
        with pytest.raises(FollowError, match=message) as err:
            following.add(source, every)
        assert "\n" not in str(err.value)
    assert following.list.all() == []


# --- SSRF: every URL goes through the guarded fetcher ------------------------------------------
@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1:{port}/city.xml", "refused: 127.0.0.1 is a loopback address"),
    ("http://10.0.0.1/feed.xml", "refused: 10.0.0.1 is a private address"),
    ("http://[::1]:{port}/city.xml", "refused: ::1 is a loopback address"),
    ("http://169.254.169.254/latest/meta-data/", "refused: 169.254.169.254 is a link-local address"),
    ("http://[::ffff:127.0.0.1]:{port}/city.xml", "refused: ::ffff:7f00:1 (127.0.0.1) is a loopback address"),
    ("file:///etc/passwd", "refused: only http and https URLs are fetched, not file:"),
    ("http://metadata.internal/", "refused: metadata.internal resolves to 169.254.169.254 is a link-local address"),
])
@pytest.mark.slow
def test_private_addresses_and_other_schemes_are_refused_without_connecting(site, url, reason):
    from ingest.fetch import Fetcher

    network = StubNetwork({"metadata.internal": ["169.254.169.254"]}, site.port)
    got = Fetcher(10**6, 2.0, network=network).get(url.format(port=site.port))
    assert got.reason.startswith(reason)
    hint = "ALLOW_LINK_LOCAL_URLS" if "link-local" in reason else "ALLOW_PRIVATE_URLS"
    assert (hint in got.reason) == (not url.startswith("file:"))
    assert network.connected == [] and site.requests == []


def test_redirect_from_a_public_host_to_loopback_is_refused(site):
    from ingest.fetch import Fetcher, Fetched

    site.add_entry("city", *STORIES[0])
    network = StubNetwork({"news.example": ["93.184.216.34"]}, site.port)
    fetcher = Fetcher(10**6, 2.0, network=network)
    assert isinstance(fetcher.get(f"http://news.example:{site.port}/city.xml"), Fetched)   # the public host is fine

    got = fetcher.get(f"http://news.example:{site.port}/redirect?to=http://127.0.0.1:{site.port}/city.xml")
    assert got.reason.startswith("refused: 127.0.0.1 is a loopback address")
    assert [p for p, _, _ in site.requests][-1].startswith("/redirect")     # the loopback URL was never requested

    to_file = fetcher.get(f"http://news.example:{site.port}/redirect?to=file:///etc/passwd")
    assert to_file.reason == "refused: only http and https URLs are fetched, not file: (redirected to file:///etc/passwd)"

    hop = f"http://news.example:{site.port}/redirect?to="
    chain = hop + hop + hop + hop + hop + hop + f"http://news.example:{site.port}/city.xml"
    assert fetcher.get(chain).reason == "refused: more than 5 redirects"

    allowed = Fetcher(10**6, 2.0, network=network, allow_private=True)
    assert isinstance(allowed.get(f"http://news.example:{site.port}/redirect?to=http://127.0.0.1:{site.port}/city.xml"),
                      Fetched)


def test_responses_over_the_size_cap_are_cut_off(site):
    from ingest.fetch import Fetcher

    site.add_entry("city", "Long", "word " * 5000)
    got = Fetcher(2000, 2.0, allow_private=True).get(site.url("/a/city-1.html"))
    assert got.reason.startswith("too large")


def test_ingest_of_a_loopback_url_is_one_clear_line(tmp_path, site):
    site.add_entry("city", *STORIES[0])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALLOW_PRIVATE", "ARTICLEBOT_"))}
    env.update(ARTICLEBOT_DATA_DIR=str(tmp_path / "data"), ARTICLEBOT_MODEL_DIR=os.environ["ARTICLEBOT_MODEL_DIR"],
               PYTHONPATH=str(REPO))
    run = subprocess.run([sys.executable, "-m", "bot.cli", "ingest", site.url("/city.xml")], env=env, cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 1 and "Traceback" not in run.stderr + run.stdout
    assert f"  {site.url('/city.xml')}: refused: 127.0.0.1 is a loopback address (set ALLOW_PRIVATE_URLS=true" in run.stdout
    assert site.requests == []


# --- the CLI -----------------------------------------------------------------------------------
def _cli(args, tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALLOW_PRIVATE", "ARTICLEBOT_", "FOLLOW"))}
    env.update(ARTICLEBOT_DATA_DIR=str(tmp_path / "data"), ARTICLEBOT_MODEL_DIR=os.environ["ARTICLEBOT_MODEL_DIR"],
               PYTHONPATH=str(REPO), **extra)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow  # five articlebot processes
def test_follow_cli_add_list_run_remove(tmp_path, site):
    for title, text in STORIES:
        site.add_entry("city", title, text)
    feed = site.url("/city.xml")
    private = {"ALLOW_PRIVATE_URLS": "true"}
    added = _cli(["follow", "add", feed, "--every", "2h"], tmp_path, **private)
    assert added.returncode == 0, added.stderr
    # checked at once: the first check is recorded, not left to `follow run` or the bot
    assert added.stdout.splitlines() == [f"following {feed} every 2h", f"{feed}: 3 new or changed articles"]
    assert _cli(["follow", "run", "--once"], tmp_path, **private).stdout == ""      # nothing due for two hours

    listed = _cli(["follow", "list"], tmp_path).stdout.splitlines()
    assert listed[0] == feed and "every 2h" in listed[1] and "3 articles added" in listed[1]
    assert "last check 2" in listed[1] and "last success 2" in listed[1] and "next check 2" in listed[1]
    assert "\n3 articles in " in _cli(["sources"], tmp_path).stdout                    # stored by the add itself

    # a new interval moves the next check: last check + 30 minutes, not the old two hours
    readded = _cli(["follow", "add", feed, "--every", "30m"], tmp_path, **private)
    assert readded.returncode == 0, readded.stderr
    [line] = readded.stdout.splitlines()
    assert line.startswith(f"already following {feed} every 30m; next check 2")
    [entry] = json.loads(_cli(["follow", "list", "--json"], tmp_path).stdout)
    checked, due = (dt.datetime.fromisoformat(entry[k].replace("Z", "+00:00")) for k in ("last_check", "next_check"))
    assert (due - checked).total_seconds() == pytest.approx(1800, abs=1)

    bad = _cli(["follow", "add", "http://10.0.0.1/feed.xml"], tmp_path)
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "refused: 10.0.0.1 is a private" in bad.stderr

    gone = _cli(["follow", "remove", feed], tmp_path)
    assert gone.returncode == 0 and "stopped following" in gone.stdout
    assert "Following nothing" in _cli(["follow", "list"], tmp_path).stdout


def test_follow_add_beside_a_process_holding_the_embedded_store_says_who_checks_it(tmp_path, settings):
    from vectorstore.store import open_store

    folder = tmp_path / "inbox"
    folder.mkdir()
    holder = open_store(settings)   # as a running bot would
    try:
        added = _cli(["follow", "add", str(folder)], tmp_path)
    finally:
        holder.close()
    assert added.returncode == 0, added.stderr
    following, later = added.stdout.splitlines()
    assert following == f"following {folder} every 30m"
    assert later.startswith("not checked now: the data dir") and f"(pid {os.getpid()})" in later
    assert "`articlebot telegram` or `articlebot follow run` checks it within seconds" in later


def test_follow_run_beside_a_process_holding_the_embedded_store_says_why(tmp_path, settings):
    from vectorstore.store import open_store

    holder = open_store(settings)   # as a running bot would
    try:
        run = _cli(["follow", "run", "--once"], tmp_path)
    finally:
        holder.close()
    assert run.returncode == 2 and "Traceback" not in run.stderr
    [line] = run.stderr.strip().splitlines()
    assert "in use by another articlebot process" in line and "polls the followed sources itself" in line


# --- the running bot ---------------------------------------------------------------------------
from conftest import TelegramHTML, reply  # noqa: E402


def _wait(predicate, timeout=120.0, every=0.2):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("timed out waiting")


@pytest.mark.slow
def test_bot_follows_a_feed_and_answers_a_new_entry_without_a_restart(api, make_bot, site, tmp_path):
    from ingest.follow import FollowList

    for title, text in STORIES:
        site.add_entry("city", title, text)
    feed = site.url("/city.xml")
    make_bot(telegram_admins={9}, allow_private_urls=True, fetch_timeout=2.0)
    follows = FollowList(tmp_path / "data" / "follow.sqlite3")

    api.push_text(701, 9, f"/follow {feed} 2s")
    assert reply(api, 701)[0] == f"Following {feed}, checked every 2s. First check now; /following shows how it went."
    _wait(lambda: (f := follows.get(feed)) and f.articles_added == 3)
    _wait(lambda: [h for h in site.hits("/city.xml") if h[1] == 304])     # polled again: unchanged, a 304
    assert len(site.hits("/a/")) == 3                                     # and no page fetched twice

    site.add_entry("city", *NEW_STORY)
    _wait(lambda: follows.get(feed).articles_added == 4)
    api.push_text(702, 1, "Who is Harbor City's first night mayor?")
    answer = TelegramHTML.check(reply(api, 702)[0]).plain
    assert "Tove Brekke" in answer and NEW_STORY[0] in answer

    api.push_text(703, 9, "/following")
    listing = TelegramHTML.check(reply(api, 703)[0]).plain
    assert "Following 1 source:" in listing and feed in listing and "every 2s" in listing
    assert "(ok); 4 articles added" in listing

    api.push_text(704, 1, "/help")
    help_text = TelegramHTML.check(reply(api, 704)[0]).plain
    assert "I know 9 articles" in help_text and "I follow 1 source" in help_text   # 5 examples + 4 from the feed
    assert f"Current as of {time.strftime('%Y-%m-%d', time.gmtime())} (the newest article)" in help_text

    api.push_text(705, 9, f"/unfollow {feed}")
    assert "Stopped following" in reply(api, 705)[0]
    assert follows.all() == []


@pytest.mark.slow
def test_bot_keeps_answering_while_feeds_fail_or_hang(api, make_bot, site, tmp_path):
    from ingest.follow import FollowList

    make_bot(telegram_admins={9}, allow_private_urls=True, fetch_timeout=6.0)
    follows = FollowList(tmp_path / "data" / "follow.sqlite3")
    api.push_text(801, 9, f"/follow {site.url('/broken.xml')}")
    api.push_text(802, 9, f"/follow {site.url('/hang.xml')}")
    reply(api, 801), reply(api, 802)
    _wait(lambda: site.hits("/hang.xml"))
    api.push_text(803, 1, "How much did the Lantern Bridge repair cost?")   # while the hanging fetch is waiting
    assert "86 million crowns" in reply(api, 803)[0]
    assert follows.get(site.url("/hang.xml")).last_check is None             # answered before the poll gave up
    _wait(lambda: all(f.failures for f in follows.all()))
    broken = follows.get(site.url("/broken.xml"))
    assert broken.last_error == "unreachable (HTTP 500)" and broken.next_check - broken.last_check > 1800

    api.push_text(804, 9, "/following")
    listing = TelegramHTML.check(reply(api, 804)[0]).plain
    assert "error: unreachable (HTTP 500)" in listing and "error: unreachable (ReadTimeout" in listing


def test_follow_commands_are_for_admins_and_refuse_private_urls(api, make_bot, site):
    make_bot(telegram_admins={9})
    api.push_text(901, 10, f"/follow {site.url('/city.xml')}")
    assert reply(api, 901)[0] == "Only the bot's admins can change what it follows."
    api.push_text(902, 9, f"/follow {site.url('/city.xml')}")
    assert reply(api, 902)[0].startswith(f"{site.url('/city.xml')}: refused: 127.0.0.1 is a loopback address")
    api.push_text(903, 9, "/follow /etc")
    assert "folders are followed by the operator" in reply(api, 903)[0]
    api.push_text(904, 9, f"/ingest {site.url('/city.xml')}")
    assert "refused: 127.0.0.1 is a loopback address" in reply(api, 904)[0]
    assert site.requests == []


def test_follow_errors_that_quote_the_url_are_escaped(api, make_bot, site):
    make_bot(telegram_admins={9})
    api.push_text(905, 9, f"/follow {site.url('/feed.xml?a=1&b=<x>')}")
    text = reply(api, 905)[0]   # unescaped, Telegram's HTML parser refused it and the admin read "Sorry"
    assert "/feed.xml?a=1&amp;b=&lt;x&gt;: refused: 127.0.0.1 is a loopback address" in text
    assert "/feed.xml?a=1&b=<x>: refused" in TelegramHTML.check(text).plain
    api.push_text(906, 9, f"/follow {site.url('/city.xml')} <5m>")
    assert "not an interval: '<5m>'" in TelegramHTML.check(reply(api, 906)[0]).plain


def test_two_admins_following_one_feed_at_once_both_get_an_answer(api, make_bot, site):
    for title, text in STORIES:
        site.add_entry("city", title, text)
    feed = site.url("/city.xml")
    make_bot(telegram_admins={9, 10}, allow_private_urls=True)
    api.push_text(907, 9, f"/follow {feed} 1h")
    api.push_text(908, 10, f"/follow {feed} 1h")
    texts = [reply(api, 907)[0], reply(api, 908)[0]]
    assert sorted(t.split(" ", 1)[0] for t in texts) == ["Already", "Following"], texts
