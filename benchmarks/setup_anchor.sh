#!/usr/bin/env bash
# Create .venv-anchor: the newest MLflow (full package, server included) in its own venv,
# so the anchor's dependencies never touch ours. Idempotent: a second run only checks.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ANCHOR_VENV:-$ROOT/.venv-anchor}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV/.anchor-installed"

if [[ -f "$STAMP" ]] && "$VENV/bin/python" -c "import mlflow, mlflow.server" 2>/dev/null; then
    echo "anchor: $("$VENV/bin/python" -c 'import mlflow; print("mlflow", mlflow.__version__)') in $VENV"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi

# uv is much faster; fall back to pip when it is not around.
UV=""
if [[ -x "$ROOT/.venv/bin/uv" ]]; then
    UV="$ROOT/.venv/bin/uv"
elif command -v uv >/dev/null 2>&1; then
    UV="$(command -v uv)"
fi

if [[ -n "$UV" ]]; then
    "$UV" pip install --python "$VENV/bin/python" --quiet --compile-bytecode --upgrade mlflow
else
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --compile-bytecode --upgrade mlflow
fi

"$VENV/bin/python" -c "import mlflow, mlflow.server; print('anchor: mlflow', mlflow.__version__)"
touch "$STAMP"
