"""Peer benchmarks of Essence Wars: our vector env against the designs it replaced.

    python benchmarks/run.py            # full run (about 10-15 min on 2 cores)
    python benchmarks/run.py --quick    # under two minutes, fewer sizes, shorter windows
    python benchmarks/run.py --smoke    # a few seconds: checks the harness (used by the tests)
    essence-wars bench [--quick]        # the same, from the command line tool

Every contender runs the same workload: uniformly random legal actions drawn
with NumPy from the masks every step (one vectorised sampler, the same code
for all), the step's observations and masks in hand as NumPy arrays every
step, the same decks (``argentum_control`` vs ``symbiote_aggro``, attrition),
the agent in seat 0 against a built-in random opponent that plays its turns
inside the step. "Steps" are agent steps; steps/s counts every env of a vector.

Contenders:

1. ``essence_wars.vec_env`` (shared-memory ring) with 0, 1 and 2 workers, and
   the bare ``core.Batch`` in-process as the floor it is built on.
2. ``benchmarks/pyo3_baseline``: the same ``rust_core`` behind PyO3 bindings
   shaped like the "thick Rust, thin Python" design (one call per step,
   NumPy arrays allocated and returned by copy), serial and with rayon.
3. The original Essence Wars release (``essence-wars==0.12.0`` from PyPI),
   installed into ``benchmarks/.cache/`` and run in a subprocess: its
   ``PyParallelGames`` batch loop and its ``PyGame`` loop. Its game is not
   ours (356 observation floats, 542 actions, its own decks): its numbers sit
   side by side with ours, they are not the same game.
4. Gymnasium's ``SyncVectorEnv`` and ``AsyncVectorEnv`` over our single env.

Also: a latency table (ns per observation copy-out, mask, step, clone), the
scaling of steps/s with N, workers and game length (random vs greedy
opponent) with a PNG plot, and, when a headline goal is missed, the profile
that shows where the time goes.

Outputs: ``benchmarks/results/<date>[-quick].json``, ``<date>[-quick].png``,
and the generated part of ``benchmarks/RESULTS.md``. Each measurement records
``os.getloadavg()`` before and after it and how busy the machine's CPUs were
during it, so the noise of a shared machine is visible.

This file imports only the standard library and NumPy at the top: the
original release's runner (``benchmarks/original/bench_original.py``) reuses
its harness in a process where ``essence_wars`` is the other package.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"
PYO3_DIR = HERE / "pyo3_baseline"
PYO3_OUT = CACHE / "pyo3_baseline"
ORIGINAL_VERSION = "0.12.0"
ORIGINAL_SITE = CACHE / f"original-{ORIGINAL_VERSION}"
ORIGINAL_RUNNER = HERE / "original" / "bench_original.py"

# The workload.
DECK0, DECK1, MODE = "argentum_control", "symbiote_aggro", "attrition"
ORIGINAL_DECKS = ("artificer_tokens", "broodmother_pack")  # the original's own default pairing
OPPONENT = "random"
SEED = 12345

# Goals of the headline ratios (issue 6).
GOALS = {"original": 10.0, "pyo3": 3.0, "gym_async": 50.0}

pc = time.perf_counter


# ---------------------------------------------------------------------------
# Plans: what a run measures and for how long.


@dataclass
class Plan:
    """Sizes and time windows of one run mode."""

    mode: str
    ns: List[int]  # vector sizes of the batched comparisons
    workers: List[int]  # vec_env worker counts
    gym_ns: List[int]  # vector sizes for Gymnasium Sync/Async (subset of ns: same-N ratios)
    greedy_ns: List[int]  # sizes of the game-length (greedy opponent) scaling
    headline_n: int  # the N of the same-N headline ratios
    seconds: float  # measured window of one measurement
    warmup: float  # unmeasured warm-up before it
    repeats: int  # rounds; contenders are interleaved within a round; best kept
    latency_calls: int  # calls per latency timing (best of 5)
    profile_seconds: float
    build: bool = True  # build the PyO3 baseline / install the original when missing


PLANS = {
    "full": Plan("full", [1, 4, 16, 64, 256, 1024, 4096], [0, 1, 2], [1, 4, 16, 64], [16, 256, 1024, 4096],
                 1024, seconds=2.0, warmup=0.5, repeats=3, latency_calls=100_000, profile_seconds=3.0),
    "quick": Plan("quick", [16, 256, 1024], [0, 1, 2], [16], [256, 1024],
                  1024, seconds=0.6, warmup=0.15, repeats=1, latency_calls=20_000, profile_seconds=1.0),
    "smoke": Plan("smoke", [4], [0, 1], [4], [4], 4, seconds=0.05, warmup=0.01, repeats=1,
                  latency_calls=200, profile_seconds=0.05, build=False),
}


# ---------------------------------------------------------------------------
# Harness: sampler, timing, machine state. (Shared with the original's runner.)

_POPCOUNT = np.array([bin(v).count("1") for v in range(256)], np.uint8)
_SELECT = np.zeros((256, 8), np.uint8)  # _SELECT[byte, r] = position of the r-th set bit of byte
for _v in range(256):
    _bits = [b for b in range(8) if _v >> b & 1]
    _SELECT[_v, : len(_bits)] = _bits


class Sampler:
    """Uniformly random legal actions for a batch of masks, vectorised with NumPy.

    Two exact methods, picked by size because NumPy's per-call overhead
    dominates small batches: up to 16k mask entries, float32 random keys
    times the mask and an argmax (4 calls); above, the rows are packed into
    bits, a rank is drawn uniformly below each row's count of legal actions
    and that set bit is found through byte popcounts (~width/8 byte
    operations per row instead of ~width float ones). A row with no legal
    action (a finished game some vector envs keep for a step) gets
    ``fallback``. The same sampler drives every contender.
    """

    SMALL = 16384

    def __init__(self, num_envs: int, width: int, seed: int, fallback: int = 0):
        self.rng = np.random.default_rng(seed)
        self.rows = np.arange(num_envs)
        self.shape = (num_envs, width)
        self.nbytes = (width + 7) // 8
        self.fallback = fallback
        self.small = num_envs * width <= self.SMALL

    def __call__(self, mask: np.ndarray) -> np.ndarray:
        if self.small:
            keys = self.rng.random(self.shape, dtype=np.float32)
            keys *= mask
            actions = keys.argmax(axis=1)
            found = keys[self.rows, actions] > 0
            if not found.all():  # no legal action, or (p ~ 2**-24) every legal key drew 0.0
                lost = ~found
                rows = mask[lost] != 0
                actions[lost] = np.where(rows.any(axis=1), rows.argmax(axis=1), self.fallback)
            return actions
        packed = np.packbits(mask, axis=1, bitorder="little")
        counts = _POPCOUNT[packed]
        cum = np.cumsum(counts, axis=1, dtype=np.int16)
        total = cum[:, -1]
        rank = (self.rng.random(len(total)) * total).astype(np.int16)
        byte = (cum <= rank[:, None]).sum(axis=1)
        np.minimum(byte, self.nbytes - 1, out=byte)
        within = rank - (cum[self.rows, byte] - counts[self.rows, byte])
        actions = byte.astype(np.int64) * 8 + _SELECT[packed[self.rows, byte], within]
        if not total.all():
            actions[total == 0] = self.fallback
        return actions


def cpu_jiffies() -> Tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine since boot (Linux; zeros elsewhere)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, sum(fields)


def background_busy(seconds: float) -> Optional[float]:
    """Fraction of the machine's CPU time busy over ``seconds`` while this run sleeps:
    the load others put on the machine (1.0 = every core busy)."""
    busy0, total0 = cpu_jiffies()
    time.sleep(seconds)
    busy1, total1 = cpu_jiffies()
    return round((busy1 - busy0) / (total1 - total0), 3) if total1 > total0 else None


def loadavg() -> List[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return [float("nan")] * 3


# A run_steps(k) function plays k vector steps and returns
# (phase seconds [sampler, step, resets, reads], episodes finished).
RunSteps = Callable[[int], Tuple[Sequence[float], int]]
PHASES = ("sampler", "step", "resets", "reads")


def measure(run_steps: RunSteps, num_envs: int, seconds: float, warmup: float) -> Dict[str, Any]:
    """Times ``run_steps`` for about ``seconds`` after ``warmup``; steps are run in
    chunks of ~10 ms so the loop control costs nothing per step."""
    chunk = 1
    t_end = pc() + warmup
    while True:
        t0 = pc()
        run_steps(chunk)
        if pc() - t0 < 0.01 and chunk < 1 << 20:
            chunk *= 2
        if pc() >= t_end:
            break
    load_before = loadavg()
    busy0, total0 = cpu_jiffies()
    phases = np.zeros(4)
    vec_steps = episodes = 0
    t0 = pc()
    deadline = t0 + seconds
    while True:
        ph, eps = run_steps(chunk)
        phases += ph
        episodes += eps
        vec_steps += chunk
        if pc() >= deadline:
            break
    elapsed = pc() - t0
    busy1, total1 = cpu_jiffies()
    steps = vec_steps * num_envs
    env_time = max(elapsed - phases[0], 1e-12)
    return {
        "steps_per_s": steps / elapsed,
        "env_steps_per_s": steps / env_time if phases[0] > 0 else None,
        "us_per_vec_step": elapsed / vec_steps * 1e6,
        "phases_us": {k: round(v / vec_steps * 1e6, 3) for k, v in zip(PHASES, phases)} if phases.any() else None,
        "steps_per_episode": steps / episodes if episodes else None,
        "vec_steps": vec_steps,
        "seconds": round(elapsed, 4),
        "load_before": load_before,
        "load_after": loadavg(),
        "cpu_busy": round((busy1 - busy0) / (total1 - total0), 3) if total1 > total0 else None,
    }


def per_call_ns(fn: Callable[[], Any], number: int, repeat: int = 5) -> float:
    """Best-of-``repeat`` nanoseconds per call of ``fn`` over ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = pc()
        for _ in range(number):
            fn()
        best = min(best, (pc() - t0) / number)
    return best * 1e9


def latency_row(fn: Callable[[], Any], number: int) -> Dict[str, Any]:
    load_before = loadavg()
    ns = per_call_ns(fn, number)
    return {"ns": round(ns, 1), "load_before": load_before, "load_after": loadavg()}


# ---------------------------------------------------------------------------
# The machine.


def _command_output(cmd: Sequence[str]) -> Optional[str]:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info() -> Dict[str, Any]:
    cpu = platform.processor() or "unknown"
    physical = set()
    try:
        with open("/proc/cpuinfo") as f:
            phys = core = None
            for line in f:
                key, _, value = line.partition(":")
                key, value = key.strip(), value.strip()
                if key == "model name":
                    cpu = value
                elif key == "physical id":
                    phys = value
                elif key == "core id":
                    core = value
                    physical.add((phys, core))
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("gymnasium", "cffi", "matplotlib"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    return {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "physical_cores": len(physical) or None,
        "usable_cores": usable,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        if hasattr(os, "sysconf") else None,
        "os": platform.platform(),
        "python_executable": sys.executable,
        "versions": versions,
        "rustc": _command_output(["rustc", "--version"]),
        "cargo": _command_output(["cargo", "--version"]),
        "git_commit": _command_output(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        "git_dirty": bool(_command_output(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"])),
    }


# ---------------------------------------------------------------------------
# Contenders. Each ``*_runner`` builds its env and returns (run_steps, close).


def batch_runner(n: int, opponent: str, seed: int):
    """``core.Batch`` in-process: the native step every vec_env worker calls (the floor)."""
    from essence_wars import core

    batch = core.Batch(n, DECK0, DECK1, MODE, opponent=opponent, autoreset=True, seed=seed)
    out, actions = batch.output, batch.actions
    masks, terminated = out.masks, out.terminated
    sample = Sampler(n, core.NUM_ACTIONS, seed)

    def run_steps(k: int):
        t_sample = t_step = 0.0
        episodes = 0
        for _ in range(k):
            t0 = pc()
            actions[:] = sample(masks)
            t1 = pc()
            batch.step(actions)
            t2 = pc()
            episodes += int(np.count_nonzero(terminated))
            t_sample += t1 - t0
            t_step += t2 - t1
        return (t_sample, t_step, 0.0, 0.0), episodes

    return run_steps, batch.close


def _vec_arrays(obs, info, env):
    """(observations, masks) from whatever a vector env step returned."""
    if isinstance(obs, dict):
        return obs.get("observation", obs.get("obs")), obs["action_mask"]
    if isinstance(info, dict) and "action_mask" in info:
        return obs, info["action_mask"]
    return obs, env.action_masks()


def vec_env_runner(n: int, workers: int, opponent: str, seed: int):
    """``essence_wars.vec_env.make(n, workers)``: the shared-memory ring."""
    from essence_wars import core, vec_env

    env = vec_env.make(n, num_workers=workers, deck=DECK0, opponent_deck=DECK1, mode=MODE, opponent=opponent,
                       autoreset_mode="same_step")
    obs, info = env.reset(seed=seed)
    state = {"masks": _vec_arrays(obs, info, env)[1]}
    sample = Sampler(n, core.NUM_ACTIONS, seed, fallback=core.END_TURN)
    step = env.step

    def run_steps(k: int):
        t_sample = t_step = t_read = 0.0
        episodes = 0
        masks = state["masks"]
        for _ in range(k):
            t0 = pc()
            actions = sample(masks)
            t1 = pc()
            obs, rewards, terminated, truncated, info = step(actions)
            t2 = pc()
            observations, masks = _vec_arrays(obs, info, env)
            t3 = pc()
            episodes += int(np.count_nonzero(terminated))
            t_sample += t1 - t0
            t_step += t2 - t1
            t_read += t3 - t2
        state["masks"] = masks
        return (t_sample, t_step, 0.0, t_read), episodes

    return run_steps, env.close


def gym_runner(n: int, kind: str, opponent: str, seed: int):
    """Gymnasium's ``SyncVectorEnv`` / ``AsyncVectorEnv`` over our single env (same-step autoreset)."""
    import functools

    import gymnasium as gym

    from essence_wars import core
    from essence_wars.env import EssenceWarsEnv

    make_one = functools.partial(EssenceWarsEnv, deck=DECK0, opponent_deck=DECK1, mode=MODE, opponent=opponent)
    cls = gym.vector.SyncVectorEnv if kind == "sync" else gym.vector.AsyncVectorEnv
    env = cls([make_one] * n, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)
    obs, _ = env.reset(seed=seed)
    state = {"masks": obs["action_mask"]}
    sample = Sampler(n, core.NUM_ACTIONS, seed, fallback=core.END_TURN)

    def run_steps(k: int):
        t_sample = t_step = 0.0
        episodes = 0
        masks = state["masks"]
        for _ in range(k):
            t0 = pc()
            actions = sample(masks)
            t1 = pc()
            obs, rewards, terminated, truncated, info = env.step(actions)
            t2 = pc()
            masks = obs["action_mask"]
            episodes += int(np.count_nonzero(terminated))
            t_sample += t1 - t0
            t_step += t2 - t1
        state["masks"] = masks
        return (t_sample, t_step, 0.0, 0.0), episodes

    return run_steps, env.close


def thick_batch_runner(games, n: int, seed: int, width: int, mask_to_bool: bool, action_dtype):
    """The batch loop of a "thick Rust" binding (the PyO3 baseline, the original):
    ``step_batch`` returns new reward/done arrays, each finished game is dealt
    again by one call, then ``observe_batch`` and ``action_mask_batch`` return
    new arrays. ``games`` is a ``PyParallelGames``."""
    games.reset_all(seed)
    sample = Sampler(n, width, seed)
    state = {"obs": games.observe_batch(), "masks": games.action_mask_batch(), "next_seed": seed + n}

    def run_steps(k: int):
        t_sample = t_step = t_reset = t_read = 0.0
        episodes = 0
        masks = state["masks"]
        next_seed = state["next_seed"]
        for _ in range(k):
            t0 = pc()
            actions = sample(masks > 0 if mask_to_bool else masks).astype(action_dtype)
            t1 = pc()
            rewards, dones = games.step_batch(actions)
            t2 = pc()
            if dones.any():
                for i in np.flatnonzero(dones):
                    games.reset_single(int(i), next_seed)
                    next_seed += 1
                    episodes += 1
            t3 = pc()
            obs = games.observe_batch()
            masks = games.action_mask_batch()
            t4 = pc()
            t_sample += t1 - t0
            t_step += t2 - t1
            t_reset += t3 - t2
            t_read += t4 - t3
        state["masks"], state["obs"], state["next_seed"] = masks, obs, next_seed
        return (t_sample, t_step, t_reset, t_read), episodes

    return run_steps


def single_game_runner(game, seed: int, observe: Callable, mask: Callable):
    """One game in self-play, one Python call per verb: observe, mask, step;
    a finished game is dealt again from the next seed."""
    rand = np.random.default_rng(seed).random
    state = {"seed": seed}

    def run_steps(k: int):
        episodes = 0
        step = game.step
        for _ in range(k):
            observe()
            legal = np.flatnonzero(mask())
            _reward, done = step(int(legal[int(rand() * len(legal))]))
            if done:
                episodes += 1
                state["seed"] += 1
                game.reset(state["seed"])
        return (0.0, 0.0, 0.0, 0.0), episodes

    return run_steps


def load_pyo3():
    """The PyO3 baseline module (built by ``pyo3_baseline/build.sh``), or None."""
    path = PYO3_OUT / "pyo3_baseline.so"
    if not path.exists():
        return None
    import importlib.util

    spec = importlib.util.spec_from_file_location("pyo3_baseline", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_pyo3(log: Callable[[str], None]) -> Optional[str]:
    """Builds the PyO3 baseline; None on success, else why not."""
    if not (Path("/usr/share/cargo/registry") / "pyo3-0.17.3").is_dir():
        return "PyO3 0.17 is not installed (apt-get install -y librust-pyo3-dev)"
    if shutil.which("cargo") is None:
        return "cargo is not on PATH"
    log("building the PyO3 baseline (benchmarks/pyo3_baseline/build.sh; first build takes about a minute) ...")
    env = dict(os.environ, PYO3_PYTHON=sys.executable)
    r = subprocess.run(["bash", str(PYO3_DIR / "build.sh"), str(PYO3_OUT)], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        return f"build.sh failed: {(r.stderr or r.stdout).strip()[-800:]}"
    return None


# ---------------------------------------------------------------------------
# The original release, in its own process.


def install_original(log: Callable[[str], None]) -> Optional[str]:
    """Installs essence-wars==0.12.0 (no deps) into benchmarks/.cache; None on success, else why not."""
    if (ORIGINAL_SITE / "essence_wars" / "__init__.py").exists():
        return None
    if sys.version_info[:2] != (3, 11):
        return f"the original release ships a cp311 wheel only; this is Python {platform.python_version()}"
    log(f"installing the original release essence-wars=={ORIGINAL_VERSION} into {ORIGINAL_SITE} (pip --target) ...")
    tmp = ORIGINAL_SITE.with_name(ORIGINAL_SITE.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
           "--only-binary=:all:", "--target", str(tmp), f"essence-wars=={ORIGINAL_VERSION}"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"pip is unavailable: {e}"
    if r.returncode != 0:
        return f"pip install failed (offline?): {(r.stderr or r.stdout).strip()[-500:]}"
    shutil.rmtree(ORIGINAL_SITE, ignore_errors=True)
    tmp.rename(ORIGINAL_SITE)
    return None


class OriginalProcess:
    """The original release's runner, a subprocess answering one JSON line per command."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [sys.executable, str(ORIGINAL_RUNNER), "--site", str(ORIGINAL_SITE)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
            cwd=str(HERE / "original"),
        )
        self.hello = self._read()

    def _read(self) -> Dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read() if self.proc.poll() is not None else ""
            raise RuntimeError(f"the original release's runner stopped: {err.strip()[-800:]}")
        reply = json.loads(line)
        if "error" in reply:
            raise RuntimeError(f"the original release's runner: {reply['error']}")
        return reply

    def call(self, **command) -> Dict[str, Any]:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------
# The run.


@dataclass
class Run:
    plan: Plan
    log: Callable[[str], None]
    results: List[Dict[str, Any]] = field(default_factory=list)
    errors: List[Dict[str, Any]] = field(default_factory=list)
    available: Dict[str, Any] = field(default_factory=dict)
    pyo3: Any = None
    original: Optional[OriginalProcess] = None

    def attempt(self, contender: str, n: int, opponent: str, fn: Callable[[], Dict[str, Any]], **extra) -> None:
        """Measures with ``fn`` and records it; a failure is logged and kept in ``errors``, and the run goes on."""
        try:
            m = fn()
        except Exception as e:  # noqa: BLE001 - one broken contender must not lose a 15-minute run
            self.errors.append({"contender": contender, "n": n, "opponent": opponent, **extra,
                                "error": f"{type(e).__name__}: {e}"})
            self.log(f"  {contender:<24} N={n:<5} {opponent:<7} FAILED: {type(e).__name__}: {e}")
            return
        self.record(contender, n, opponent, m, **extra)

    def record(self, contender: str, n: int, opponent: str, m: Dict[str, Any], **extra) -> None:
        row = {"contender": contender, "n": n, "opponent": opponent, **extra, **m}
        self.results.append(row)
        env_only = f" (env only {m['env_steps_per_s']:>11,.0f})" if m.get("env_steps_per_s") else ""
        spe = f"{m['steps_per_episode']:.1f}" if m.get("steps_per_episode") else "-"
        self.log(f"  {contender:<24} N={n:<5} {opponent:<7} {m['steps_per_s']:>12,.0f} steps/s{env_only}"
                 f"  {spe:>5} steps/ep  load {m['load_before'][0]:.2f}->{m['load_after'][0]:.2f}"
                 f"  busy {m['cpu_busy'] if m['cpu_busy'] is not None else '-'}")


def local_measure(run: Run, factory: Callable[[], Tuple[RunSteps, Callable[[], None]]], n: int) -> Dict[str, Any]:
    run_steps, close = factory()
    try:
        return measure(run_steps, n, run.plan.seconds, run.plan.warmup)
    finally:
        close()


def throughput_contenders(run: Run, opponent: str) -> List[Tuple[str, Dict[str, Any], Callable[[int], Optional[Dict]]]]:
    """(name, labels, measure(n) -> result) of every batched contender available."""
    plan = run.plan
    out: List[Tuple[str, Dict[str, Any], Callable[[int], Optional[Dict]]]] = []
    if run.available.get("vec_env") is True:
        for w in plan.workers:
            out.append((f"vec_env w={w}", {"workers": w, "family": "vec_env"},
                        lambda n, w=w: local_measure(run, lambda: vec_env_runner(n, w, opponent, SEED), n)))
    out.append(("core.Batch (floor)", {"family": "floor"},
                lambda n: local_measure(run, lambda: batch_runner(n, opponent, SEED), n)))
    if run.pyo3 is not None:
        for parallel in (False, True):
            def pyo3_measure(n, parallel=parallel):
                games = run.pyo3.PyParallelGames(n, DECK0, DECK1, MODE, opponent, parallel)
                rs = thick_batch_runner(games, n, SEED, 256, False, np.int64)
                return measure(rs, n, plan.seconds, plan.warmup)
            out.append((f"PyO3 PyParallelGames{' rayon' if parallel else ''}",
                        {"family": "pyo3", "parallel": parallel}, pyo3_measure))
    if run.original is not None:
        def original_measure(n):
            return run.original.call(op="batch", n=n, opponent=opponent, seed=SEED, seconds=plan.seconds,
                                     warmup=plan.warmup, decks=list(ORIGINAL_DECKS))
        out.append(("original PyParallelGames", {"family": "original"}, original_measure))
    return out


def section_throughput(run: Run) -> None:
    """Comparisons 1-4 at every N, interleaved round by round (random opponent)."""
    plan = run.plan
    contenders = throughput_contenders(run, OPPONENT)
    gym_ok = run.available.get("gymnasium") is True
    for rep in range(plan.repeats):
        run.log(f"throughput, round {rep + 1}/{plan.repeats} (random opponent)")
        for n in sorted(set(plan.ns) | set(plan.gym_ns)):
            for name, labels, fn in contenders:
                if labels.get("workers", 0) > n:
                    continue  # a worker owns at least one env
                run.attempt(name, n, OPPONENT, lambda: fn(n), round=rep, section="throughput", **labels)
            if gym_ok and n in plan.gym_ns:
                for kind in ("sync", "async"):
                    run.attempt(f"gymnasium {kind.capitalize()}VectorEnv", n, OPPONENT,
                                lambda: local_measure(run, lambda: gym_runner(n, kind, OPPONENT, SEED), n),
                                round=rep, section="throughput", family=f"gym_{kind}")


def section_game_length(run: Run) -> None:
    """Scaling with game length: the vec env against the greedy opponent (longer, costlier games)."""
    plan = run.plan
    if run.available.get("vec_env") is not True:
        return
    for rep in range(plan.repeats):
        run.log(f"game length: greedy opponent, round {rep + 1}/{plan.repeats}")
        for n in plan.greedy_ns:
            for w in [w for w in plan.workers if w <= n]:
                run.attempt(f"vec_env w={w}", n, "greedy",
                            lambda: local_measure(run, lambda: vec_env_runner(n, w, "greedy", SEED), n),
                            round=rep, section="game_length", workers=w, family="vec_env")


def section_single(run: Run) -> None:
    """One game, one Python call per verb (self-play): cffi Game, PyO3 PyGame, original PyGame."""
    from essence_wars import core

    plan = run.plan
    for rep in range(plan.repeats):
        run.log(f"single-game loops, round {rep + 1}/{plan.repeats} (self-play)")
        game = core.Game(SEED, DECK0, DECK1, MODE)
        obs = np.empty(core.OBS_SIZE, np.float32)
        mask = np.empty(core.NUM_ACTIONS, np.bool_)
        rs = single_game_runner(game, SEED, lambda: game.observe(out=obs),
                                lambda: game.action_mask(out=mask))
        run.attempt("cffi Game", 1, "self", lambda: measure(rs, 1, plan.seconds, plan.warmup), round=rep,
                    section="single", family="floor")
        game.close()
        if run.pyo3 is not None:
            g = run.pyo3.PyGame(SEED, DECK0, DECK1, MODE)
            rs_pyo3 = single_game_runner(g, SEED, g.observe, g.action_mask)
            run.attempt("PyO3 PyGame", 1, "self", lambda: measure(rs_pyo3, 1, plan.seconds, plan.warmup),
                        round=rep, section="single", family="pyo3")
        if run.original is not None:
            run.attempt("original PyGame", 1, "self",
                        lambda: run.original.call(op="single", seed=SEED, seconds=plan.seconds, warmup=plan.warmup,
                                                  decks=list(ORIGINAL_DECKS)),
                        round=rep, section="single", family="original")


def section_latency(run: Run) -> Dict[str, Dict[str, Any]]:
    """ns per call: observation copy-out, mask, step, clone; and per game of a batch read."""
    from essence_wars import core

    number = run.plan.latency_calls
    table: Dict[str, Dict[str, Any]] = {}
    run.log("latency (ns per call, best of 5)")

    def put(row: str, who: str, value: Optional[Dict[str, Any]]) -> None:
        if value is not None:
            table.setdefault(row, {})[who] = value

    # ours: cffi into preallocated buffers
    g = core.Game(SEED, DECK0, DECK1, MODE)
    obs = np.empty(core.OBS_SIZE, np.float32)
    mask = np.empty(core.NUM_ACTIONS, np.bool_)
    g.observe(out=obs)
    g.action_mask(out=mask)
    put("observe (one game)", "cffi", latency_row(lambda: g.observe(out=obs), number))
    put("observe, new array each call", "cffi", latency_row(g.observe, number))
    put("action mask (one game)", "cffi", latency_row(lambda: g.action_mask(out=mask), number))
    put("clone (fork + free)", "cffi", latency_row(g.fork, number // 2))
    f = g.fork()
    put("step (END_TURN; reset at game end)", "cffi",
        latency_row(lambda: f.reset(SEED) if f.step(core.END_TURN)[1] else None, number // 2))
    n = min(run.plan.headline_n, 1024)
    b = core.Batch(n, DECK0, DECK1, MODE, seed=SEED)
    bnum = max(number // (4 * n), 3)
    ns = latency_row(b.observe, bnum)
    put(f"batch observe + mask, per game (N={n})", "cffi", {**ns, "ns": round(ns["ns"] / n, 1)})
    b.close()
    g.close()
    f.close()

    if run.pyo3 is not None:
        p = run.pyo3.PyGame(SEED, DECK0, DECK1, MODE)
        put("observe (one game)", "pyo3", latency_row(p.observe, number))
        put("observe, new array each call", "pyo3", table["observe (one game)"]["pyo3"])  # it always allocates
        put("action mask (one game)", "pyo3", latency_row(p.action_mask, number))
        put("clone (fork + free)", "pyo3", latency_row(p.fork, number // 2))
        q = p.fork()
        put("step (END_TURN; reset at game end)", "pyo3",
            latency_row(lambda: q.reset(SEED) if q.step(core.END_TURN)[1] else None, number // 2))
        pg = run.pyo3.PyParallelGames(n, DECK0, DECK1, MODE, None, False)
        o = latency_row(pg.observe_batch, bnum)
        m = latency_row(pg.action_mask_batch, bnum)
        put(f"batch observe + mask, per game (N={n})", "pyo3",
            {"ns": round((o["ns"] + m["ns"]) / n, 1), "load_before": o["load_before"], "load_after": m["load_after"]})
    if run.original is not None:
        try:
            orig = run.original.call(op="latency", number=number, n=n, seed=SEED, decks=list(ORIGINAL_DECKS))
            for row, value in orig["rows"].items():
                put(row, "original", value)
        except RuntimeError as e:
            run.errors.append({"contender": "original", "section": "latency", "error": str(e)})
            run.log(f"  original latency FAILED: {e}")
    for row, cols in table.items():
        run.log(f"  {row:<40} " + "  ".join(f"{k} {v['ns']:>9,.1f}" for k, v in cols.items()))
    return table


def section_profile(run: Run, n: int, workers: int) -> Dict[str, Any]:
    """Where the time goes in our vec env loop at N: phase split, native share, cProfile top."""
    import cProfile
    import io
    import pstats

    from essence_wars import core
    from essence_wars._native import lib

    out: Dict[str, Any] = {"n": n, "workers": workers}
    # The native step alone (one core), on the same workload: the engine's floor per game step.
    batch = core.Batch(n, DECK0, DECK1, MODE, opponent=OPPONENT, autoreset=True, seed=SEED)
    sample = Sampler(n, core.NUM_ACTIONS, SEED)
    struct, bad, ptr, aptr = batch.output._struct, batch._bad, batch._ptr, batch._actions_ptr
    native = 0.0
    steps = 0
    t_end = pc() + max(run.plan.profile_seconds, 0.05)
    while pc() < t_end:
        batch.actions[:] = sample(batch.output.masks)
        t0 = pc()
        lib.ew_batch_step(ptr, aptr, struct, bad)
        native += pc() - t0
        steps += 1
    batch.close()
    out["native_ns_per_game_step"] = round(native / (steps * n) * 1e9, 1)
    out["native_ceiling_steps_per_s_one_core"] = round(steps * n / native)
    if run.available.get("vec_env") is True:
        run_steps, close = vec_env_runner(n, workers, OPPONENT, SEED)
        try:
            run_steps(2)
            prof = cProfile.Profile()
            k = 0
            prof.enable()
            t_end = pc() + max(run.plan.profile_seconds, 0.05)
            while pc() < t_end:
                run_steps(1)
                k += 1
            prof.disable()
        finally:
            close()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(14)
        text = buf.getvalue()
        out["cprofile_vec_steps"] = k
        out["cprofile_top_tottime"] = text[text.find("   ncalls"):].rstrip() if "ncalls" in text else text
    return out


# ---------------------------------------------------------------------------
# Summaries: best of rounds, headline ratios, the table, the plot.


def best_rows(results: List[Dict[str, Any]]) -> Dict[Tuple[str, int, str], Dict[str, Any]]:
    """Best steps/s per (contender, N, opponent) over rounds."""
    best: Dict[Tuple[str, int, str], Dict[str, Any]] = {}
    for r in results:
        key = (r["contender"], r["n"], r["opponent"])
        if key not in best or r["steps_per_s"] > best[key]["steps_per_s"]:
            best[key] = r
    return best


def headline(best, plan: Plan) -> List[Dict[str, Any]]:
    """Our vec env (best worker count at each N) against each peer, at the same N and best against best."""

    def family(fam: str, opponent: str = OPPONENT, section: str = "throughput"):
        return [r for r in best.values() if r.get("family") == fam and r["opponent"] == opponent
                and r.get("section") == section]

    ours = family("vec_env")
    if not ours:
        ours = family("floor")  # no vec env: report against the floor it would sit on, and say so
        ours_label = "core.Batch (vec_env missing)"
    else:
        ours_label = "vec_env"
    ours_at = {}
    for r in ours:
        if r["n"] not in ours_at or r["steps_per_s"] > ours_at[r["n"]]["steps_per_s"]:
            ours_at[r["n"]] = r
    rows = []
    for key, fam, at_n, what in (
        ("original", "original", plan.headline_n, "original release PyParallelGames batch loop"),
        ("pyo3", "pyo3", plan.headline_n, "PyO3-style binding of our rust_core (best of serial/rayon)"),
        ("gym_async", "gym_async", max(plan.gym_ns), "Gymnasium AsyncVectorEnv over our single env"),
    ):
        theirs = family(fam)
        row: Dict[str, Any] = {"key": key, "versus": what, "goal": GOALS[key], "ours": ours_label}
        if not theirs or not ours_at:
            row["status"] = "not available"
            rows.append(row)
            continue
        theirs_at = {}
        for r in theirs:
            if r["n"] not in theirs_at or r["steps_per_s"] > theirs_at[r["n"]]["steps_per_s"]:
                theirs_at[r["n"]] = r
        if at_n in theirs_at and at_n in ours_at:
            o, t = ours_at[at_n], theirs_at[at_n]
            row.update(n=at_n, ours_steps_per_s=o["steps_per_s"], ours_config=o["contender"],
                       theirs_steps_per_s=t["steps_per_s"], theirs_config=t["contender"],
                       ratio=o["steps_per_s"] / t["steps_per_s"])
            if o.get("env_steps_per_s") and t.get("env_steps_per_s"):
                row["ratio_env_only"] = o["env_steps_per_s"] / t["env_steps_per_s"]
        ob = max(ours_at.values(), key=lambda r: r["steps_per_s"])
        tb = max(theirs_at.values(), key=lambda r: r["steps_per_s"])
        row.update(best_ours=f"{ob['contender']} N={ob['n']}", best_ours_steps_per_s=ob["steps_per_s"],
                   best_theirs=f"{tb['contender']} N={tb['n']}", best_theirs_steps_per_s=tb["steps_per_s"],
                   ratio_best=ob["steps_per_s"] / tb["steps_per_s"])
        row["status"] = "met" if row.get("ratio", 0) >= row["goal"] else "missed"
        row["status_best"] = "met" if row["ratio_best"] >= row["goal"] else "missed"
        rows.append(row)
    return rows


def plot(best, plan: Plan, path: Path) -> Optional[str]:
    """steps/s against N (all contenders) and against game length (random vs greedy); None or why not."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 5))
    series: Dict[str, List[Tuple[int, float]]] = {}
    for (name, n, opp), r in best.items():
        if r.get("section") == "throughput":
            series.setdefault(name, []).append((n, r["steps_per_s"]))
    for name, pts in sorted(series.items()):
        pts.sort()
        style = "-" if name.startswith("vec_env") else "--"
        ax1.plot([p[0] for p in pts], [p[1] for p in pts], style, marker="o", label=name)
    ax1.set(xscale="log", yscale="log", xlabel="N (envs in the vector)", ylabel="agent steps/s",
            title="Throughput vs N (random opponent)")
    ax1.grid(True, which="both", alpha=0.3)
    ax1.legend(fontsize=7)
    length: Dict[Tuple[str, str], List[Tuple[int, float, Optional[float]]]] = {}
    for (name, n, opp), r in best.items():
        if r.get("family") == "vec_env" and n in plan.greedy_ns:
            length.setdefault((name, opp), []).append((n, r["steps_per_s"], r.get("steps_per_episode")))
    colors = {name: f"C{i}" for i, name in enumerate(sorted({k[0] for k in length}))}
    for (name, opp), pts in sorted(length.items()):
        pts.sort()
        spe = [p[2] for p in pts if p[2]]
        label = f"{name}, {opp} opponent" + (f" (~{np.mean(spe):.0f} steps/episode)" if spe else "")
        ax2.plot([p[0] for p in pts], [p[1] for p in pts], "-" if opp == "random" else ":", marker="o", label=label,
                 color=colors[name])
    ax2.set(xscale="log", yscale="log", xlabel="N", ylabel="agent steps/s",
            title="vec_env: workers and game length (random vs greedy opponent)")
    ax2.grid(True, which="both", alpha=0.3)
    ax2.legend(fontsize=7)
    fig.suptitle(f"Essence Wars peer benchmarks ({plan.mode}, {_dt.date.today().isoformat()})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return None


def fmt_rate(x: Optional[float]) -> str:
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def markdown(report: Dict[str, Any]) -> str:
    """The generated part of RESULTS.md."""
    plan = report["plan"]
    m = report["machine"]
    best = {(r["contender"], r["n"], r["opponent"]): r for r in report["best"]}
    lines = [
        f"## Latest run: {report['date']} ({plan['mode']} mode)",
        "",
        f"- Machine: {m['cpu']}, {m['logical_cores']} logical cores ({m['usable_cores']} usable), "
        f"{m['memory_gib']} GiB; {m['os']}",
        f"- Python {m['versions']['python']}, NumPy {m['versions']['numpy']}, Gymnasium {m['versions']['gymnasium']}, "
        f"{m['rustc']}; essence_wars {report['essence_wars_version']} at commit {m['git_commit']}"
        f"{' (uncommitted changes)' if m['git_dirty'] else ''}",
        f"- Command: `{report['command']}`",
        f"- Started {report['started']}, took {report['elapsed_s']:.0f} s; load average (1/5/15 min) "
        f"{report['load_start']} at the start, {report['load_end']} at the end; CPU busy while the run slept "
        f"(others' load, 1.0 = all cores): {report.get('background_busy_start')} at the start, "
        f"{report.get('background_busy_end')} at the end",
        f"- Workload: agent in seat 0 vs a built-in random opponent, {DECK0} vs {DECK1}, {MODE}; uniformly random "
        f"legal actions from the masks (one NumPy sampler for all); observations and masks in hand every step; "
        f"{plan['seconds']} s windows after {plan['warmup']} s warm-up, best of {plan['repeats']} interleaved round(s).",
    ]
    if not report.get("engines_identical", True):
        lines.append("- **Warning**: the cffi extension and the PyO3 baseline were built from different rust_core "
                     "sources (their first observations differ); rebuild with `pip install -e .` and re-run.")
    for key, why in report["unavailable"].items():
        lines.append(f"- Not available: {key}: {why}")
    for err in report.get("errors") or []:
        lines.append(f"- Failed measurement: {err.get('contender')} N={err.get('n', '-')} "
                     f"({err.get('section', '')}): {err['error']}")
    lines += ["", "### Headline ratios", "",
              "| our vec env vs | N | ours (steps/s) | theirs (steps/s) | ratio | ratio, env only | goal | "
              "best vs best | goal met? (same N / best) |",
              "|---|---|---|---|---|---|---|---|---|"]
    for h in report["headline"]:
        if h["status"] == "not available":
            lines.append(f"| {h['versus']} | | | | not available | | ≥ {h['goal']:g}× | | |")
            continue
        env_only = f"{h['ratio_env_only']:.1f}×" if h.get("ratio_env_only") else "-"
        lines.append(
            f"| {h['versus']} | {h.get('n', '-')} | {fmt_rate(h.get('ours_steps_per_s'))} ({h.get('ours_config', '')}) "
            f"| {fmt_rate(h.get('theirs_steps_per_s'))} ({h.get('theirs_config', '')}) | "
            f"**{h['ratio']:.1f}×** | {env_only} | ≥ {h['goal']:g}× | {h['ratio_best']:.1f}× "
            f"({h['best_ours']} vs {h['best_theirs']}) | {h['status']} / {h['status_best']} |"
        )
    lines += ["", "\"Env only\" leaves out the time of the action sampler (the same NumPy code for everyone). "
              "\"Best vs best\": each side at its fastest N in this run.", ""]

    # Throughput matrix.
    ns = sorted({n for (_c, n, o) in best if o == OPPONENT and best[(_c, n, o)].get("section") == "throughput"})
    names: List[str] = []
    for r in report["best"]:
        if r.get("section") == "throughput" and r["contender"] not in names:
            names.append(r["contender"])
    lines += ["### Agent steps/s by N (random opponent; best of rounds)", "",
              "| contender | " + " | ".join(f"N={n}" for n in ns) + " |",
              "|---|" + "---|" * len(ns)]
    for name in names:
        cells = [fmt_rate(best[(name, n, OPPONENT)]["steps_per_s"]) if (name, n, OPPONENT) in best else ""
                 for n in ns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "The original release plays its own game (356 observation floats, 542 actions, decks "
              f"{ORIGINAL_DECKS[0]} vs {ORIGINAL_DECKS[1]}): its rows are side by side with ours, not the same game. "
              "Its batch runs its games on rayon threads.", ""]

    # Single-game loops.
    single = [r for r in report["best"] if r.get("section") == "single"]
    if single:
        lines += ["### One game, one call per verb (self-play; observe, mask, step)", "",
                  "| contender | steps/s | µs/step | steps/episode | load before → after |", "|---|---|---|---|---|"]
        for r in single:
            lines.append(f"| {r['contender']} | {fmt_rate(r['steps_per_s'])} | {r['us_per_vec_step']:.2f} | "
                         f"{r['steps_per_episode'] or 0:.1f} | {r['load_before'][0]:.2f} → {r['load_after'][0]:.2f} |")
        lines.append("")

    # Latency.
    lat = report.get("latency") or {}
    if lat:
        lines += ["### Latency (ns per call, best of 5)", "",
                  "| operation | cffi (ours, preallocated buffer) | PyO3 baseline (new array) | original release |",
                  "|---|---|---|---|"]
        for row, cols in lat.items():
            cell = lambda k: f"{cols[k]['ns']:,.0f}" if k in cols else "-"  # noqa: E731
            lines.append(f"| {row} | {cell('cffi')} | {cell('pyo3')} | {cell('original')} |")
        lines += ["", "\"observe, new array each call\" for cffi is `Game.observe()` without `out=`. "
                  "The original's observation is 356 floats and its mask 542 float32 (ours: 326 floats, 256 bytes).", ""]

    # Game length.
    gl = [r for r in report["best"] if r.get("section") == "game_length"]
    if gl:
        lines += ["### Game length: vec env against the random and the greedy opponent", "",
                  "| workers | N | random: steps/s | steps/episode | greedy: steps/s | steps/episode |",
                  "|---|---|---|---|---|---|"]
        for r in sorted(gl, key=lambda r: (r["workers"], r["n"])):
            rnd = best.get((r["contender"], r["n"], OPPONENT))
            lines.append(
                f"| {r['workers']} | {r['n']} | {fmt_rate(rnd['steps_per_s']) if rnd else '-'} | "
                f"{(rnd or {}).get('steps_per_episode') or 0:.1f} | {fmt_rate(r['steps_per_s'])} | "
                f"{r.get('steps_per_episode') or 0:.1f} |")
        lines.append("")
    if report.get("plot"):
        lines += [f"![scaling](results/{report['plot']})", ""]

    # Profile.
    prof = report.get("profile")
    if prof:
        lines += ["### Where the time goes (a headline goal was missed)", ""]
        lines.append(f"- Rust engine alone (`ew_batch_step`, one core, N={prof['n']}): "
                     f"{prof['native_ns_per_game_step']:,.0f} ns per agent step including the opponent's turn and "
                     f"the observation/mask encoding, i.e. at most {fmt_rate(prof['native_ceiling_steps_per_s_one_core'])}"
                     f" steps/s per core whatever the binding.")
        lines += ["", "Phase split per vector step (µs) at the headline N:", "",
                  "| contender | sampler | step call | resets | reads | total | steps/s |", "|---|---|---|---|---|---|---|"]
        for r in report["best"]:
            if r.get("section") == "throughput" and r["n"] == prof["n"] and r.get("phases_us"):
                p = r["phases_us"]
                lines.append(f"| {r['contender']} | {p['sampler']:,.0f} | {p['step']:,.0f} | {p['resets']:,.0f} | "
                             f"{p['reads']:,.0f} | {r['us_per_vec_step']:,.0f} | {fmt_rate(r['steps_per_s'])} |")
        if prof.get("cprofile_top_tottime"):
            lines += ["", f"<details><summary>cProfile of the vec env loop (w={prof['workers']}, N={prof['n']}, "
                      f"by internal time)</summary>", "", "```", prof["cprofile_top_tottime"], "```", "", "</details>"]
        lines += ["", analysis(report)]
        lines.append("")

    # Detail with loads.
    lines += ["<details><summary>Every measurement, with load averages</summary>", "",
              "| section | contender | N | opponent | round | steps/s | env-only steps/s | µs/vec step | "
              "steps/episode | load 1m before → after | CPU busy |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        lines.append(
            f"| {r.get('section')} | {r['contender']} | {r['n']} | {r['opponent']} | {r.get('round', 0)} | "
            f"{r['steps_per_s']:,.0f} | {('%.0f' % r['env_steps_per_s']) if r.get('env_steps_per_s') else '-'} | "
            f"{r['us_per_vec_step']:,.1f} | {('%.1f' % r['steps_per_episode']) if r.get('steps_per_episode') else '-'} | "
            f"{r['load_before'][0]:.2f} → {r['load_after'][0]:.2f} | {r.get('cpu_busy')} |")
    lines += ["", "</details>", ""]
    return "\n".join(lines)


BEGIN, END = "<!-- results:begin (generated by benchmarks/run.py) -->", "<!-- results:end -->"


def update_results_md(text: str, path: Path = RESULTS_MD) -> None:
    """Replaces the generated block of RESULTS.md (the prose around it stays)."""
    old = path.read_text() if path.exists() else f"# Benchmark results\n\n{BEGIN}\n{END}\n"
    if BEGIN not in old or END not in old:
        old = old.rstrip() + f"\n\n{BEGIN}\n{END}\n"
    head, rest = old.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    path.write_text(f"{head}{BEGIN}\n{text}\n{END}{tail}")


# ---------------------------------------------------------------------------
# Main.


def availability(run: Run, skip: Sequence[str]) -> None:
    """Finds (and, outside smoke mode, builds or installs) every contender; records why one is missing."""
    av = run.available
    try:
        import essence_wars.vec_env as ve  # noqa: F401

        av["vec_env"] = True if hasattr(ve, "make") else "essence_wars.vec_env has no make() yet"
    except ImportError as e:
        av["vec_env"] = f"essence_wars.vec_env cannot be imported ({e})"
    if "vec_env" in skip:
        av["vec_env"] = "skipped (--skip vec_env)"
    try:
        import gymnasium  # noqa: F401

        import essence_wars.env  # noqa: F401

        av["gymnasium"] = True
    except ImportError as e:
        av["gymnasium"] = f"gymnasium or essence_wars.env missing ({e})"
    if "gym" in skip:
        av["gymnasium"] = "skipped (--skip gym)"

    if "pyo3" in skip:
        av["pyo3"] = "skipped (--skip pyo3)"
    else:
        why = build_pyo3(run.log) if run.plan.build else None
        if why is None:
            try:
                run.pyo3 = load_pyo3()
            except ImportError as e:
                why = f"the built module does not load: {e}"
            if run.pyo3 is None and why is None:
                why = "not built (run benchmarks/pyo3_baseline/build.sh, or a non-smoke run builds it)"
        av["pyo3"] = True if why is None else why

    if "original" in skip:
        av["original"] = "skipped (--skip original)"
    else:
        why = install_original(run.log) if run.plan.build else (
            None if (ORIGINAL_SITE / "essence_wars").exists() else "not installed (a non-smoke run installs it)")
        if why is None:
            try:
                run.original = OriginalProcess()
            except (OSError, RuntimeError, ValueError) as e:
                why = str(e)
        av["original"] = True if why is None else why
    for key, value in av.items():
        run.log(f"  {key:<10} {'ok' if value is True else 'NOT AVAILABLE: ' + str(value)}")


def engines_identical(run: Run) -> Optional[bool]:
    """True when the cffi build and the PyO3 baseline deal the same first observation (same engine source)."""
    if run.pyo3 is None:
        return None
    from essence_wars import core

    with core.Game(SEED, DECK0, DECK1, MODE) as g:
        ours = g.observe()
    return bool(np.array_equal(ours, run.pyo3.PyGame(SEED, DECK0, DECK1, MODE).observe()))


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Results: benchmarks/results/<date>[-quick].json and benchmarks/RESULTS.md.")
    add_arguments(p)
    return p.parse_args(argv)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options (shared with ``essence-wars bench``)."""
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the under-two-minutes mode")
    mode.add_argument("--smoke", action="store_true", help="seconds: checks that the harness runs (tests)")
    p.add_argument("--out", type=Path, default=None,
                   help="directory for the JSON and PNG (default benchmarks/results)")
    p.add_argument("--no-results-md", action="store_true", help="do not update benchmarks/RESULTS.md")
    p.add_argument("--skip", default="", help="comma-separated: vec_env, pyo3, original, gym")
    p.add_argument("--ns", default=None, help="comma-separated vector sizes (overrides the mode's)")
    p.add_argument("--seconds", type=float, default=None, help="measured window per measurement")
    p.add_argument("--repeats", type=int, default=None, help="interleaved rounds (best kept)")
    p.add_argument("--no-build", action="store_true",
                   help="use the cached PyO3 build and original install only; never build or pip install")
    p.add_argument("--render", type=Path, metavar="JSON",
                   help="measure nothing: rewrite RESULTS.md's table from a saved results JSON")


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    return run_benchmarks(parse_args(argv), " ".join(["python benchmarks/run.py", *argv]))


def run_benchmarks(args: argparse.Namespace, command: str) -> int:
    """Runs the benchmarks as ``args`` say; ``command`` is recorded as the command line that ran them."""
    if args.render:
        update_results_md(markdown(json.loads(args.render.read_text())))
        print(f"table: {RESULTS_MD} (from {args.render})")
        return 0
    plan = PLANS["smoke" if args.smoke else "quick" if args.quick else "full"]
    if args.ns:
        ns = sorted({int(x) for x in args.ns.split(",") if x.strip()})
        plan = replace(plan, ns=ns, gym_ns=[n for n in plan.gym_ns if n in ns] or [min(ns)],
                       headline_n=plan.headline_n if plan.headline_n in ns else max(ns))
    if args.seconds:
        plan = replace(plan, seconds=args.seconds)
    if args.repeats:
        plan = replace(plan, repeats=args.repeats)
    if args.no_build:
        plan = replace(plan, build=False)
    skip = [s.strip() for s in args.skip.split(",") if s.strip()]
    out_dir = args.out or RESULTS_DIR
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = _dt.date.today().isoformat() + ("" if plan.mode == "full" else f"-{plan.mode}")

    def log(msg: str) -> None:
        print(msg, flush=True)

    import essence_wars

    started = _dt.datetime.now().astimezone()
    t_start = pc()
    machine = machine_info()
    log(f"Essence Wars peer benchmarks, {plan.mode} mode: {machine['cpu']}, {machine['usable_cores']} usable cores, "
        f"Python {machine['versions']['python']}, {machine['rustc']}")
    log(f"load average at start: {loadavg()}")
    run = Run(plan, log)
    load_start = loadavg()
    idle_start = background_busy(0.2 if plan.mode == "smoke" else 2.0)
    log(f"CPU busy while this run sleeps (others' load): {idle_start}")
    log("contenders:")
    availability(run, skip)
    try:
        identical = engines_identical(run)
        if identical is False:
            log("WARNING: the cffi extension and the PyO3 baseline were built from different rust_core sources; "
                "rebuild the package (pip install -e .) for a like-for-like comparison")
        if run.original is not None:
            log(f"original release: {run.original.hello}")
        section_throughput(run)
        section_game_length(run)
        section_single(run)
        latency = section_latency(run)
        best = best_rows(run.results)
        heads = headline(best, plan)
        profile = None
        if any(h["status"] == "missed" for h in heads) or plan.mode == "smoke":
            w = max(plan.workers)
            ours = [r for r in best.values() if r.get("family") == "vec_env" and r["n"] == plan.headline_n
                    and r["opponent"] == OPPONENT and r.get("section") == "throughput"]
            if ours:
                w = max(ours, key=lambda r: r["steps_per_s"])["workers"]
            log(f"profiling the vec env loop (w={w}, N={plan.headline_n}) ...")
            profile = section_profile(run, plan.headline_n, w)
    finally:
        if run.original is not None:
            run.original.close()
    log("")
    for h in heads:
        if h["status"] == "not available":
            log(f"headline: vs {h['versus']}: not available")
        else:
            log(f"headline: vs {h['versus']} at N={h.get('n')}: {h.get('ratio', float('nan')):.1f}x "
                f"(goal >= {h['goal']:g}x, {h['status']}); best vs best {h['ratio_best']:.1f}x ({h['status_best']})")

    report: Dict[str, Any] = {
        "schema": 1,
        "date": started.date().isoformat(),
        "started": started.isoformat(timespec="seconds"),
        "elapsed_s": round(pc() - t_start, 1),
        "command": command,
        "plan": asdict(plan),
        "machine": machine,
        "essence_wars_version": essence_wars.__version__,
        "load_start": load_start,
        "load_end": loadavg(),
        "background_busy_start": idle_start,
        "background_busy_end": background_busy(0.2 if plan.mode == "smoke" else 2.0),
        "workload": {"decks": [DECK0, DECK1], "mode": MODE, "opponent": OPPONENT, "agent_seat": 0,
                     "original_decks": list(ORIGINAL_DECKS), "actions": "uniform random legal (NumPy, from masks)"},
        "available": {k: (v is True) for k, v in run.available.items()},
        "unavailable": {k: v for k, v in run.available.items() if v is not True},
        "original": run.original.hello if run.original is not None else None,
        "engines_identical": identical,
        "results": run.results,
        "errors": run.errors,
        "best": sorted(best.values(), key=lambda r: (r.get("section", ""), r["contender"], r["opponent"], r["n"])),
        "headline": heads,
        "latency": latency,
        "profile": profile,
        "plot": None,
    }
    if profile is not None:
        profile["analysis"] = analysis(report)
    png = out_dir / f"{stem}.png"
    why = plot(best, plan, png)
    if why:
        log(f"no plot: {why}")
    else:
        report["plot"] = png.name
        log(f"plot: {png}")
    json_path = out_dir / f"{stem}.json"
    json_path.write_text(json.dumps(report, indent=1, default=float) + "\n")
    log(f"results: {json_path}")
    if not args.no_results_md and plan.mode != "smoke":
        update_results_md(markdown(report))
        log(f"table: {RESULTS_MD}")
    return 0


def analysis(report: Dict[str, Any]) -> str:
    """Why a goal was missed, from a run's own numbers: each side's time per
    vector step split into sampler, engine and the rest, and the engine's ceiling."""
    profile = report["profile"]
    best = {(r["contender"], r["n"], r["opponent"]): r for r in report["best"]}
    native_ns = profile["native_ns_per_game_step"]
    ceiling = profile["native_ceiling_steps_per_s_one_core"]
    cores = report["machine"].get("usable_cores") or 1

    def split(r: Dict[str, Any], engine_us: Optional[float]) -> str:
        total, ph = r["us_per_vec_step"], r.get("phases_us") or {}
        parts = [f"sampler {ph.get('sampler', 0):,.0f} ({100 * ph.get('sampler', 0) / total:.0f}%)"]
        if engine_us is not None:
            other = total - ph.get("sampler", 0) - engine_us
            parts.append(f"Rust engine ~{engine_us:,.0f} ({100 * engine_us / total:.0f}%)")
            parts.append(f"Python, copies and hand-offs ~{max(other, 0):,.0f} ({100 * max(other, 0) / total:.0f}%)")
        else:
            for k in ("step", "resets", "reads"):
                if ph.get(k):
                    parts.append(f"{k} {ph[k]:,.0f} ({100 * ph[k] / total:.0f}%)")
        return f"{total:,.0f} µs per vector step = " + ", ".join(parts)

    lines = []
    for h in report["headline"]:
        if h["status"] != "missed":
            continue
        n = h["n"]
        ours = best[(h["ours_config"], n, OPPONENT)]
        theirs = best[(h["theirs_config"], n, OPPONENT)]
        workers = max(ours.get("workers") or 0, 1)
        # Measured apart from the loop, so on a noisy machine it can exceed the step call it is part of.
        engine_us = min(native_ns * n / 1e3 / workers, (ours.get("phases_us") or {}).get("step", float("inf")))
        cap = ceiling * cores / h["theirs_steps_per_s"]
        lines.append(
            f"- **vs {h['versus']}** (N={n}): {h['ratio']:.1f}× for a goal of {h['goal']:g}×. "
            f"Ours ({ours['contender']}): {split(ours, engine_us)}. "
            f"Theirs ({theirs['contender']}): {split(theirs, None)}. "
            f"The Rust engine alone ({native_ns:,.0f} ns per agent step with the opponent's turn and the encoding) "
            f"allows at most ~{fmt_rate(ceiling)} steps/s per core, ~{fmt_rate(ceiling * cores)} on the {cores} "
            f"cores here, i.e. {cap:.1f}× the peer: "
            + ("so the goal cannot be reached on this machine by any binding of this engine."
               if cap < h["goal"] else
               "the engine leaves room; the gap is our per-step overhead at this N (above).")
        )
    busy = [b for b in (report.get("background_busy_start"), report.get("background_busy_end")) if b is not None]
    if busy and max(busy) > 0.25:
        lines.append(
            f"- Other processes kept the CPUs busy during this run (CPU busy while it slept: {', '.join(map(str, busy))};"
            " 1.0 = every core): worker processes and rayon threads had no idle core to run on, so the scaling "
            "with workers and every 2-core ceiling above are not what a quiet machine shows. Re-run there.")
    if report.get("engines_identical") is False:
        lines.append("- Caveat: the cffi extension and the PyO3 baseline were built from different rust_core "
                     "sources in this run, so the engine time differs between them.")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
