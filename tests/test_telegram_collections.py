"""Chats choose their collection: an admin's /collection NAME binds a chat (kept across restarts), a chat's questions,
/latest and /forget use its collection, TELEGRAM_CHAT_COLLECTIONS binds from the environment, non-admins cannot
change a binding. The real bot against the loopback Bot API (tests/peers/botapi_server.py); the binding store and the
engine of each collection are also tested on their own, without Telegram."""
from __future__ import annotations

import pytest

from bot.cli import main
from conftest import EXAMPLES, TelegramHTML, bot_engine, reply
from peers.botapi_server import BOT_USERNAME, TOKEN, AppThread
from test_collections import QUESTION, SET_B, write_set

ADMIN, MEMBER = 9, 10
GROUP, ENV_GROUP = -100777, -100888


# --- without Telegram --------------------------------------------------------------------------
def test_a_binding_beats_the_environment_which_beats_the_default_and_survives_a_restart(settings):
    from bot.telegram.bindings import BOUND, FROM_ENV, UNBOUND, ChatBindings
    from vectorstore.collections import CollectionError

    settings = settings.model_copy(update={"telegram_chat_collections": {ENV_GROUP: "city", GROUP: "markets"}})
    bindings = ChatBindings(settings)
    assert bindings.binding(1) == ("default", UNBOUND)
    assert bindings.binding(ENV_GROUP) == ("city", FROM_ENV)
    assert bindings.bind(GROUP, "b", by=ADMIN) == "b"
    assert bindings.binding(GROUP) == ("b", BOUND)
    with pytest.raises(CollectionError, match="not a collection name"):
        bindings.bind(GROUP, "no such", by=ADMIN)
    bindings.close()
    assert ChatBindings(settings).binding(GROUP) == ("b", BOUND)  # a new process reads the same file
    with pytest.raises(CollectionError, match="not a collection name: 'a b'"):
        ChatBindings(settings.model_copy(update={"telegram_chat_collections": {GROUP: "a b"}}))


def test_the_environment_setting_reads_chat_equals_collection_pairs(monkeypatch):
    from bot.settings import Settings

    monkeypatch.setenv("TELEGRAM_CHAT_COLLECTIONS", "-100123=markets, -100456=city")
    assert Settings().telegram_chat_collections == {-100123: "markets", -100456: "city"}


def test_each_collection_gets_its_own_engine_opened_once_and_bounded(settings, embedder, tmp_path):
    from bot.engine import Engines

    base = bot_engine(settings, embedder, sources=())
    try:
        engines = Engines(base, max_open=1)
        assert engines.get() is base and engines.get("default") is base
        b = engines.get("b")
        assert b.store.collection == "b" and b.memory is base.memory and b.embedder is base.embedder
        assert engines.get("b") is b
        b.ingest([str(write_set(tmp_path / "b", SET_B))])
        assert b.stats().articles == 3 and base.stats().articles == 0
        lock = b._ingest_lock
        engines.get("c")  # b is closed to keep one open ...
        again = engines.get("b")
        assert again is not b and again._ingest_lock is lock  # ... and its writes still take the same lock
        assert again.stats().articles == 3
        assert engines.names() == ["default", "b", "c"]
    finally:
        base.close()


# --- the bot -------------------------------------------------------------------------------------
@pytest.fixture
def bot(api, tmp_path, embedder):
    """start(**settings) runs a bot over the examples (default) with collection b holding SET_B; stop() ends it, so a
    test can start it again on the same data dir (a restart)."""
    from bot.settings import Settings
    from bot.telegram import build_application

    b = write_set(tmp_path / "b", SET_B)
    assert main(["ingest", "--quiet", str(b), "--collection", "b"]) == 0
    running = []

    def start(**overrides):
        settings = Settings(data_dir=tmp_path / "data", telegram_bot_token=TOKEN, telegram_base_url=api.base_url,
                            telegram_admins={ADMIN}, **overrides)
        engine = bot_engine(settings, embedder, sources=(str(EXAMPLES),))
        app = build_application(settings, engine)
        running.append((AppThread(app).start(), app, engine))

    def stop():
        runner, app, engine = running.pop()
        runner.stop()
        app.bot_data["front"].shutdown_pools()
        engine.close()

    start.stop, start.folder = stop, b
    yield start
    while running:
        stop()


def _texts(api, chat, n):
    """The first n messages the bot sent to the chat, as Telegram shows them (HTML checked, tags gone)."""
    return [TelegramHTML.check(text).plain for text in reply(api, chat, n)]


@pytest.mark.slow
def test_an_admin_binds_a_group_which_then_answers_from_that_collection_only(api, bot):
    bot()
    api.push_text(GROUP, ADMIN, "/collection b", chat_type="supergroup")
    assert _texts(api, GROUP, 1)[0] == "This chat now answers from the collection b (3 articles)."
    api.push_text(GROUP, MEMBER, f"@{BOT_USERNAME} {QUESTION}", chat_type="supergroup")
    answer = _texts(api, GROUP, 2)[1]
    assert "900,000 crowns" in answer and "Bay Evening Post" in answer
    assert "Vellmoor" not in answer and "Harbor City" not in answer and "Examplia" not in answer
    api.push_text(GROUP, MEMBER, f"/latest@{BOT_USERNAME}", chat_type="supergroup")
    latest = _texts(api, GROUP, 3)[2]
    assert latest.startswith("3 articles, newest first:") and "Lantern" not in latest

    # a non-admin cannot change it: one line, and the binding stays
    api.push_text(GROUP, MEMBER, "/collection default", chat_type="supergroup")
    assert _texts(api, GROUP, 4)[3] == "Only the bot's admins can change which collection this chat uses."
    api.push_text(GROUP, MEMBER, "/collection", chat_type="supergroup")
    assert _texts(api, GROUP, 5)[4] == "This chat answers from the collection b (set by an admin)."
    assert len(api.texts(GROUP)) == 5

    # other chats still use the default collection
    api.push_text(MEMBER, MEMBER, "How much did the Lantern Bridge repair cost?")
    assert "86 million crowns" in _texts(api, MEMBER, 1)[0]

    # the binding survives a restart
    bot.stop()
    bot()
    api.push_text(GROUP, MEMBER, f"@{BOT_USERNAME} {QUESTION}", chat_type="supergroup")
    assert "900,000 crowns" in _texts(api, GROUP, 6)[5]


@pytest.mark.slow
def test_the_environment_binds_a_chat_and_forget_works_in_the_chats_collection(api, bot):
    bot(telegram_chat_collections={ENV_GROUP: "b"})
    api.push_text(ENV_GROUP, ADMIN, "/collection", chat_type="supergroup")
    shown = _texts(api, ENV_GROUP, 1)[0]
    assert shown.startswith("This chat answers from the collection b (from TELEGRAM_CHAT_COLLECTIONS).")
    assert "Collections: default, b." in shown  # admins see which there are
    api.push_text(ENV_GROUP, MEMBER, f"/forget {bot.folder / 'tram-fares.md'}", chat_type="supergroup")
    assert _texts(api, ENV_GROUP, 2)[1] == "Only the bot's admins can forget articles."
    api.push_text(ENV_GROUP, ADMIN, f"/forget {bot.folder / 'tram-fares.md'}", chat_type="supergroup")
    assert _texts(api, ENV_GROUP, 3)[2] == "Forgot 1 article (1 chunk) from collection 'b'."
    api.push_text(ENV_GROUP, ADMIN, f"/ask {QUESTION}", chat_type="supergroup")
    assert "900,000" not in _texts(api, ENV_GROUP, 4)[3]
    # the default collection lost nothing
    api.push_text(ADMIN, ADMIN, "/latest")
    assert _texts(api, ADMIN, 1)[0].startswith("5 articles, newest first:")


@pytest.mark.slow
def test_follow_and_uploads_in_a_bound_chat_go_to_its_collection(api, bot, tmp_path):
    import time

    from ingest.follow import FollowList
    from peers.feed_server import FeedSite

    site = FeedSite().start()
    try:
        site.add_entry("bay", "Ostrava Bay opens a night market",
                       "Ostrava Bay opened a night market on the harbour quay on Friday, with 60 stalls, the market "
                       "board's chair Petra Lind said. It will run every weekend until October.")
        feed = site.url("/bay.xml")
        bot(allow_private_urls=True, fetch_timeout=2.0, telegram_chat_collections={ENV_GROUP: "b"})
        api.push_text(ENV_GROUP, ADMIN, f"/follow {feed} 1h", chat_type="supergroup")
        assert _texts(api, ENV_GROUP, 1)[0].startswith(f"Following {feed}, checked every 1h.")
        follows = FollowList(tmp_path / "data" / "collections" / "b" / "follow.sqlite3")
        deadline = time.monotonic() + 60
        while not ((f := follows.get(feed)) and f.articles_added == 1) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert follows.get(feed).articles_added == 1
        assert FollowList(tmp_path / "data" / "follow.sqlite3").all() == []  # the default collection follows nothing
        api.push_document(ENV_GROUP, ADMIN, "tunnel.md", (
            "# Ostrava Bay tunnel opens\n\n*Bay Evening Post (fictional) — 2 April 2025*\n\nThe Ostrava Bay "
            "tunnel, which cost 42 million crowns, opened on Tuesday.\n").encode(), chat_type="supergroup",
            caption=f"@{BOT_USERNAME}")
        assert "1 ingested" in _texts(api, ENV_GROUP, 2)[1]
        api.push_text(ENV_GROUP, ADMIN, "/latest", chat_type="supergroup")
        latest = _texts(api, ENV_GROUP, 3)[2]
        assert latest.startswith("5 articles, newest first:") and "night market" in latest and "tunnel" in latest
        api.push_text(ADMIN, ADMIN, "/latest")
        assert _texts(api, ADMIN, 1)[0].startswith("5 articles, newest first:")  # the examples, unchanged
        assert "night market" not in _texts(api, ADMIN, 1)[0]
    finally:
        site.stop()


@pytest.mark.slow
def test_a_watch_alerts_from_the_chats_own_collection_only(api, bot):
    """A bound group's watch is matched in its collection: an article uploaded there alerts the group once, and a
    private chat watching the same topic over the default collection gets nothing (issues 27 and 28 together)."""
    from news_articles import STRIKE

    bot(telegram_chat_collections={ENV_GROUP: "b"})
    api.push_text(ENV_GROUP, ADMIN, "/watch ferry strike", chat_type="supergroup")
    assert "Watching “ferry strike”" in _texts(api, ENV_GROUP, 1)[0]
    api.push_text(ADMIN, ADMIN, "/watch ferry strike")
    assert "Watching “ferry strike”" in _texts(api, ADMIN, 1)[0]
    title, outlet, day, text = STRIKE
    api.push_document(ENV_GROUP, ADMIN, "strike.md", f"# {title}\n\n*{outlet} — {day}*\n\n{text}\n".encode(),
                      chat_type="supergroup", caption=f"@{BOT_USERNAME}")
    alert = api.wait_for(lambda s: [t for t in s.texts(ENV_GROUP) if t.startswith("🔔")], 60)
    assert len(alert) == 1 and title in TelegramHTML.check(alert[0]).plain
    api.push_text(ADMIN, ADMIN, "/watches")  # a round trip after the look: the private chat's alert would be in by now
    texts = _texts(api, ADMIN, 2)
    assert "#2 ferry strike" in texts[1]
    assert not [t for t in api.texts(ADMIN) if t.startswith("🔔")]
    assert [t for t in api.texts(ENV_GROUP) if t.startswith("🔔")] == alert  # once
