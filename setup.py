"""Packaging for essence-wars: builds the Rust crate, then the cffi extension.

``pip install .``, ``pip install -e .`` and ``python -m build --wheel`` all go
through here: ``build_ext`` first runs ``cargo build --release`` on
``rust_core`` (which needs a Rust toolchain, 1.70 or newer), then cffi
compiles ``essence_wars._native`` against the static library, so the wheel
is self-contained.

The version has one source: ``rust_core/Cargo.toml`` (the Rust library
reports the same string through ``ew_version()``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
CARGO_TOML = ROOT / "rust_core" / "Cargo.toml"


def cargo_version() -> str:
    """The ``version`` of the ``[package]`` table of rust_core/Cargo.toml."""
    text = CARGO_TOML.read_text(encoding="utf-8")
    package = text.split("[package]", 1)[1].split("\n[", 1)[0]
    match = re.search(r'^version\s*=\s*"([^"]+)"', package, re.MULTILINE)
    if not match:
        raise RuntimeError(f"no version in the [package] table of {CARGO_TOML}")
    return match.group(1)


def build_rust_library() -> None:
    """``cargo build --release`` of the crate (its static library is what we link)."""
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if cargo is None:
        raise RuntimeError(
            "building essence-wars needs the Rust toolchain (cargo) on PATH: see https://rustup.rs"
        )
    cmd = [cargo, "build", "--release", "--lib", "--manifest-path", str(CARGO_TOML)]
    print("running:", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


class BuildExtWithCargo(build_ext):
    """Builds the Rust static library before compiling the cffi extension."""

    def run(self) -> None:
        build_rust_library()
        super().run()


setup(
    version=cargo_version(),
    cmdclass={"build_ext": BuildExtWithCargo},
    cffi_modules=["build.py:ffibuilder"],
    zip_safe=False,
)
