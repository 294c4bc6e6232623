#!/usr/bin/env bash
# How tests/data/store-47258e2 was made: the example articles ingested by articlebot as of commit 47258e2, the last
# version before collections (one Chroma collection `articles`, its BM25 index in bm25/articles). tests/test_migration.py
# opens a copy of it with today's code. Run from the repository root; it needs the git history.
set -euo pipefail
ROOT=$(pwd)
OLD=$(mktemp -d)
trap 'rm -rf "$OLD"' EXIT
git archive 47258e2 | tar -x -C "$OLD"
rm -rf "$ROOT/tests/data/store-47258e2"
(cd "$OLD" && env PYTHONPATH="$OLD" ARTICLEBOT_DATA_DIR="$ROOT/tests/data/store-47258e2" ARTICLEBOT_MODEL_DIR="$OLD/models" \
  python -m bot.cli ingest examples/articles -q)
rm -f "$ROOT/tests/data/store-47258e2/articlebot.lock" "$ROOT/tests/data/store-47258e2/articlebot.pid"
