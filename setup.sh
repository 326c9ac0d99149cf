#!/usr/bin/env bash
# Creates .venv and installs nerqa with its test, benchmark and docs tools. Torch comes first and pinned, so pip
# never resolves a multi-GB CUDA build on a CPU machine. To take torch from another index
# (e.g. PyTorch's CPU wheels), set TORCH_INDEX_URL.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
    .venv/bin/pip install --quiet ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==2.13.0"
fi
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[test,bench,docs,scale,hf,serve]"
# Label Studio's ML backend SDK without its 2020 pins (Flask 1.1.2, the `attr` package): see pyproject.toml.
.venv/bin/pip install --quiet --disable-pip-version-check --no-deps "label-studio-ml==1.0.9"
