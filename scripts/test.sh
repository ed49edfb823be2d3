#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs
# every test: the Rust crate's unit and property tests, then the Python suite
# (bindings, envs, agents, the C example, the header check).
# Usage: bash scripts/test.sh            (fails when any test fails)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh test

echo "== cargo test (rust_core)"
cargo test --manifest-path rust_core/Cargo.toml --quiet

echo "== pytest"
python -m pytest -q tests
