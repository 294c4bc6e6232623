"""Article collections: a gzipped JSON-lines file ingests as it is (no gunzip), and MAX_FILE_MB limits each article of a
.jsonl/.jsonl.gz, not the whole collection (a 25 MB training file was once refused whole)."""

from __future__ import annotations

import gzip
import json

import pytest

from ingest.pipeline import ingest

# fictional articles, in the training files' layout: id, url, title, text, published, source
HARBOUR = [
    {
        "id": f"gullholm-{i}",
        "url": f"https://gullholm-post.example/{slug}",
        "title": title,
        "text": text,
        "published": f"2024-05-0{i + 1}",
        "source": "Gullholm Post (fictional)",
    }
    for i, (slug, title, text) in enumerate(
        [
            (
                "crane",
                "Gullholm harbour crane repaired",
                "The Gullholm harbour crane was repaired on Monday after standing idle for three weeks. The harbour master "
                "said the new winch cost 40,000 crowns and came from a yard in Saltmere.",
            ),
            (
                "ferry",
                "Night ferry to Brisholm starts in June",
                "A night ferry between Gullholm and Brisholm will run from June, the operator said. Shift workers at the "
                "fish plant had asked for it since the plant reopened last autumn.",
            ),
            (
                "seal",
                "Seal pup freed at the north pier",
                "Volunteers freed a harbour seal pup tangled in fishing line at the north pier of Gullholm on Sunday "
                "morning. The pup swam off after twenty minutes, a volunteer said.",
            ),
        ]
    )
]


def _jsonl(articles) -> bytes:
    return "".join(json.dumps(a) + "\n" for a in articles).encode()


def test_a_gzipped_collection_ingests_every_article_without_gunzip(settings, store, embedder, tmp_path):
    path = tmp_path / "articles.jsonl.gz"
    path.write_bytes(gzip.compress(_jsonl(HARBOUR)))
    report = ingest(settings, store, [str(path)], embedder)
    assert report.skipped == [] and report.ingested == 3
    by_url = {r.meta["url"]: r.meta for r in store.records()}
    assert set(by_url) == {a["url"] for a in HARBOUR}
    seal = by_url["https://gullholm-post.example/seal"]
    assert seal["title"] == "Seal pup freed at the north pier"
    assert seal["outlet"] == "Gullholm Post (fictional)" and seal["published"] == "2024-05-03"
    again = ingest(settings, store, [str(path)], embedder)  # unchanged: nothing embedded twice
    assert again.unchanged == 3 and again.ingested == 0


def test_the_cli_ingests_a_gzipped_collection_found_in_a_folder(tmp_path, capsys):
    """`articlebot ingest FOLDER` picks up an articles.jsonl.gz in it, and progress counts its lines up front."""
    from bot.cli import main

    folder = tmp_path / "train"
    folder.mkdir()
    (folder / "articles.jsonl.gz").write_bytes(gzip.compress(_jsonl(HARBOUR)))
    assert main(["ingest", str(folder)]) == 0
    out, err = capsys.readouterr()
    assert "3 ingested" in out + err and "0 skipped" in out + err
    assert next(line for line in err.splitlines() if line.startswith("progress:")).startswith("progress: 0/3 articles")


def test_the_size_limit_is_each_articles_not_the_collections(settings, store, embedder, tmp_path):
    """A collection larger than MAX_FILE_MB whose articles are each small ingests whole."""
    many = [
        dict(a, id=f"{a['id']}-{n}", url=f"{a['url']}-{n}", text=f"{a['text']} Report number {n} of the week.")
        for n in range(8)
        for a in HARBOUR
    ]
    path = tmp_path / "collection.jsonl"
    path.write_bytes(_jsonl(many))
    small = settings.model_copy(update={"max_file_mb": 0.002})  # 2 KB: the file is ~9 KB, each article ~0.4 KB
    assert path.stat().st_size > 4 * small.max_file_mb * 1e6
    report = ingest(small, store, [str(path)], embedder)
    assert report.skipped == [] and report.ingested == len(many)


@pytest.mark.parametrize("name, write", [("mixed.jsonl", bytes), ("mixed.jsonl.gz", gzip.compress)])
def test_an_oversize_article_is_reported_and_skipped_and_the_rest_ingested(
    settings, store, embedder, tmp_path, name, write
):
    huge = dict(
        HARBOUR[1],
        id="huge",
        url="https://gullholm-post.example/huge",
        text="The harbour committee met again on Thursday. " * 200,
    )  # 9 KB
    path = tmp_path / name
    path.write_bytes(write(_jsonl([HARBOUR[0], huge, HARBOUR[2]])))
    small = settings.model_copy(update={"max_file_mb": 0.002})  # 2 KB
    report = ingest(small, store, [str(path)], embedder)
    assert report.ingested == 2
    assert [s.source for s in report.skipped] == [f"{path}:2"]  # line 2
    reason = report.skipped[0].reason  # the line's size: ~0.009 MB
    assert reason.startswith("article too large (0.009") and reason.endswith("the limit is 0.002 MB per article)")
    assert f"{path}:2: article too large" in report.summary()
    assert {r.meta["url"] for r in store.records()} == {HARBOUR[0]["url"], HARBOUR[2]["url"]}


def test_a_damaged_gzip_file_is_one_skip_line(settings, store, embedder, tmp_path):
    path = tmp_path / "broken.jsonl.gz"
    path.write_bytes(b"this was never gzipped\n")
    report = ingest(settings, store, [str(path)], embedder)
    assert report.ingested == 0
    assert [s.source for s in report.skipped] == [str(path)]
    assert report.skipped[0].reason.startswith("unreadable compressed file")
