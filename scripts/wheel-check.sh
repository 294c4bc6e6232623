#!/usr/bin/env bash
# Non-editable install check (CI runs it after the test suite): builds a wheel as an operator would, installs it into
# a fresh virtual environment, and runs it from a folder outside the source tree, so nothing can be imported from
# the checkout. Then `articlebot --help`, and the README's first question over examples/articles in a temporary data
# dir, expecting the README's answer with its citation. The editable install (`pip install -e .`) used by the tests
# and the README puts the tree on the path and hides a module, subpackage or data file the wheel leaves out.
#
#   scripts/wheel-check.sh        # PYTHON=... picks the interpreter whose site-packages hold the dependencies
#
# About 20 s on 2 cores: the wheel is built from a copy of the files git knows (tracked and untracked, not ignored:
# no stale build/ or egg-info), with pip's cache for the build backend; the venv borrows the dependencies already
# installed instead of downloading them (the bundled model's weights included); the model is converted in the
# temporary data dir like on a first start. Everything is removed afterwards.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PYTHON=${PYTHON:-python}   # the one `.ci/run` tests with
WANT="86 million crowns"   # the README's answer, as examples/articles/lantern-bridge-reopens.md gives it
WORK=$(mktemp -d "${TMPDIR:-/tmp}/articlebot-wheel.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
STEP=setup
fail() { echo "FAIL [wheel-check: $STEP]: $*" >&2; exit 1; }
expect() {   # expect TEXT PATTERN WHAT: TEXT must contain PATTERN (grep -E)
  grep -Eq -- "$2" <<<"$1" || { printf '%s\n' "$1" | tail -20 >&2; fail "$3: no /$2/ in the output above"; }
}
step() { STEP=$1; echo "=== wheel-check: $1"; }

# The README's first question: the one its opening example and its set-up command ask, of the examples' collection.
Q=$(sed -n 's/^\$ articlebot ask "\(.*\)" --collection examples$/\1/p' "$ROOT/README.md" | head -1)
[ -n "$Q" ] || fail "no \`\$ articlebot ask \"...\" --collection examples\` line in README.md"

step "build the wheel"
mkdir "$WORK/src" "$WORK/dist"
# --ignore-failed-read: a tracked file deleted in the working tree is simply not there, as in a commit without it
(cd "$ROOT" && git ls-files -coz --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) \
  | tar -C "$WORK/src" -xf -
"$PYTHON" -m pip wheel -q --no-deps -w "$WORK/dist" "$WORK/src" > "$WORK/build.log" 2>&1 \
  || { tail -20 "$WORK/build.log" >&2; fail "pip wheel"; }
WHEEL=$(ls "$WORK"/dist/articlebot-*.whl)
# Every module of the packaged folders must be in it, whether or not the run below imports it.
"$PYTHON" - "$WHEEL" "$WORK/src" <<'EOF' || fail "modules missing from the wheel"
import sys, zipfile
from pathlib import Path
wheel, src = zipfile.ZipFile(sys.argv[1]).namelist(), Path(sys.argv[2])
tree = {p.relative_to(src).as_posix() for top in ("bot", "ingest", "vectorstore", "prompts") for p in (src / top).rglob("*.py")}
missing = sorted(tree - set(wheel))
print(f"{Path(sys.argv[1]).name}: {len(wheel)} files, {len(tree)} modules in the tree, {len(missing)} missing")
for name in missing:
    print("  missing:", name)
sys.exit(1 if missing else 0)
EOF

step "install it into a fresh venv"
VENV=$WORK/venv
"$PYTHON" -m venv "$VENV"
SITE=$("$VENV/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")
# The dependencies as plain path entries, not --system-site-packages: that would also run the .pth files there,
# and the editable install's .pth adds a finder that serves bot.* from the checkout, which is what must not happen.
"$PYTHON" -c "import sysconfig; print(*dict.fromkeys(sysconfig.get_paths()[k] for k in ('purelib', 'platlib')), sep='\n')" \
  > "$SITE/articlebot-wheel-check-deps.pth"
# --force-reinstall: pip sees the editable articlebot on that path; it installs the wheel here, leaving that alone.
"$VENV/bin/python" -m pip install -q --no-deps --no-index --force-reinstall "$WHEEL" > "$WORK/install.log" 2>&1 \
  || { tail -20 "$WORK/install.log" >&2; fail "pip install of the wheel"; }

# From here on: outside the tree, with a clean environment (no PYTHONPATH, no OPENAI_*, no .env).
cd "$WORK"
run() { env -i PATH="$VENV/bin:/usr/bin:/bin" HOME="$HOME" LANG=C.UTF-8 PYTHONNOUSERSITE=1 \
  ARTICLEBOT_DATA_DIR="$WORK/data" "$@"; }

step "the product comes from the venv"
out=$(run python -c "import bot, ingest, vectorstore, prompts; print(*(m.__file__ for m in (bot, ingest, vectorstore, prompts)))")
for f in $out; do
  case $f in "$SITE"/*) ;; *) fail "$f is not in the venv's site-packages ($SITE)";; esac
done
echo "bot from $(dirname "$(cut -d' ' -f1 <<<"$out")")"

step "articlebot --help"
out=$(run articlebot --help 2>&1) || { echo "$out" >&2; fail "articlebot --help exited non-zero"; }
expect "$out" "^usage: articlebot" "articlebot --help"

step "ingest examples/articles and ask the README's question"
out=$(run articlebot ingest "$ROOT/examples/articles" --collection examples 2>&1) \
  || { echo "$out" >&2; fail "articlebot ingest exited non-zero"; }
expect "$out" "[1-9][0-9]* ingested" "ingest report"
out=$(run articlebot ask "$Q" --collection examples 2>&1) || { echo "$out" >&2; fail "articlebot ask exited non-zero"; }
expect "$out" "$WANT.*\[1\]" "the README's answer with its citation"
expect "$out" "^\[1\] Lantern Bridge reopens" "the cited source"
printf '%s\n' "$out" | head -1
# Nothing of the product may have been read from the checkout along the way.
out=$(run python -c "import sys, bot.cli, bot.telegram, vectorstore.embeddings, ingest.pipeline; \
print(*sorted({m.__file__ for n, m in sys.modules.items() if n.split('.')[0] in ('bot', 'ingest', 'vectorstore', 'prompts')}), sep='\n')")
if grep -v "^$SITE/" <<<"$out"; then fail "the modules above were imported from outside the venv"; fi
echo "wheel-check: ok"
