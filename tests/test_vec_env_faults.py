"""Fault injection for the shared-memory vector env: dead and hung workers,
worker errors, close() twice, garbage collection without close(), Ctrl-C and
SIGKILL of the learner. Afterwards no worker process and no /dev/shm segment
may be left. Linux only (signals, /proc and /dev/shm)."""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from essence_wars.core import END_TURN
from essence_wars.vec_env import WorkerDiedError, WorkerError, WorkerTimeoutError, make

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals, /proc and /dev/shm: Linux")

SHM = Path("/dev/shm")
METHODS = [m for m in ("fork", "spawn", "forkserver") if m in mp.get_all_start_methods()]
ROOT = Path(__file__).resolve().parent.parent


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_gone(pids, within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.02)
    return False


def our_segments(pid: int = None) -> list:
    pid = os.getpid() if pid is None else pid
    return sorted(p.name for p in SHM.glob(f"ew_vec_{pid}_*"))


def legal_step(env, obs):
    mask = obs["action_mask"].astype(bool)
    return env.step(np.where(mask.any(1), np.argmax(mask, 1), END_TURN))


@pytest.fixture(autouse=True)
def no_leaks():
    before = set(p.pid for p in mp.active_children())
    yield
    gc.collect()
    extra = [p for p in mp.active_children() if p.pid not in before and p.name.startswith("ew-vec-worker")]
    assert not extra, f"worker processes left: {extra}"
    assert our_segments() == [], "a /dev/shm segment was left"


@pytest.mark.parametrize("method", METHODS)
def test_the_segment_is_unlinked_once_workers_attached(method):
    env = make(4, num_workers=2, start_method=method, seed=0)
    try:
        assert our_segments() == [], "the name is removed right after start"
        obs, _ = env.reset()
        legal_step(env, obs)
    finally:
        env.close()
    assert wait_gone(env.worker_pids, 0.5) if env.worker_pids else True


def test_close_twice_and_worker_pids_gone():
    env = make(4, num_workers=2, seed=0)
    pids = env.worker_pids
    assert len(pids) == 2 and all(alive(p) for p in pids)
    env.close()
    env.close()
    assert wait_gone(pids, 1.0)


def test_garbage_collection_without_close_stops_workers():
    env = make(4, num_workers=2, seed=0)
    obs, _ = env.reset()
    legal_step(env, obs)
    pids = env.worker_pids
    del env, obs
    gc.collect()
    assert wait_gone(pids, 3.0)


def test_views_held_after_close_stay_readable():
    env = make(4, num_workers=1, seed=0)
    obs, _ = env.reset()
    expected = obs["observation"].copy()
    env.close()
    np.testing.assert_array_equal(obs["observation"], expected)  # the mapping lives while views do


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_a_dead_worker_is_named_within_the_timeout(sig):
    env = make(6, num_workers=2, seed=0, timeout=2.0)
    try:
        obs, _ = env.reset()
        obs, *_ = legal_step(env, obs)
        victim = env.worker_pids[1]
        os.kill(victim, sig)
        assert wait_gone([victim], 2.0)
        t0 = time.monotonic()
        with pytest.raises(WorkerDiedError, match=rf"worker 1 \(pid {victim}, envs 3..5\) was killed by signal"):
            legal_step(env, obs)
        assert time.monotonic() - t0 < 1.0
        with pytest.raises(RuntimeError, match="unusable"):
            env.reset()
    finally:
        env.close()


def test_a_worker_killed_mid_step_is_detected():
    # Every env ends its turn, so the bot (mcts-300) plays a whole turn in each: a step of about 0.35 s on an
    # idle machine, far longer than the 50 ms before the kill. (With mcts-50 and the first legal action the
    # step took about 60 ms, so on a fast machine it could finish before the kill, and nothing was raised.)
    env = make(256, num_workers=2, seed=0, opponent="mcts-300", timeout=2.0)
    try:
        obs, _ = env.reset()
        assert obs["action_mask"][:, END_TURN].all()
        env.step_async(np.full(256, END_TURN))
        time.sleep(0.05)
        os.kill(env.worker_pids[0], signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(WorkerDiedError) as info:
            env.step_wait()
        assert time.monotonic() - t0 < 1.5
        assert info.value.worker == 0 and info.value.exitcode == -signal.SIGKILL
    finally:
        env.close()


def test_a_stopped_worker_times_out_and_close_still_cleans_up():
    env = make(4, num_workers=2, seed=0, timeout=1.0)
    pids = env.worker_pids
    try:
        obs, _ = env.reset()
        os.kill(pids[0], signal.SIGSTOP)
        t0 = time.monotonic()
        with pytest.raises(WorkerTimeoutError, match=r"worker 0 .* no sign of life") as info:
            legal_step(env, obs)
        assert 0.9 < time.monotonic() - t0 < 2.5
        assert isinstance(info.value, TimeoutError)
    finally:
        env.close()
    assert wait_gone(pids, 1.0)


def test_a_slow_step_is_not_a_hang():
    """A step longer than the timeout is fine while the worker's heartbeat goes on."""
    kw = dict(seed=0, opponent="mcts-1000", agent_seat=1)  # the bot moves first: every step is slow
    probe = make(4, num_workers=0, **kw)
    try:  # calibrate: enough envs for a step of about 1 s on this machine
        t0 = time.monotonic()
        obs, _ = probe.reset()
        legal_step(probe, obs)
        per_env = (time.monotonic() - t0) / 8
    finally:
        probe.close()
    n = int(min(512, max(4, 1.0 / max(per_env, 1e-4))))
    env = make(n, num_workers=1, timeout=0.3, **kw)
    try:
        obs, _ = env.reset()
        t0 = time.monotonic()
        legal_step(env, obs)
        took = time.monotonic() - t0
    finally:
        env.close()
    if took < 0.4:
        pytest.skip(f"could not make a step slower than the timeout ({took:.2f} s)")


def test_a_worker_error_is_reported_with_its_message():
    env = make(4, num_workers=2, seed=0)
    try:
        env.reset()
        env._command(1, 99, 0)  # a command no worker knows
        with pytest.raises(WorkerError, match=r"worker 1 .* failed .*unknown command 99"):
            env._wait([1], 1, 2.0, "testing")
    finally:
        env.close()


def test_an_interrupted_step_wait_can_be_resumed():
    """Ctrl-C while waiting leaves the env consistent: step_wait again returns the step."""
    kw = dict(seed=4, opponent="mcts-500", agent_seat=1)  # each step: a whole MCTS turn per env (~0.1 s)
    env = make(16, num_workers=2, **kw)
    ref = make(16, num_workers=0, **kw)

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    try:
        obs, _ = env.reset()
        ref.reset()
        actions = np.argmax(obs["action_mask"], axis=1)
        env.step_async(actions)
        signal.setitimer(signal.ITIMER_REAL, 0.01)
        with pytest.raises(KeyboardInterrupt):
            env.step_wait()
        got = env.step_wait()
        want = ref.step(actions)
        np.testing.assert_array_equal(got[0]["observation"], want[0]["observation"])
        np.testing.assert_array_equal(got[1], want[1])
        legal_step(env, got[0])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        env.close()
        ref.close()


def run_learner(code: str, method: str):
    script = textwrap.dedent(f"""
        import json, sys, time
        import numpy as np
        from essence_wars.vec_env import make
        env = make(8, num_workers=2, start_method={method!r}, seed=0, opponent="greedy")
        obs, _ = env.reset()
        print(json.dumps({{"workers": env.worker_pids}}), flush=True)
    """) + textwrap.dedent(code)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=str(ROOT), start_new_session=True)
    line = proc.stdout.readline()
    if not line:
        raise AssertionError(f"the learner did not start: {proc.stderr.read()}")
    return proc, json.loads(line)["workers"]


STEP_FOREVER = """
    while True:
        mask = obs["action_mask"].astype(bool)
        obs, *_ = env.step(np.where(mask.any(1), np.argmax(mask, 1), 255))
"""


@pytest.mark.parametrize("method", METHODS)
def test_sigkill_of_the_learner_leaves_nothing(method):
    proc, workers = run_learner(STEP_FOREVER, method)
    try:
        time.sleep(0.2)
        proc.kill()
        proc.wait(5)
        assert wait_gone(workers, 3.0), "orphaned workers must exit"
        assert our_segments(proc.pid) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_ctrl_c_in_the_learner_leaves_nothing(method):
    proc, workers = run_learner(STEP_FOREVER, method)
    try:
        time.sleep(0.2)
        os.killpg(proc.pid, signal.SIGINT)  # the terminal's Ctrl-C: the whole process group
        proc.wait(10)
        err = proc.stderr.read()
        assert "KeyboardInterrupt" in err
        assert "resource_tracker" not in err and "leaked" not in err, err
        assert wait_gone(workers, 3.0)
        assert our_segments(proc.pid) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stdout.close()
        proc.stderr.close()


def test_exit_without_close_is_clean():
    proc, workers = run_learner("obs, *_ = env.step(np.argmax(obs['action_mask'], 1))\n", "fork")
    proc.wait(10)
    err = proc.stderr.read()
    proc.stdout.close()
    proc.stderr.close()
    assert proc.returncode == 0, err
    assert err == "", err
    assert wait_gone(workers, 2.0)
    assert our_segments(proc.pid) == []
