"""A store made before collections existed opens, unchanged, as the `default` collection.

tests/data/store-47258e2 is the example articles as articlebot at commit 47258e2 stored them (one Chroma collection
`articles` with its `__articles` manifest and `__sentences`, the BM25 index in bm25/articles); made by
tests/data/make_store_47258e2.sh. The test works on a copy: opening a store writes to it.
"""
from __future__ import annotations

import json
import shutil

from bot.cli import main
from conftest import DATA, EXAMPLES

OLD = DATA / "store-47258e2"


def test_a_store_from_before_collections_opens_as_default_with_nothing_re_embedded(tmp_path, capsys, settings):
    from vectorstore import bm25index
    from vectorstore.chroma import open_client
    from vectorstore.store import open_store

    shutil.copytree(OLD, settings.data_dir)
    index = bm25index.index_dir(settings)
    assert index == settings.data_dir / "bm25" / "articles"  # the old index is the default's
    saved = {p.name: p.read_bytes() for p in index.iterdir()}

    assert main(["collections", "--json"]) == 0
    [default] = json.loads(capsys.readouterr().out)
    assert (default["name"], default["articles"], default["chunks"]) == ("default", 5, 5)
    assert main(["ask", "How much did the Lantern Bridge repair cost?"]) == 0
    answer = capsys.readouterr().out
    assert "86 million crowns" in answer and "[1] Lantern Bridge reopens to traffic" in answer
    # the saved BM25 index was used as it was, not rebuilt
    assert {p.name: p.read_bytes() for p in index.iterdir()} == saved
    store = open_store(settings)
    try:
        assert bm25index.load(settings, store.version()) is not None
    finally:
        store.close()

    # the same texts again (copies elsewhere): each is known, none is embedded
    copies = tmp_path / "copies"
    shutil.copytree(EXAMPLES, copies)
    assert main(["ingest", "--json", str(copies)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["chunks_written"] == 0 and report["ingested"] == 0 and report["duplicates"] == 6  # 6 copies of 5 texts
    # and nothing beside the old collections was made
    client = open_client(settings)
    assert sorted(c.name for c in client.list_collections()) == ["articles", "articles__articles", "articles__sentences"]
