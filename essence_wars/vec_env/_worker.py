"""The worker process: attach the ring, run one shard, answer commands until told to stop.

Kept free of Gymnasium imports so a spawned worker starts fast.

Lifetime rules (see docs/VEC_ENV.md, "Faults"):

- SIGINT is ignored: Ctrl-C is the learner's business; its ``close()`` (or
  its exit, or its death) stops the workers.
- The worker watches the learner: a ``pidfd`` (Linux >= 5.3) becomes
  readable when the learner exits, whatever its parent is (with
  ``forkserver`` the parent is the fork server, not the learner); without
  pidfd it falls back to ``os.getppid()`` changing. It checks whenever its
  blocking wait times out (``WATCH_INTERVAL``), so an orphaned worker exits
  within about that long. ``PR_SET_PDEATHSIG`` is not used: it fires when
  the *thread* that forked the worker exits, which would kill the workers of
  a vector env built in a short-lived thread.
- A daemon thread bumps ``ctrl[HEARTBEAT]`` every ``HEARTBEAT_INTERVAL``, even
  during a long native step (cffi releases the GIL), so the learner tells a
  slow step (MCTS opponents) from a hung or stopped worker.
- The ring's name is registered with nobody here: the learner unlinks it once
  every worker has attached, and Python's resource tracker must not unlink
  or warn about it a second time.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
from multiprocessing import shared_memory

import numpy as np

from essence_wars.vec_env import _ring as R
from essence_wars.vec_env import _handoff
from essence_wars.vec_env._handoff import Spinner, WorkerSide

_sched_yield = getattr(os, "sched_yield", lambda: None)

HEARTBEAT_INTERVAL = 0.1
WATCH_INTERVAL = 0.1


def attach(name: str) -> shared_memory.SharedMemory:
    """Opens the ring by name without registering it with the resource tracker."""
    if sys.version_info >= (3, 13):
        return shared_memory.SharedMemory(name=name, create=False, track=False)
    if os.name != "posix":  # no resource tracker for shared memory on Windows
        return shared_memory.SharedMemory(name=name, create=False)
    # Before 3.13, SharedMemory registers every attach with the resource tracker
    # (bpo-39959), which would unlink the segment (and warn) when this process
    # exits. Unregistering afterwards races with the learner's own unregister
    # (the tracker's set would see two removals of one name), so the register
    # call is skipped instead, in this process only.
    from multiprocessing import resource_tracker

    register = resource_tracker.register
    resource_tracker.register = lambda *args, **kwargs: None
    try:
        return shared_memory.SharedMemory(name=name, create=False)
    finally:
        resource_tracker.register = register


class LearnerWatch:
    """Tells whether the learner process still runs."""

    def __init__(self, learner_pid: int):
        self.pid = learner_pid
        self.parent = os.getppid()
        self.fd = None
        self.parent_process = None
        try:
            self.fd = os.pidfd_open(learner_pid)  # Linux >= 5.3
        except (AttributeError, OSError):
            import multiprocessing

            parent = multiprocessing.parent_process()
            if parent is not None and parent.pid == learner_pid:
                self.parent_process = parent  # waits on a sentinel: works on every platform

    def alive(self) -> bool:
        if self.fd is not None:
            readable, _, _ = select.select([self.fd], [], [], 0)
            return not readable
        if self.parent_process is not None:
            return self.parent_process.is_alive()
        if os.name == "posix":
            try:
                os.kill(self.pid, 0)  # (never on Windows, where os.kill terminates)
                return True
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
        return True


def _heartbeat(ctrl_row, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_INTERVAL):
        ctrl_row[R.HEARTBEAT] += 1


def _report_error(views, w: int, exc: BaseException) -> None:
    text = f"{type(exc).__name__}: {exc}".encode("utf-8", "replace")[: R.ERR_BYTES]
    views["errors"][w, : len(text)] = np.frombuffer(text, dtype=np.uint8)
    views["ctrl"][w, R.ERRLEN] = len(text)


def worker_main(w: int, shm_name: str, layout: R.RingLayout, cfg, lo: int, hi: int, handoff_args,
                spin_budget: float, learner_pid: int) -> None:
    """Entry point of worker ``w`` (envs ``lo .. hi-1``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch = LearnerWatch(learner_pid)
    shm = attach(shm_name)
    views = layout.views(shm.buf)
    ctrl = views["ctrl"][w]
    ctrl[R.PID] = os.getpid()
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(ctrl, stop), name=f"ew-vec-heartbeat-{w}", daemon=True).start()
    hand = WorkerSide(*handoff_args, ctrl_row=ctrl)
    runner = None
    try:
        from essence_wars.vec_env._shard import ShardRunner

        runner = ShardRunner(cfg, views, lo, hi, layout.ring_slots)
        ctrl[R.STATUS] = R.STATUS_OK
    except BaseException as exc:  # reported to the learner, which raises it
        _report_error(views, w, exc)
        ctrl[R.STATUS] = R.STATUS_ERROR
    ctrl[R.DONE_SEQ] = ctrl[R.CMD_SEQ]
    hand.finished()
    spinner = Spinner(spin_budget)
    idle_since = time.perf_counter()
    try:
        while runner is not None:
            # Wait for a command. The hand-off was chosen by measurement (_handoff.py,
            # docs/VEC_ENV.md): spin on the semaphore while the learner's recent
            # turnarounds were short enough to catch (yielding the core between
            # polls: on 2 cores a spinner must not starve the learner), then block
            # on it, waking every WATCH_INTERVAL to check that the learner lives.
            got = False
            budget = spinner.spin_for()
            if budget:
                end = idle_since + budget
                while not got:
                    for _ in range(16):
                        if hand.try_take():
                            got = True
                            break
                    else:
                        if time.perf_counter() > end:
                            break
                        if _handoff.SPIN_YIELD:
                            _sched_yield()
            while not got:
                got = hand.take(WATCH_INTERVAL)
                if not got and not watch.alive():
                    return  # orphaned: the learner is gone
            spinner.record(time.perf_counter() - idle_since)
            seq = ctrl[R.CMD_SEQ]
            cmd = int(ctrl[R.CMD])
            if cmd == R.CMD_CLOSE:
                ctrl[R.STATUS] = R.STATUS_OK
                ctrl[R.DONE_SEQ] = seq
                hand.finished()
                return
            try:
                slot = int(ctrl[R.SLOT])
                if cmd == R.CMD_STEP:
                    runner.step(slot)
                elif cmd == R.CMD_STEP_SUBSET:
                    runner.step(slot, int(ctrl[R.COUNT]))
                elif cmd == R.CMD_RESET:
                    runner.reset(slot, bool(ctrl[R.SEEDED]))
                else:
                    raise RuntimeError(f"unknown command {cmd}")
                status = R.STATUS_OK
            except Exception as exc:  # reported to the learner, which raises it
                _report_error(views, w, exc)
                status = R.STATUS_ERROR
            ctrl[R.STATUS] = status
            ctrl[R.DONE_SEQ] = seq
            idle_since = time.perf_counter()
            hand.finished()
    finally:
        stop.set()
        if runner is not None:
            runner.close()
        del runner, views, ctrl, hand
        R.release_shm(shm)
