#!/usr/bin/env bash
# `make demo`: the kit end to end on the offline data, on the CPU, in a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
echo "== 1. offline data (data/shapes32, data/seasons)"
$PY data/make_offline_data.py
