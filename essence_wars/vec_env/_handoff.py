"""How the learner and a worker wake each other: four interchangeable mechanisms.

The command itself always travels through the ring's ``ctrl`` record; a
handoff only says "look now". ``benchmarks/bench_vec_env.py --handoff``
measures all four on the machine at hand, raw and inside the vector env.

Why ``"hybrid"`` is the default (measured on the 2-core AMD EPYC VM this was
written on; docs/VEC_ENV.md has the tables):

- raw round trip learner -> worker -> learner: pipe 20-33 us, Event 21 us,
  blocking semaphore or eventfd 6-10 us (45-53 us under heavy load), spin
  on a sequence number in shared memory 0.6 us, hybrid 0.4-11 us;
- but a spinner that never yields is only fast while it has a core of its
  own: with the learner and two workers on two cores, two idle spinners make
  the learner's own compute 2-4x slower, and a spinner sharing a core with
  its partner delays it by its whole budget (80-430 us round trips, for a
  seq-number spin with a sleep fallback too);
- inside the env the hybrid matched the best alternative in every
  configuration (self-play, N=64 and 1024, 1 and 2 workers); the pipe lost
  up to 2x at N=64, the bounded seq-number spin up to 30% at N=1024.

The mechanisms:

- ``"hybrid"`` (default): a bounded spin on ``sem_trywait`` (a user-space
  atomic: no syscall) of a POSIX semaphore, with ``sched_yield()`` between
  batches of polls so a spinner never keeps its partner off a shared core,
  then a blocking timed wait on it. The spin is adaptive (:class:`Spinner`):
  a side spins only while its recent waits were short enough to catch, so
  at large N (millisecond steps) both sides block at once and an idle side
  costs nothing.
- ``"semaphore"``: the same semaphores, blocking at once (no spin).
- ``"pipe"``: one byte over a ``multiprocessing`` Pipe each way.
- ``"spin"``: both sides poll sequence numbers in the shared ``ctrl``
  record, with a short sleep after the spin budget so an idle side yields
  its core. (Relies on x86's ordered stores; kept for measurement.)

Memory ordering: with the semaphore and pipe mechanisms the learner only
reads a worker's rows after acquiring *that worker's* post (release on
``sem_post``, acquire on ``sem_trywait``/``sem_wait``; pipes are syscalls),
so the hand-off is correct on weakly ordered CPUs too.
"""

from __future__ import annotations

import time
from multiprocessing.connection import wait as _wait_connections
from typing import Iterable, List

from essence_wars.vec_env._ring import CMD_SEQ, DONE_SEQ

HANDOFFS = ("hybrid", "semaphore", "pipe", "spin")
#: Whether spinning sides call sched_yield() between polls (see docs/VEC_ENV.md).
SPIN_YIELD = True
#: Sleep of the "spin" mechanism once its spin budget is spent (the kernel rounds it up).
SPIN_SLEEP = 20e-6


class LearnerSide:
    """The learner's end for ``num_workers`` workers."""

    def __init__(self, kind: str, ctx, num_workers: int, ctrl):
        self.kind = kind
        self.ctrl = ctrl
        self.go = self.done = self.any = self.conns = self.worker_args = None
        if kind in ("hybrid", "semaphore"):
            self.go = [ctx.Semaphore(0) for _ in range(num_workers)]
            self.done = [ctx.Semaphore(0) for _ in range(num_workers)]
            self.any = ctx.Semaphore(0)
            self.worker_args = [(kind, self.go[w], self.done[w], self.any, None) for w in range(num_workers)]
        elif kind == "pipe":
            pairs = [ctx.Pipe(duplex=True) for _ in range(num_workers)]
            self.conns = [a for a, _b in pairs]
            self.worker_args = [(kind, None, None, None, b) for _a, b in pairs]
        elif kind == "spin":
            self.worker_args = [(kind, None, None, None, None) for _ in range(num_workers)]
        else:
            raise ValueError(f"unknown handoff {kind!r}; valid: {', '.join(HANDOFFS)}")

    def after_start(self) -> None:
        """Drops the learner's copies of the workers' pipe ends (so a dead worker reads as EOF)."""
        if self.kind == "pipe":
            for args in self.worker_args:
                args[4].close()

    def signal(self, w: int) -> None:
        """Worker ``w`` has a new command in ``ctrl``."""
        if self.go is not None:
            self.go[w].release()
        elif self.conns is not None:
            self.conns[w].send_bytes(b"c")

    def poll(self, outstanding: Iterable[int]) -> List[int]:
        """The outstanding workers whose completion is confirmed now (each reported once)."""
        found = []
        if self.done is not None:
            for w in outstanding:
                if self.done[w].acquire(False):
                    found.append(w)
        elif self.conns is not None:
            for w in outstanding:
                c = self.conns[w]
                try:
                    if c.poll(0):
                        c.recv_bytes()
                        found.append(w)
                except (EOFError, OSError):
                    pass  # the worker is gone: the liveness check names it
        else:
            ctrl = self.ctrl
            for w in outstanding:
                if ctrl[w, DONE_SEQ] == ctrl[w, CMD_SEQ]:
                    found.append(w)
        return found

    def block(self, outstanding: List[int], timeout: float) -> None:
        """Sleeps until some outstanding worker may have finished, or ``timeout`` seconds."""
        if self.any is not None:
            self.any.acquire(True, timeout)  # a hint only: poll() confirms
        elif self.conns is not None:
            _wait_connections([self.conns[w] for w in outstanding], timeout)
        else:
            time.sleep(min(SPIN_SLEEP, timeout))

    def close(self) -> None:
        if self.conns is not None:
            for c in self.conns:
                try:
                    c.close()
                except OSError:
                    pass


class WorkerSide:
    """A worker's end (built in the worker from ``LearnerSide.worker_args[w]``)."""

    def __init__(self, kind, go, done, any_done, conn, ctrl_row):
        self.kind = kind
        self.go, self.done, self.any, self.conn = go, done, any_done, conn
        self.ctrl = ctrl_row
        self.seen = int(ctrl_row[CMD_SEQ])

    def try_take(self) -> bool:
        """True (and the signal consumed) when a command is waiting."""
        if self.go is not None:
            return self.go.acquire(False)
        if self.conn is not None:
            if self.conn.poll(0):
                self.conn.recv_bytes()
                return True
            return False
        seq = int(self.ctrl[CMD_SEQ])
        if seq != self.seen:
            self.seen = seq
            return True
        return False

    def take(self, timeout: float) -> bool:
        """Blocks up to ``timeout`` seconds for a command."""
        if self.go is not None:
            return self.go.acquire(True, timeout)
        if self.conn is not None:
            if self.conn.poll(timeout):
                self.conn.recv_bytes()
                return True
            return False
        deadline = time.monotonic() + timeout
        while True:
            if self.try_take():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(SPIN_SLEEP)

    def finished(self) -> None:
        """The command is done (``DONE_SEQ`` and ``STATUS`` already written)."""
        if self.done is not None:
            self.done.release()
            self.any.release()
        elif self.conn is not None:
            self.conn.send_bytes(b"d")


class Spinner:
    """Adaptive spin budget: spin only while recent waits were short enough to catch.

    ``budget`` seconds of spinning is tried when the moving average of the
    recent waits is below ``4 * budget``; otherwise the caller blocks at once
    (on a 2-core machine a spinning side steals the core the other side needs).
    """

    __slots__ = ("budget", "avg")

    def __init__(self, budget: float):
        self.budget = budget
        self.avg = 0.0

    def spin_for(self) -> float:
        return self.budget if self.avg < 4.0 * self.budget else 0.0

    def record(self, waited: float) -> None:
        self.avg += 0.2 * (waited - self.avg)
