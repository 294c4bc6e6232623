"""The documentation holds together: no dead relative links or anchors in README.md and docs/, the README's test
command is the one CI runs, and the README's eval example works."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import EXAMPLES, REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
_CODE = re.compile(r"`[^`\n]*`")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _prose(text: str) -> str:
    """The text without code blocks and code spans: a link-like thing in code is not a link."""
    return _CODE.sub("", _FENCE.sub("", text))


def _anchors(path: Path) -> set[str]:
    """The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to hyphens, -1, -2 for
    repeats."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", _FENCE.sub("", path.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", _CODE.sub(lambda m: m.group(0)[1:-1], heading).lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _dead_links(page: Path) -> list[str]:
    dead = []
    for target in _LINK.findall(_prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ... are not checked (no network)
            continue
        file, _, anchor = target.partition("#")
        linked = (page.parent / file).resolve() if file else page
        if not linked.exists():
            dead.append(f"{target} (no such file)")
        elif anchor and linked.suffix == ".md" and anchor not in _anchors(linked):
            dead.append(f"{target} (no heading #{anchor} in {linked.name})")
    return dead


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(REPO).as_posix() for p in PAGES])
def test_no_dead_relative_links(page):
    assert _dead_links(page) == []


def test_the_link_check_finds_a_dead_link_and_a_dead_anchor(tmp_path):
    (tmp_path / "a.md").write_text("# Title\n\n## Two words\n\n[ok](#two-words) [ok](b.md) `[code](nowhere.md)`\n"
                                   "[gone](missing.md) [bad anchor](#three-words) [web](https://example.org/x)\n")
    (tmp_path / "b.md").write_text("# B\n")
    assert _dead_links(tmp_path / "a.md") == ["missing.md (no such file)", "#three-words (no heading #three-words in a.md)"]


def test_every_docs_page_is_linked_from_the_readme():
    readme = (REPO / "README.md").read_text()
    unlinked = [p.name for p in (REPO / "docs").glob("*.md") if f"(docs/{p.name})" not in readme
                and f"(docs/{p.name}#" not in readme]
    assert unlinked == []


def test_the_readme_stays_short_and_its_test_command_is_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    blocks = re.findall(r"^```bash\n(.*?)^```", readme, re.S | re.M)
    [test_command] = [b.strip() for b in blocks if "python -m pytest" in b]
    assert test_command in (REPO / ".ci" / "run").read_text()
    [install] = [b.strip() for b in blocks if b.startswith("pip install -e .")]
    # the examples go to a collection of their own, and the question is asked of it
    assert "articlebot ingest examples/articles --collection examples" in install
    assert re.search(r'articlebot ask "[^"]+" --collection examples$', install)
    assert "../shared" not in readme   # a user has no shared/ folder


def test_the_readme_eval_example_runs_on_the_example_articles(capsys):
    import json

    from bot.cli import main

    assert main(["ingest", "--quiet", str(EXAMPLES), "--collection", "examples"]) == 0
    assert "articlebot eval examples/questions.jsonl --collection examples" in (REPO / "README.md").read_text()
    assert main(["eval", str(REPO / "examples" / "questions.jsonl"), "--json", "--collection", "examples"]) == 0
    metrics = json.loads(capsys.readouterr().out)["metrics"]
    assert metrics["answerable"] == 5 and metrics["answer_recall@5"] == 1.0
    assert metrics["abstention_out_of_corpus"] == 1.0
