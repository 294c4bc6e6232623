#!/usr/bin/env bash
# Static checks over the product's packages: ruff's lint, ruff's formatter (check only) and mypy, as configured in
# pyproject.toml. Exits non-zero when any of them finds something; runs all three either way.
set -uo pipefail
cd "$(dirname "$0")/.."
PACKAGES=(bot ingest vectorstore)
status=0
echo "== ruff check";         ruff check "${PACKAGES[@]}"           || status=1
echo "== ruff format --check"; ruff format --check "${PACKAGES[@]}" || status=1
echo "== mypy";               mypy                                 || status=1
exit $status
