"""The wheel holds the whole product: every module under the packaged folders and the data files the code reads
(the reader's models, the prompts), derived from the source tree, so a subpackage added later cannot be left out
of a non-editable install (`pip install .`, the Docker image) while the editable install used everywhere else
hides it."""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

pytestmark = pytest.mark.xdist_group("wheel")  # one worker builds the module's wheel
PACKAGED = ("bot", "ingest", "vectorstore", "prompts")
# Files the code opens at run time, beside the modules: each trained model (and its manifest) in a `models/`
# folder of any package, and the prompt templates.
MODEL_SUFFIXES = (".json", ".npz", ".bin", ".safetensors", ".onnx")
_JUNK = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
# A package that does not exist yet, as the planned moves of bot/ into packages by role will add them: nested two
# deep, with a model file in its own models/ folder.
PROBE = ("bot/_probe_role/__init__.py", "bot/_probe_role/inner/__init__.py", "bot/_probe_role/inner/scoring.py",
         "bot/_probe_role/models/adapter.npz", "bot/_probe_role/models/MANIFEST.json")


def tree_files(root: Path) -> set[str]:
    """What the wheel must hold, read from the tree: every .py under the packaged folders, every model file in a
    models/ folder, every prompt template."""
    want = set()
    for top in PACKAGED:
        for path in (root / top).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            rel = path.relative_to(root).as_posix()
            in_models = "models" in (path.parent.name, path.parent.parent.name) and path.suffix in MODEL_SUFFIXES
            if path.suffix == ".py" or in_models or (top == "prompts" and path.suffix in (".txt", ".md")):
                want.add(rel)
    return want


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """A wheel built from a copy of the tree plus the probe package. A copy, because setuptools builds in the
    source folder (build/, egg-info) and others work in this one; no build isolation, so nothing is downloaded."""
    src = tmp_path_factory.mktemp("src")
    shutil.copy2(REPO / "pyproject.toml", src)
    shutil.copy2(REPO / "README.md", src)
    for top in PACKAGED:
        shutil.copytree(REPO / top, src / top, ignore=_JUNK)
    for rel in PROBE:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(b"")
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
                    "-w", str(out), str(src)], check=True, capture_output=True, cwd=out)
    [built] = out.glob("articlebot-*.whl")
    return zipfile.ZipFile(built)


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_model_file_of_the_tree(wheel):
    want = tree_files(REPO)
    # the tree really has what the issue was about: subpackages and the reader's model files
    assert {"bot/telegram/app.py", "vectorstore/embeddings/__init__.py", "bot/answering/models/reader.json",
            "bot/answering/models/cross/cross.npz"} <= want
    assert sorted(want - set(wheel.namelist())) == []


def test_the_wheel_holds_a_new_nested_subpackage_and_its_model_files(wheel):
    assert sorted(set(PROBE) - set(wheel.namelist())) == []


def test_the_wheel_holds_nothing_outside_the_packages(wheel):
    names = wheel.namelist()
    outside = {n.split("/")[0] for n in names if not n.startswith("articlebot-")} - set(PACKAGED)
    assert outside == set()   # no tests/, benchmarks/, examples/ or build leftovers
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_the_wheel_installs_the_articlebot_command(wheel):
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    assert "articlebot = bot.cli:main" in wheel.read(entry_points).decode()


def test_the_tree_reader_finds_a_missing_module(tmp_path):
    """The expected list follows the tree: a module added anywhere below a packaged folder is expected."""
    for top in PACKAGED:
        (tmp_path / top).mkdir()
    (tmp_path / "bot" / "new_role" / "models").mkdir(parents=True)
    (tmp_path / "bot" / "new_role" / "deep.py").write_text("")
    (tmp_path / "bot" / "new_role" / "models" / "w.npz").write_bytes(b"")
    (tmp_path / "bot" / "new_role" / "notes.txt").write_text("")   # not a model, not a prompt
    assert tree_files(tmp_path) == {"bot/new_role/deep.py", "bot/new_role/models/w.npz"}
