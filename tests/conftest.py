"""Shared fixtures. The package must be built first: ``pip install -e .``
(or ``cargo build --release`` in rust_core/ and ``python build.py``)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
try:  # an installed package (pip install . / -e . / a wheel) comes first
    import essence_wars._native  # noqa: F401
except ImportError:  # else the source tree, built in place with python build.py
    sys.path.insert(0, str(ROOT))

import essence_wars  # noqa: E402
from essence_wars import core  # noqa: E402


@pytest.fixture(scope="session")
def decks() -> list:
    """The preset deck names (never hard-coded: the content may change)."""
    names = core.list_decks()
    assert names, "the library has no preset deck"
    return names


@pytest.fixture(scope="session")
def deck_pair(decks) -> tuple:
    return decks[0], decks[1 % len(decks)]


@pytest.fixture
def game(deck_pair):
    g = core.Game(seed=7, deck0=deck_pair[0], deck1=deck_pair[1])
    yield g
    g.close()


def cargo_target_dir() -> Path:
    env = os.environ.get("CARGO_TARGET_DIR")
    return Path(env) if env else ROOT / "rust_core" / "target"


@pytest.fixture(scope="session")
def static_lib() -> Path:
    """The Rust static library, built if needed (cargo is quick when it is fresh)."""
    cargo = shutil.which("cargo")
    if cargo is not None:
        subprocess.run([cargo, "build", "--release", "--lib", "--manifest-path",
                        str(ROOT / "rust_core" / "Cargo.toml")], check=True, capture_output=True)
    name = "essence_wars.lib" if sys.platform == "win32" else "libessence_wars.a"
    lib = cargo_target_dir() / "release" / name
    if not lib.exists():
        pytest.skip(f"{lib} not built and cargo not available")
    return lib


def play_random(game, seed: int, max_steps: int = 10_000) -> int:
    """Plays random actions until the end; returns the number of steps."""
    steps = 0
    while not game.is_done() and steps < max_steps:
        game.step(game.random_action(seed + steps))
        steps += 1
    return steps
