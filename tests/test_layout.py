"""The house by role (docs/development.md): the ground floors never import the top one, packages meet only at public
names, `bot/` holds the engine's face, its settings and rooms by role, and no module outgrows one responsibility."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "ingest", "vectorstore", "prompts")
MAX_LINES = 400


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, imported names, line) of every import in a file, relative ones resolved against its package."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = list(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, [], node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found.append((module, [alias.name for alias in node.names], node.lineno))
    return found


def _sources(*tops: str) -> list[Path]:
    return sorted(p for top in tops for p in (REPO / top).rglob("*.py"))


def test_ingest_and_vectorstore_never_import_bot():
    reaching_up = [
        f"{p.relative_to(REPO)}:{line} imports {module}"
        for p in _sources("ingest", "vectorstore")
        for module, _, line in _imports(p)
        if module == "bot" or module.startswith("bot.")
    ]
    assert reaching_up == []


def test_no_package_imports_another_packages_private_names():
    private = []
    for p in _sources(*PACKAGES):
        own = p.relative_to(REPO).parts[0]
        for module, names, line in _imports(p):
            top = module.split(".")[0]
            if top not in PACKAGES or top == own:
                continue
            hidden = [part for part in module.split(".") if part.startswith("_") and part != "__init__"]
            hidden += [name for name in names if name.startswith("_")]
            if hidden:
                private.append(f"{p.relative_to(REPO)}:{line} takes {module} {hidden}")
    assert private == []


# a room of bot/ -> the folders and modules that may import it (docs/development.md's map, each room's docstring)
IMPORTED_ONLY_BY = {
    "bot.cli": ("bot/cli",),
    "bot.telegram": ("bot/telegram", "bot/cli"),
    "bot.learning": ("bot/learning", "bot/cli"),
    "bot.engine": ("bot/cli", "bot/telegram", "bot/learning"),
}


def test_rooms_are_imported_only_from_above():
    """The front ends and learning sit on top of the engine's face, which sits on top of its workings."""
    wrong = [
        f"{p.relative_to(REPO)}:{line} imports {module}"
        for p in _sources("bot")
        for module, names, line in _imports(p)
        for target in [module, *(f"{module}.{name}" for name in names)]
        for room, importers in IMPORTED_ONLY_BY.items()
        if (target == room or target.startswith(room + "."))
        and not str(p.relative_to(REPO)).startswith(importers)
    ]
    assert wrong == []


def test_bot_top_holds_only_the_engines_face_settings_and_rooms():
    modules = {p.name for p in (REPO / "bot").glob("*.py")}
    assert modules == {"__init__.py", "engine.py", "answer.py", "settings.py"}
    rooms = {p.name for p in (REPO / "bot").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert {"answering", "cli", "telegram", "learning"} <= rooms
    for room in rooms:
        assert ast.get_docstring(ast.parse((REPO / "bot" / room / "__init__.py").read_text())), room


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(REPO)): n
        for p in _sources("bot", "ingest", "vectorstore")
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}
