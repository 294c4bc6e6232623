"""Named collections in one data home: the names people use, the Chroma collections behind each, listing, deleting.

A collection is a name that every store, index and manifest call takes (vectorstore/store.py opens one by name). Its
articles are three Chroma collections, `<chroma name>` (chunks), `<chroma name>__sentences` and `<chroma name>__articles`
(the manifest), its BM25 index is `<data dir>/bm25/<chroma name>` (vectorstore/bm25index.py) and what it keeps locally
(the sources it follows) is in `local_dir()`. Which Chroma name a name has:
- `default` is `articles`, the collection every store made before collections existed holds: such a store opens as
  `default` with nothing re-embedded, and `articles` is still accepted as the default's name;
- a name of three characters or more is its own Chroma name, so a store made with ARTICLEBOT_COLLECTION=NAME by an
  earlier version opens as NAME;
- a shorter one (Chroma wants at least three) is `collection.NAME`: a name never holds a period, so that Chroma name
  can be no other name's.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from vectorstore.chroma import DataDirLock, StoreError, open_client
from vectorstore.config import StoreConfig

if TYPE_CHECKING:
    from vectorstore.store import ArticleStore

DEFAULT = "default"
DEFAULT_CHROMA = "articles"
SHORT_PREFIX = "collection."
MANIFEST_SUFFIX = "__articles"
SENTENCE_SUFFIX = "__sentences"
MAX_NAME = 40
# letters, digits, '-' and '_', starting and ending with a letter or digit (Chroma's rule), and no '__', which
# would let one name's chunks be another's manifest ("x__articles")
_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9_-]*[A-Za-z0-9])?$")
FOLLOW_FILES = ("follow.sqlite3", "follow.sqlite3-wal", "follow.sqlite3-shm")


class CollectionError(StoreError):
    """A name that cannot be a collection's; the message is one line for the user."""


def check_name(name: str) -> str:
    """The collection's name as stored (`articles` is the default's old name), or CollectionError."""
    name = (name or "").strip()
    if name == DEFAULT_CHROMA:
        return DEFAULT
    if len(name) > MAX_NAME or not _NAME.match(name) or "__" in name:
        raise CollectionError(
            f"not a collection name: {name!r} (letters, digits, '-' and '_', at most {MAX_NAME} characters, "
            "starting and ending with a letter or digit)"
        )
    return name


def chroma_name(name: str) -> str:
    """The Chroma collection holding a collection's chunks (the manifest and sentences add their suffixes)."""
    name = check_name(name)
    if name == DEFAULT:
        return DEFAULT_CHROMA
    return name if len(name) >= 3 else SHORT_PREFIX + name


def name_of(chroma: str) -> str | None:
    """The collection whose chunks a Chroma collection holds; None for one that is no collection's chunks."""
    if chroma == DEFAULT_CHROMA:
        return DEFAULT
    name = chroma.removeprefix(SHORT_PREFIX)
    try:
        return name if check_name(name) != DEFAULT and chroma_name(name) == chroma else None
    except CollectionError:
        return None


def names(client) -> list[str]:
    """Every collection in this Chroma (those with a manifest), the default first, then by name."""
    found = set()
    for c in client.list_collections():
        chroma = getattr(c, "name", c)  # a Collection (Chroma 1.x) or its name (0.6)
        if chroma.endswith(MANIFEST_SUFFIX):
            name = name_of(chroma.removesuffix(MANIFEST_SUFFIX))
            if name is not None:
                found.add(name)
    return sorted(found, key=lambda n: (n != DEFAULT, n.lower()))


def local_dir(data_dir: Path, name: str) -> Path:
    """Where a collection keeps what is its own beside the store (the sources it follows): the data dir itself for
    the default, as before collections existed; `<data dir>/collections/<name>` for the others."""
    name = check_name(name)
    return Path(data_dir) if name == DEFAULT else Path(data_dir) / "collections" / name


def local_names(data_dir: Path) -> list[str]:
    """The collections other than the default that keep something in their local dir."""
    found = []
    for folder in sorted((Path(data_dir) / "collections").glob("*")):
        try:
            if folder.is_dir() and check_name(folder.name) != DEFAULT:
                found.append(folder.name)
        except CollectionError:
            continue
    return found


def delete(client, data_dir: Path, bm25_dir: Path, name: str) -> bool:
    """Remove a collection: its manifest first (so a kill midway leaves, as after an interrupted ingest, chunks that
    nothing lists and the next ingest collects, never a listed article without chunks), then its chunks, sentences,
    BM25 index and local state. Running it again finishes a deletion that was cut short. False if nothing was there."""
    chroma = chroma_name(name)
    existed = False
    for suffix in (MANIFEST_SUFFIX, "", SENTENCE_SUFFIX):
        try:
            client.delete_collection(chroma + suffix)
            existed = True
        except Exception:  # noqa: BLE001 - not there (Chroma raises its own NotFound/ValueError by version)
            pass
    shutil.rmtree(bm25_dir, ignore_errors=True)
    local = local_dir(data_dir, name)
    if check_name(name) == DEFAULT:  # the data dir is everyone's: only the default's own files go
        for file in FOLLOW_FILES:
            (local / file).unlink(missing_ok=True)
    else:
        shutil.rmtree(local, ignore_errors=True)
    return existed


class StoreHome:
    """Every collection of one data home, through one Chroma client: a process that serves several collections
    (the Telegram bot, `follow run`, `collections`) holds the embedded data dir's one lock for all of them."""

    def __init__(self, settings: StoreConfig):
        self.settings = settings
        self._lock: DataDirLock | None = None
        if not settings.server_mode:
            self._lock = DataDirLock(settings.data_dir)
            self._lock.acquire()
        try:
            self.client = open_client(settings)
        except BaseException:
            self.close()
            raise

    def take_lock(self) -> DataDirLock | None:
        """Hand the lock to the caller (open_store's one store releases it when closed)."""
        lock, self._lock = self._lock, None
        return lock

    def open(self, name: str, lock: DataDirLock | None = None, create: bool = True) -> ArticleStore:
        """The collection `name` (made when it is new, unless not `create`)."""
        from vectorstore.store import ArticleStore

        settings = self.settings.model_copy(update={"collection": check_name(name)})
        return ArticleStore(settings, self.client, lock, create=create)

    def names(self) -> list[str]:
        return names(self.client)

    def delete(self, name: str) -> bool:
        """Remove a collection and everything kept for it; False if there was none of that name."""
        from vectorstore import bm25index

        settings = self.settings.model_copy(update={"collection": check_name(name)})
        return delete(self.client, settings.data_dir, bm25index.index_dir(settings), name)

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()
            self._lock = None
