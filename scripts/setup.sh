# Sourced by serve.sh and test.sh: a virtual environment in .venv with pinned packages.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ ! -x .venv/bin/python ]; then
  PYTHON="${PYTHON:-}"
  if [ -z "$PYTHON" ]; then
    # stderr hidden: a pyenv shim of a version that is not selected prints "command not found"
    for candidate in python3.13 python3.12 python3.11 python3; do
      if command -v "$candidate" >/dev/null 2>&1 \
          && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        PYTHON="$candidate"; break
      fi
    done
  fi
  [ -n "$PYTHON" ] || { echo "Python 3.11 or newer is needed" >&2; exit 1; }
  echo "Creating .venv with $("$PYTHON" -c 'import sys; print(f"Python {sys.version.split()[0]} ({sys.executable})")')"
  "$PYTHON" -m venv .venv
else
  echo "Using .venv: $(.venv/bin/python -c 'import sys; print(f"Python {sys.version.split()[0]}")')"
fi
REQ_FILE="${1:-requirements.txt}"
STAMP=".venv/.installed-$(cat requirements*.txt | sha256sum | cut -c1-16)-$(basename "$REQ_FILE")"
if [ ! -f "$STAMP" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$REQ_FILE"
  touch "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
