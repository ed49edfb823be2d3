#!/usr/bin/env bash
# Builds the PyO3 baseline offline and copies the extension to
# benchmarks/.cache/pyo3_baseline/pyo3_baseline.so (or to $1).
#
#   apt-get install -y librust-pyo3-dev   # once: PyO3 0.17 + rayon in /usr/share/cargo/registry
#   benchmarks/pyo3_baseline/build.sh [OUT_DIR]
#
# PYO3_PYTHON picks the interpreter to build for (default: python3 on PATH).
# Benchmark-only: this module is never part of the essence_wars package.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${1:-$here/../.cache/pyo3_baseline}"
if [ ! -d /usr/share/cargo/registry/pyo3-0.17.3 ]; then
    echo "build.sh: PyO3 0.17 is not in /usr/share/cargo/registry; run: apt-get install -y librust-pyo3-dev" >&2
    exit 3
fi
export PYO3_PYTHON="${PYO3_PYTHON:-$(command -v python3)}"
cd "$here"
cargo build --release --offline --quiet
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cp target/release/libpyo3_baseline.so "$out/pyo3_baseline.so.tmp"
mv "$out/pyo3_baseline.so.tmp" "$out/pyo3_baseline.so"
echo "$out/pyo3_baseline.so"
