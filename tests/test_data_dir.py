"""Where the store lives: one data home per user whatever folder a command runs in, and an old ./data still found."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from conftest import REPO

ARTICLE = """Ferry service to Gullholm resumes after storm repairs

Northwind Wire Network

The ferry between Port Ansel and the island of Gullholm sails again from Monday, the operator Saltmere Lines said,
after three weeks of repairs to the landing stage that a January storm had torn loose.

Saltmere Lines said the repairs cost 1.2 million crowns and that the timetable is unchanged.
"""


def _cli(args, cwd, tmp_path, model_dir, **extra):
    """The CLI as a user runs it: no ARTICLEBOT_DATA_DIR, a home of its own (HOME and XDG_DATA_HOME)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARTICLEBOT_", "XDG_"))}
    env.update(HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "xdg"), PYTHONPATH=str(REPO),
               ARTICLEBOT_MODEL_DIR=str(model_dir), **extra)
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def _folder(tmp_path, name):
    path = tmp_path / name
    path.mkdir()
    return path


@pytest.mark.slow  # three articlebot processes
def test_cli_runs_from_two_folders_find_the_same_store_in_the_user_data_dir(tmp_path, model_dir):
    here, there = _folder(tmp_path, "here"), _folder(tmp_path, "there")
    (here / "ferry.txt").write_text(ARTICLE)
    home = tmp_path / "xdg" / "articlebot"

    added = _cli(["ingest", "ferry.txt"], here, tmp_path, model_dir)
    assert added.returncode == 0, added.stderr
    listed = _cli(["sources"], there, tmp_path, model_dir)
    assert listed.returncode == 0, listed.stderr
    assert "Ferry service to Gullholm resumes" in listed.stdout
    assert listed.stdout.rstrip().endswith(f"1 article in {home}")
    assert listed.stderr == ""                                    # nothing to explain: the default was used
    health = _cli(["health", "--quick"], there, tmp_path, model_dir)
    assert health.returncode == 0 and f"in {home} has " in health.stdout, health.stdout
    # neither folder got a ./data of its own
    assert not (here / "data").exists() and not (there / "data").exists()
    assert (home / "chroma").is_dir()


@pytest.mark.slow
def test_an_empty_store_says_where_it_looked(tmp_path, model_dir):
    elsewhere = _folder(tmp_path, "elsewhere")
    asked = _cli(["ask", "When does the ferry sail again?"], elsewhere, tmp_path, model_dir)
    assert asked.returncode == 0, asked.stderr
    assert "I have no articles yet" in asked.stdout
    assert f"(looked in 'default' in {tmp_path / 'xdg' / 'articlebot'};" in asked.stdout
    listed = _cli(["sources"], elsewhere, tmp_path, model_dir)
    assert listed.stdout.startswith(f"No articles yet in {tmp_path / 'xdg' / 'articlebot'}.")


@pytest.mark.slow  # three articlebot processes
def test_an_old_data_store_in_the_working_directory_is_found_and_reported(tmp_path, model_dir):
    project = _folder(tmp_path, "project")
    (project / "ferry.txt").write_text(ARTICLE)
    # a store made by an earlier version, whose default data dir was ./data
    made = _cli(["ingest", "ferry.txt"], project, tmp_path, model_dir, ARTICLEBOT_DATA_DIR="data")
    assert made.returncode == 0, made.stderr

    listed = _cli(["sources"], project, tmp_path, model_dir)
    assert listed.returncode == 0, listed.stderr
    assert "Ferry service to Gullholm resumes" in listed.stdout
    assert listed.stdout.rstrip().endswith(f"1 article in {project / 'data'}")
    [note] = listed.stderr.splitlines()
    assert note.startswith("articlebot: using the store in ./data (found in the working directory)")
    assert str(tmp_path / "xdg" / "articlebot") in note
    assert not (tmp_path / "xdg" / "articlebot").exists()         # the user data dir was not created beside it

    # an explicit ARTICLEBOT_DATA_DIR wins, with nothing to report
    explicit = _cli(["sources"], project, tmp_path, model_dir, ARTICLEBOT_DATA_DIR=str(tmp_path / "other"))
    assert explicit.stderr == "" and explicit.stdout.startswith("No articles yet in")
