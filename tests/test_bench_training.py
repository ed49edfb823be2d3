"""The training-throughput benchmark (``benchmarks/bench_training.py``) measures and reports.

Not a timed test: tiny budgets, and nothing here checks a speed (the
benchmark itself is the proof of speed, run on a quiet machine).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks" / "bench_training.py"
KEYS = ("family", "contender", "config", "steps_per_s", "rollout_steps_per_s", "rollout_s_per_iteration",
        "update_s_per_iteration", "timed_iterations", "timed_steps", "timed_seconds", "iteration_seconds",
        "steps_per_s_with_warmup", "wall_seconds_with_startup")

pytest.importorskip("torch")


def load_bench():
    if "bench_training" in sys.modules:
        return sys.modules["bench_training"]
    spec = importlib.util.spec_from_file_location("bench_training", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_training"] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return load_bench()


@pytest.fixture
def tiny(bench):
    return bench.Workload(num_envs=8, num_steps=16, num_minibatches=4, update_epochs=1, hidden=32, layers=1,
                          warmup=1, iterations=2, sb3_iterations=1)


def check_row(row, family, timed_iterations, samples):
    for key in KEYS:
        assert key in row, key
    assert row["family"] == family
    for key in ("steps_per_s", "rollout_steps_per_s", "steps_per_s_with_warmup"):
        assert math.isfinite(row[key]) and row[key] > 0, (key, row[key])
    assert row["rollout_s_per_iteration"] > 0 and row["update_s_per_iteration"] > 0
    assert row["timed_iterations"] == timed_iterations
    assert row["timed_steps"] == timed_iterations * samples
    assert len(row["iteration_seconds"]) == timed_iterations + 1  # + the warm-up iteration


def test_ours_measures_timed_iterations(bench, tiny, tmp_path):
    row = bench.timed(bench.measure_ours, tiny, "batch", 0, 1, run_dir=str(tmp_path))
    check_row(row, "ours", 2, 128)
    assert row["contender"] == "ours (batch, 1t)"
    assert len(row["load_before"]) == 3 and len(row["load_after"]) == 3


def test_sb3_maskable_ppo_measures_timed_iterations(bench, tiny):
    pytest.importorskip("sb3_contrib")
    row = bench.measure_sb3(tiny, "dummy", 4, 1)
    check_row(row, "sb3", 1, 128)
    assert row["n_steps"] == 32 and "DummyVecEnv x4" in row["contender"]
    with pytest.raises(ValueError, match="must divide"):
        bench.measure_sb3(tiny, "dummy", 3, 1)


def test_specs_ratios_and_markdown(bench, tiny):
    assert bench.parse_spec("vec:2:1", "ours") == {"env": "vec", "workers": 2, "threads": 1}
    assert bench.parse_spec("dummy:512:2", "sb3") == {"vec": "dummy", "n_envs": 512, "threads": 2}
    for bad, family in (("batch:1:1", "ours"), ("gpu:0:1", "ours"), ("dummy:8", "sb3")):
        with pytest.raises(ValueError):
            bench.parse_spec(bad, family)
    rows = []
    for family, cfg, sps in (("ours", {"env": "batch", "workers": 0, "threads": 1}, 900.0),
                             ("ours", {"env": "batch", "workers": 0, "threads": 2}, 1200.0),
                             ("sb3", {"vec": "dummy", "n_envs": 8, "threads": 1}, 300.0)):
        row = bench._result(family, cfg, tiny, [1.0, 128 / sps], [0.5, 64 / sps], 1, {})
        row.update(load_before=[1.0, 1.0, 1.0], load_after=[1.0, 1.0, 1.0], cpu_busy=0.5, round=0)
        rows.append(row)
    best = bench.best_rows(rows)
    assert [r["family"] for r in best] == ["ours", "ours", "sb3"]
    ratios = bench.ratios(best)
    assert ratios[0]["comparison"] == "best vs best" and ratios[0]["ratio"] == pytest.approx(4.0)
    assert [q["comparison"] for q in ratios] == ["best vs best", "1 torch thread each"]
    assert ratios[1]["ratio"] == pytest.approx(3.0)
    report = {"date": "2000-01-01", "mode": "quick", "command": "x", "started": "s", "elapsed_s": 1.0,
              "load_start": [1, 1, 1], "load_end": [1, 1, 1], "background_busy_start": 0.1,
              "background_busy_end": 0.1, "rounds": 1, "workload": bench.asdict(tiny),
              "machine": {"cpu": "cpu", "logical_cores": 2, "usable_cores": 2, "versions": {"python": "3"}},
              "results": rows, "errors": [], "best": best, "ratios": ratios}
    text = bench.markdown(report)
    assert "**4.0×**" in text and "ours (batch, 2t)" in text


def test_a_run_where_every_contender_fails_writes_nothing(bench, tmp_path, monkeypatch, capsys):
    # e.g. the package not installed: the last good JSON and RESULTS.md block must survive
    def broken(*args, **kwargs):
        raise ModuleNotFoundError("No module named 'agents'")

    written = []
    monkeypatch.setattr(bench, "measure_ours", broken)
    monkeypatch.setattr(bench, "update_results_md", written.append)
    code = bench.main(["--ours", "batch:0:1", "--sb3", "", "--rounds", "1", "--warmup", "0", "--iterations", "1",
                       "--out", str(tmp_path)])
    assert code == 1
    assert written == [] and list(tmp_path.iterdir()) == []
    assert "every contender failed" in capsys.readouterr().err


def test_results_md_keeps_one_block_per_width(bench, tmp_path):
    md = tmp_path / "RESULTS.md"
    md.write_text(f"# Peers\n\nprose\n\n{bench.BEGIN}\nold 256\n{bench.END}\n\nafter\n")
    bench.update_results_md("new 64", md, hidden=64)
    bench.update_results_md("new 256", md)
    bench.update_results_md("newer 64", md, hidden=64)
    text = md.read_text()
    begin64, end64 = bench.markers(64)
    assert text.count(begin64) == 1 and text.count(bench.BEGIN) == 1
    assert "new 256" in text and "newer 64" in text and "old 256" not in text and "new 64\n" not in text
    assert text.index(bench.END) < text.index(begin64) < text.index("newer 64") < text.index(end64) < text.index("after")
    with pytest.raises(SystemExit):
        bench.main(["--hidden", "0", "--ours", "", "--sb3", ""])
