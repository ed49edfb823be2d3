#!/usr/bin/env bash
# Installs the system packages and the Python package with the requested extras.
# Usage: bash scripts/install.sh [EXTRAS]   e.g. "test", "train", "test,train"
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"

need_apt=()
command -v cbindgen >/dev/null || need_apt+=(cbindgen)
command -v gcc >/dev/null || need_apt+=(gcc)
command -v cargo >/dev/null || need_apt+=(cargo)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "== apt-get install ${need_apt[*]}"
  if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

echo "== pip install -e .${extras:+[$extras]}"
# PyTorch: the extras "train" and "test" need it. Install the CPU build of
# torch 2.13.0 first (the project accepts torch>=2.1), so that resolving the
# extras does not fetch a multi-GB CUDA build.
if [[ ",$extras," == *",train,"* || ",$extras," == *",test,"* ]] && ! python -c "import torch" 2>/dev/null; then
  python -m pip install -q "torch==2.13.0"
fi
python -m pip install -q -e ".${extras:+[$extras]}"
