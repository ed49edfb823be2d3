#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine, then runs
# every test: the Rust lints (cargo fmt --check, cargo clippy -D warnings; each
# skipped with a message when its tool is not installed), the Rust crate's unit
# and property tests, then the Python suite (bindings, envs, agents, the C
# example, the header check).
# Usage: bash scripts/test.sh            (fails when any test fails)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh test

# The lints need the rustfmt and clippy components (rustup component add rustfmt
# clippy); a bare cargo lacks them, and then only that lint is skipped.
if cargo fmt --version >/dev/null 2>&1; then
  echo "== cargo fmt --check (rust_core)"
  cargo fmt --manifest-path rust_core/Cargo.toml --check
else
  echo "== cargo fmt --check skipped: rustfmt is not installed (rustup component add rustfmt)"
fi
if cargo clippy --version >/dev/null 2>&1; then
  echo "== cargo clippy -D warnings (rust_core)"
  cargo clippy --manifest-path rust_core/Cargo.toml --quiet --release --all-targets -- -D warnings
else
  echo "== cargo clippy skipped: clippy is not installed (rustup component add clippy)"
fi

echo "== cargo test (rust_core)"
cargo test --manifest-path rust_core/Cargo.toml --quiet

echo "== pytest"
python -m pytest -q tests
