#!/usr/bin/env bash
# Creates a Python venv with PyTorch (CPU) for the interop check, from a local wheel, without PyPI.
#
#   bash scripts/torch-interop/setup-venv.sh [VENV=/tmp/torchvenv] [WHEEL=/opt/wheels/torch-*cp311*.whl]
#
# torch's wheel is installed with --no-deps; its pure-Python dependencies that `import torch` needs
# (typing_extensions >= 4.10 with `deprecated`, sympy, networkx, jinja2; numpy is optional) come from
# the base interpreter through --system-site-packages:
#   1. `python3` on PATH (e.g. a pyenv 3.11 that already has them), else
#   2. Debian's /usr/bin/python3 with apt packages (python3-typing-extensions from bookworm-backports:
#      bookworm's 4.4 lacks `deprecated`; bookworm's python3-sympy 1.11 is too old for torch's
#      symbolic shapes, which dim_torch.py avoids needing).
set -euo pipefail
VENV=${1:-/tmp/torchvenv}
WHEEL=${2:-$(ls /opt/wheels/torch-*-cp311-*.whl 2>/dev/null | head -n1 || true)}
[ -n "$WHEEL" ] && [ -f "$WHEEL" ] || { echo "setup-venv: no torch wheel (give its path as the 2nd argument)" >&2; exit 2; }

has_deps() { "$1" -c 'from typing_extensions import deprecated; import sympy, networkx, jinja2' >/dev/null 2>&1; }

BASE=""
for py in python3 /usr/bin/python3; do
  if command -v "$py" >/dev/null && has_deps "$py"; then BASE=$py; break; fi
done
if [ -z "$BASE" ] && [ -x /usr/bin/apt-get ] && [ "$(id -u)" = 0 ]; then
  echo "setup-venv: installing torch's pure-Python dependencies from Debian" >&2
  apt-get install -y --no-install-recommends python3-venv python3-sympy python3-networkx python3-jinja2 python3-filelock python3-fsspec python3-numpy
  apt-get install -y --no-install-recommends -t bookworm-backports python3-typing-extensions || true
  has_deps /usr/bin/python3 && BASE=/usr/bin/python3
fi
[ -n "$BASE" ] || { echo "setup-venv: no Python 3.11 with typing_extensions>=4.10, sympy, networkx, jinja2" >&2; exit 2; }

"$BASE" -m venv --system-site-packages "$VENV"
"$VENV/bin/pip" install --quiet --no-deps --no-index "$WHEEL"
"$VENV/bin/python" -c 'import torch; print("setup-venv: torch", torch.__version__, "in", __import__("sys").prefix)'
