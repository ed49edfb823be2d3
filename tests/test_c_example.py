"""The C example compiles against the header and the static library, and runs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(sys.platform == "win32", reason="the example test drives gcc")
def test_c_example_builds_and_plays(static_lib, tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "play_random"
    libs = ["-lpthread", "-ldl", "-lm"] if sys.platform.startswith("linux") else []
    build = subprocess.run(
        [cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-I", str(ROOT / "include"),
         str(ROOT / "examples" / "c" / "play_random.c"), str(static_lib), *libs, "-o", str(exe)],
        capture_output=True, text=True,
    )
    assert build.returncode == 0, build.stderr
    run = subprocess.run([str(exe), "5", "11"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "games 5:" in run.stdout
    assert "P0:" in run.stdout  # the rendered table of the first game
    # Same seed, same output: the library is deterministic.
    again = subprocess.run([str(exe), "5", "11"], capture_output=True, text=True, timeout=120)
    assert again.stdout == run.stdout
