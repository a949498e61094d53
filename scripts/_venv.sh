# Sourced by scripts/demo and scripts/test: make .venv with Python 3.11+ and install SaveIt.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -x .venv/bin/python ]; then
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      "$candidate" -m venv .venv
      break
    fi
  done
  [ -x .venv/bin/python ] || { echo "SaveIt needs Python 3.11 or newer" >&2; exit 1; }
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[${SAVEIT_EXTRAS:-test}]"
