"""The peer-benchmark harness (``benchmarks/run.py``) runs and writes its JSON.

Not a timed test: ``--smoke`` uses windows of a few milliseconds and never
builds the PyO3 baseline or installs the original release (a comparison
without them is reported "not available"); nothing here checks a speed.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "benchmarks" / "run.py"


def load_harness():
    if "bench_run" in sys.modules:
        return sys.modules["bench_run"]
    spec = importlib.util.spec_from_file_location("bench_run", RUN_PY)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_run"] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def smoke_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    results_md = ROOT / "benchmarks" / "RESULTS.md"
    before = results_md.read_text() if results_md.exists() else None
    proc = subprocess.run([sys.executable, str(RUN_PY), "--smoke", "--out", str(out), "--no-results-md"],
                          capture_output=True, text=True, timeout=600, cwd=str(ROOT))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    after = results_md.read_text() if results_md.exists() else None
    assert before == after, "--no-results-md must leave RESULTS.md alone"
    files = sorted(out.glob("*-smoke.json"))
    assert len(files) == 1, f"expected one JSON in {out}, got {[f.name for f in out.iterdir()]}"
    return json.loads(files[0].read_text()), out, proc.stdout


def test_smoke_run_writes_json(smoke_report):
    report, _out, stdout = smoke_report
    for key in ("date", "command", "machine", "plan", "results", "best", "headline", "latency", "available",
                "unavailable", "load_start", "load_end", "workload"):
        assert key in report, key
    assert report["plan"]["mode"] == "smoke"
    assert report["machine"]["cpu"] and report["machine"]["versions"]["python"]
    assert "--smoke" in report["command"]
    assert report["results"], "no measurement was recorded"
    for row in report["results"]:
        assert row["steps_per_s"] > 0, row
        assert len(row["load_before"]) == 3 and len(row["load_after"]) == 3, row
        assert row["section"] in ("throughput", "game_length", "single"), row
    contenders = {r["contender"] for r in report["results"]}
    assert "core.Batch (floor)" in contenders and "cffi Game" in contenders
    if report["available"].get("vec_env"):
        assert any(c.startswith("vec_env w=") for c in contenders)
    # every comparison is either measured or says why not
    for key in ("vec_env", "gymnasium", "pyo3", "original"):
        assert key in report["available"]
        if not report["available"][key]:
            assert report["unavailable"][key]
    assert [h["key"] for h in report["headline"]] == ["original", "pyo3", "gym_async"]
    for h in report["headline"]:
        assert h["status"] in ("met", "missed", "not available")
        if h["status"] != "not available":
            assert h["ratio"] > 0 and h["goal"] > 0
    assert "observe (one game)" in report["latency"]
    assert report["latency"]["observe (one game)"]["cffi"]["ns"] > 0
    assert "results:" in stdout


def test_smoke_run_renders_markdown(smoke_report, tmp_path):
    report, out, _ = smoke_report
    harness = load_harness()
    text = harness.markdown(report)
    assert "### Headline ratios" in text and "load" in text
    md = tmp_path / "RESULTS.md"
    md.write_text(f"# Title\n\nprose stays\n\n{harness.BEGIN}\nold table\n{harness.END}\n\ntrailer stays\n")
    harness.update_results_md(text, md)
    new = md.read_text()
    assert "prose stays" in new and "trailer stays" in new and "old table" not in new
    assert "### Headline ratios" in new
    if report.get("plot"):
        assert (out / report["plot"]).stat().st_size > 0


def test_sampler_draws_legal_actions_uniformly():
    harness = load_harness()
    rng = np.random.default_rng(3)
    for num_envs, width in ((8, 256), (600, 256), (300, 542)):  # both methods (small and packed)
        masks = rng.random((num_envs, width)) < 0.05
        masks[:, 7] = True
        masks[0] = False  # a row with no legal action gets the fallback
        sampler = harness.Sampler(num_envs, width, seed=1, fallback=width - 1)
        draws = np.stack([sampler(masks) for _ in range(400)])
        assert (draws[:, 0] == width - 1).all()
        assert masks[np.arange(1, num_envs), draws[:, 1:]].all(), "an illegal action was drawn"
        counts = np.bincount(draws[:, 1], minlength=width)[masks[1]]
        expected = 400 / masks[1].sum()
        assert counts.min() > expected * 0.3 and counts.max() < expected * 2.0, counts


def test_bench_subcommand_registered():
    from essence_wars import bench_cli, cli

    assert "bench" in cli.SUBCOMMANDS
    parser = cli.build_parser()
    args = parser.parse_args(["bench", "--quick", "--skip", "original", "--no-results-md"])
    assert bench_cli._forwarded(args) == ["--quick", "--no-results-md", "--skip", "original"]
    assert bench_cli.find_run_py() == RUN_PY
