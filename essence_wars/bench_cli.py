"""``essence-wars bench``: the peer benchmarks (``benchmarks/run.py``) from the command line.

The harness lives in the source checkout, not in the package (it needs the
PyO3 baseline crate and installs the original release into
``benchmarks/.cache/``), so this subcommand finds ``benchmarks/run.py`` next
to the package and runs it with the same interpreter::

    essence-wars bench --quick     # under two minutes
    essence-wars bench             # the full run
    essence-wars bench --smoke     # seconds: checks that the harness runs

Options are those of ``python benchmarks/run.py --help``. Importing this
module registers the subcommand with :mod:`essence_wars.cli`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

from essence_wars.cli import register

#: ``benchmarks/run.py`` of the checkout this package was installed from (editable installs).
RUN_PY = Path(__file__).resolve().parent.parent / "benchmarks" / "run.py"


def find_run_py() -> Optional[Path]:
    """The benchmark harness, or None when the package is not in a source checkout."""
    return RUN_PY if RUN_PY.is_file() else None


def _configure(p: argparse.ArgumentParser) -> None:
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the under-two-minutes mode")
    mode.add_argument("--smoke", action="store_true", help="seconds: checks that the harness runs")
    p.add_argument("--out", help="directory for the JSON and PNG (default benchmarks/results)")
    p.add_argument("--no-results-md", action="store_true", help="do not update benchmarks/RESULTS.md")
    p.add_argument("--skip", help="comma-separated: vec_env, pyo3, original, gym")
    p.add_argument("--ns", help="comma-separated vector sizes (overrides the mode's)")
    p.add_argument("--seconds", type=float, help="measured window per measurement")
    p.add_argument("--repeats", type=int, help="interleaved rounds (best kept)")
    p.add_argument("--no-build", action="store_true", help="never build the PyO3 baseline or pip install the original")
    p.add_argument("--render", metavar="JSON", help="measure nothing: rewrite RESULTS.md's table from a saved JSON")


def _forwarded(args: argparse.Namespace) -> List[str]:
    argv: List[str] = []
    for flag in ("quick", "smoke", "no_results_md", "no_build"):
        if getattr(args, flag):
            argv.append("--" + flag.replace("_", "-"))
    for opt in ("out", "skip", "ns", "seconds", "repeats", "render"):
        value = getattr(args, opt)
        if value is not None:
            argv += ["--" + opt, str(value)]
    return argv


def _run(args: argparse.Namespace) -> int:
    run_py = find_run_py()
    if run_py is None:
        raise RuntimeError(
            "the benchmarks live in the source checkout (benchmarks/run.py), which this installation does not "
            "have; clone the repository, `pip install -e .` it, and run `essence-wars bench` from there"
        )
    return subprocess.call([sys.executable, str(run_py), *_forwarded(args)])


register("bench", "peer benchmarks: vec env vs PyO3-style bindings, the original release, Gymnasium "
         "(benchmarks/run.py)", _configure, _run)
