"""Throughput of the shared-memory vector env (prints numbers; not a test).

    python benchmarks/bench_vec_env.py                 # the full table + AsyncVectorEnv
    python benchmarks/bench_vec_env.py --handoff       # also the hand-off measurements
    python benchmarks/bench_vec_env.py --quick         # a short run (CI smoke)

The learner does what a training loop's rollout does, minus the network:
each step it samples a uniformly random legal action for every env from
``action_masks()`` (vectorised NumPy, exact: the legal indices of all rows
from one ``flatnonzero``, one uniform pick per row) and reads every
observation (a sum over the whole ``[N, 326]`` array). Env steps/s counts
one per env per ``step`` (agent actions; a bot's moves inside a step are not
counted).

The comparison runs ``gymnasium.vector.AsyncVectorEnv`` over the single env
(``essence_wars.env.EssenceWarsEnv``, one process per env) with the same
learner, in the same run, at the sizes that make sense for one process per
env on this machine; the ratio compares total env steps/s, best vec-env
configuration against best Async configuration.

``--handoff`` measures the ways a learner and a worker can wake each other
(docs/VEC_ENV.md, "Hand-off"): raw round trips between two processes, the
cost that idle waiters impose on a learner computing on the same cores, and
each mechanism inside the vector env.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from multiprocessing import shared_memory

import numpy as np

# -----------------------------------------------------------------------------
# The learner's work.


def sample_legal(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random legal action per row of a bool/uint8 ``[N, 256]`` mask
    (every row must have one; ``action_masks()`` guarantees it)."""
    flat = np.flatnonzero(mask)
    count = np.bincount(flat >> 8, minlength=mask.shape[0])
    start = np.cumsum(count) - count
    pick = start + (rng.random(mask.shape[0]) * count).astype(np.int64)
    return flat[pick] & 255


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    cores = os.cpu_count()
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = cores
    load = ""
    if hasattr(os, "getloadavg"):
        load = " load average %.2f %.2f %.2f" % os.getloadavg()
    return (f"{model}, {cores} logical cores ({usable} usable); Python {platform.python_version()}, "
            f"NumPy {np.__version__}, {platform.system()} {platform.release()};{load}")


def cpu_seconds(pids) -> float:
    """CPU time (user + system) of this process and ``pids`` (Linux /proc; else this process only)."""
    total = time.process_time()
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


#: Env steps per CPU-second of the last bench_vec run (learner + workers).
LAST_CPU_RATE = [0.0]


def bench_vec(n: int, workers: int, opponent, seconds: float, handoff: str = "hybrid", **kwargs) -> float:
    """Env steps/s of SharedMemoryVectorEnv with the random-legal learner (wall clock); the
    steps per CPU-second of all its processes go to LAST_CPU_RATE."""
    from essence_wars.vec_env import make

    env = make(n, num_workers=workers, opponent=opponent, seed=0, handoff=handoff, **kwargs)
    try:
        obs, info = env.reset()
        rng = np.random.default_rng(0)
        total = 0.0

        def step() -> None:
            nonlocal obs, total
            obs, rew, term, trunc, info = env.step(sample_legal(env.action_masks(), rng))
            total += float(obs["observation"].sum())

        for _ in range(5):
            step()
        pids = env.worker_pids
        steps, t0, c0 = 0, time.perf_counter(), cpu_seconds(pids)
        while True:
            for _ in range(5):
                step()
            steps += 5
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                LAST_CPU_RATE[0] = n * steps / max(cpu_seconds(pids) - c0, 1e-9)
                return n * steps / elapsed
    finally:
        env.close()


def bench_pool(n: int, workers: int, batch: int, opponent, seconds: float) -> float:
    """Env steps/s in EnvPool style: step_wait returns ``batch`` envs, the learner answers
    them with step_async(actions, env_ids) while the other envs are being stepped."""
    from essence_wars.vec_env import make

    env = make(n, num_workers=workers, opponent=opponent, seed=0, batch_size=batch)
    try:
        obs, info = env.reset()
        rng = np.random.default_rng(0)
        total = 0.0
        env.step_async(sample_legal(env.action_masks(), rng), env_ids=np.arange(n))
        steps, t0 = 0, None
        while True:
            obs, rew, term, trunc, info = env.step_wait()
            actions = sample_legal(env.action_masks(), rng)
            total += float(obs["observation"].sum())
            env.step_async(actions, env_ids=info["env_id"])
            if t0 is None:
                t0 = time.perf_counter()
                continue
            steps += batch
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                return steps / elapsed
    finally:
        env.close()


def bench_async(n: int, opponent, seconds: float) -> float:
    """Env steps/s of gymnasium's AsyncVectorEnv over EssenceWarsEnv, same learner."""
    import gymnasium as gym

    from essence_wars.env import EssenceWarsEnv

    def make_one():
        return EssenceWarsEnv(opponent=opponent)

    env = gym.vector.AsyncVectorEnv([make_one] * n)
    try:
        obs, info = env.reset(seed=0)
        rng = np.random.default_rng(0)
        total = 0.0

        def masks(obs):
            m = obs["action_mask"].astype(bool)
            m[~m.any(axis=1), 255] = True  # a finished row (next-step autoreset ignores its action)
            return m

        def step() -> None:
            nonlocal obs, total
            obs, rew, term, trunc, info = env.step(sample_legal(masks(obs), rng))
            total += float(obs["observation"].sum())

        for _ in range(3):
            step()
        steps, t0 = 0, time.perf_counter()
        while True:
            step()
            steps += 1
            elapsed = time.perf_counter() - t0
            if elapsed >= seconds:
                return n * steps / elapsed
    finally:
        env.close()


# -----------------------------------------------------------------------------
# Hand-off measurements: two processes ping-ponging, each mechanism.

ROUNDS = 5000
SPIN = 100e-6


def _pipe_partner(conn):
    while conn.recv_bytes() != b"q":
        conn.send_bytes(b"d")


_yield = getattr(os, "sched_yield", lambda: None)


def _spin_acquire(sem, spin: float, polite: bool) -> bool:
    """Polls ``sem`` for up to ``spin`` seconds in batches of 16 tries (as the vec env's
    workers and learner do), calling sched_yield() between batches when ``polite``."""
    t_end = time.perf_counter() + spin
    while time.perf_counter() < t_end:
        for _ in range(16):
            if sem.acquire(False):
                return True
        if polite:
            _yield()
    return False


def _sem_partner(go, done, spin, polite):
    while True:
        if not (spin and _spin_acquire(go, spin, polite)):
            go.acquire()
        done.release()


def _event_partner(go, done):
    while True:
        go.wait()
        go.clear()
        done.set()


def _eventfd_partner(fd_go, fd_done):
    while True:
        os.eventfd_read(fd_go)
        os.eventfd_write(fd_done, 1)


def _seq_partner(name, spin, forever):
    shm = shared_memory.SharedMemory(name=name)
    seq = np.ndarray((16,), np.int64, buffer=shm.buf)
    last = 0
    while True:
        t_end = time.perf_counter() + spin
        while seq[0] == last:
            if not forever and time.perf_counter() > t_end:
                time.sleep(20e-6)  # the kernel rounds this up (timer slack): 60-80 us
        last = int(seq[0])
        if last < 0:
            return
        seq[8] = last


def _round_trip(fn) -> tuple:
    """(best, worst) mean round trip in microseconds over 5 runs of ROUNDS (the spread
    shows how much it depends on where the scheduler puts the two processes)."""
    for _ in range(200):
        fn()
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(ROUNDS):
            fn()
        runs.append((time.perf_counter() - t0) / ROUNDS * 1e6)
    return min(runs), max(runs)


def _busy_work() -> float:
    """The learner's compute: seconds for a fixed NumPy job (best of 5)."""
    a = np.random.default_rng(0).random(400_000)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(5):
            np.sort(a)
        best = min(best, time.perf_counter() - t0)
    return best


def handoff_raw(ctx) -> None:
    print("\n## Hand-off: raw round trip learner -> partner -> learner (1 partner), and what")
    print("## 2 idle partners waiting that way cost a learner computing on the same cores\n")
    rows = []
    base = [_busy_work()]

    def idle_cost(procs) -> float:
        """The learner's compute time with ``procs`` idle-waiting, relative to the time
        measured just before they started (interleaved, so machine load mostly cancels)."""
        time.sleep(0.05)
        with_waiters = _busy_work()
        for q in procs:
            q.kill()
            q.join()
        alone = _busy_work()
        return with_waiters / min(alone, base[0])

    # pipe
    a, b = ctx.Pipe()
    p = ctx.Process(target=_pipe_partner, args=(b,), daemon=True)
    p.start()

    def f():
        a.send_bytes(b"g")
        a.recv_bytes()

    rt = _round_trip(f)
    conns = [ctx.Pipe() for _ in range(2)]
    idle = [ctx.Process(target=_pipe_partner, args=(c[1],), daemon=True) for c in conns]
    for q in idle:
        q.start()
    rows.append(("pipe (Connection send_bytes/recv_bytes)", rt, idle_cost(idle)))
    a.send_bytes(b"q")
    p.join()

    # semaphores (blocking) and hybrid (spin on sem_trywait, then block), with and
    # without sched_yield() between polls
    for label, spin, polite in (
            ("semaphore (multiprocessing.Semaphore, blocking)", 0.0, False),
            (f"hybrid: spin <= {SPIN * 1e6:.0f} us on sem_trywait + sched_yield, then block (chosen)", SPIN, True),
            (f"hybrid without sched_yield (spin <= {SPIN * 1e6:.0f} us, then block)", SPIN, False)):
        go, done = ctx.Semaphore(0), ctx.Semaphore(0)
        p = ctx.Process(target=_sem_partner, args=(go, done, spin, polite), daemon=True)
        p.start()

        def f(go=go, done=done, spin=spin, polite=polite):
            go.release()
            if not (spin and _spin_acquire(done, spin, polite)):
                done.acquire()

        rt = _round_trip(f)
        idle = [ctx.Process(target=_sem_partner, args=(ctx.Semaphore(0), ctx.Semaphore(0), spin, polite),
                            daemon=True) for _ in range(2)]
        for q in idle:
            q.start()
        rows.append((label, rt, idle_cost(idle)))
        p.kill()
        p.join()

    # Event
    go, done = ctx.Event(), ctx.Event()
    p = ctx.Process(target=_event_partner, args=(go, done), daemon=True)
    p.start()

    def f():
        go.set()
        done.wait()
        done.clear()

    rows.append(("multiprocessing.Event set/wait/clear", _round_trip(f), float("nan")))
    p.kill()
    p.join()

    # eventfd (Linux)
    if hasattr(os, "eventfd") and ctx.get_start_method() == "fork":
        fg, fd = os.eventfd(0), os.eventfd(0)
        p = ctx.Process(target=_eventfd_partner, args=(fg, fd), daemon=True)
        p.start()

        def f():
            os.eventfd_write(fg, 1)
            os.eventfd_read(fd)

        rows.append(("eventfd (os.eventfd, blocking read)", _round_trip(f), float("nan")))
        p.kill()
        p.join()
        os.close(fg)
        os.close(fd)

    # sequence numbers in shared memory
    for label, forever in ((f"spin on a shm sequence number (<= {SPIN * 1e6:.0f} us, then sleep 20 us)", False),
                           ("spin on a shm sequence number, never yielding", True)):
        shm = shared_memory.SharedMemory(create=True, size=4096)
        seq = np.ndarray((16,), np.int64, buffer=shm.buf)
        seq[:] = 0
        p = ctx.Process(target=_seq_partner, args=(shm.name, SPIN, forever), daemon=True)
        p.start()
        counter = [0]

        def f(seq=seq):
            counter[0] += 1
            seq[0] = counter[0]
            while seq[8] != counter[0]:
                pass

        rt = _round_trip(f)
        seq[0] = -1
        p.join()
        shm2 = shared_memory.SharedMemory(create=True, size=4096)
        np.ndarray((16,), np.int64, buffer=shm2.buf)[:] = 0
        idle = [ctx.Process(target=_seq_partner, args=(shm2.name, SPIN, forever), daemon=True) for _ in range(2)]
        for q in idle:
            q.start()
        rows.append((label, rt, idle_cost(idle)))
        del seq
        for s in (shm, shm2):
            s.close()
            s.unlink()

    print(f"| mechanism | round trip, us (best / worst of 5 x {ROUNDS}) | learner compute time with 2 idle "
          "waiters (x alone) |")
    print("|---|---:|---:|")
    for label, (best, worst), cost in rows:
        c = "n/a" if cost != cost else f"{cost:.2f}"
        print(f"| {label} | {best:.1f} / {worst:.1f} | {c} |")


def handoff_in_env(seconds: float) -> None:
    print("\n## Hand-off inside the vector env (self-play, env steps/s)\n")
    sizes, workers = (64, 1024), (1, 2)
    header = " | ".join(f"N={n} W={w}" for n in sizes for w in workers)
    print(f"| handoff | {header} |")
    print("|---|" + "---:|" * (len(sizes) * len(workers)))
    for h in ("hybrid", "semaphore", "pipe", "spin"):
        cells = [f"{bench_vec(n, w, None, seconds, handoff=h):,.0f}" for n in sizes for w in workers]
        print(f"| {h} | " + " | ".join(cells) + " |", flush=True)


# -----------------------------------------------------------------------------


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="64,256,1024,4096", help="num_envs values (comma-separated)")
    p.add_argument("--workers", default="0,1,2", help="num_workers values (comma-separated)")
    p.add_argument("--async-sizes", default="8,32", help="num_envs of the AsyncVectorEnv comparison")
    p.add_argument("--seconds", type=float, default=2.0, help="measuring time per configuration")
    p.add_argument("--handoff", action="store_true", help="also measure the hand-off mechanisms")
    p.add_argument("--no-async", action="store_true", help="skip the AsyncVectorEnv comparison")
    p.add_argument("--quick", action="store_true", help="short run: small sizes, 0.3 s each")
    p.add_argument("--repeat", type=int, default=1, help="best of this many runs per configuration "
                   "(on a shared machine, other processes' bursts only ever slow a run down)")
    args = p.parse_args()
    if args.quick:
        args.sizes, args.workers, args.async_sizes, args.seconds = "64,256", "0,2", "4", 0.3
    sizes = [int(x) for x in args.sizes.split(",")]
    workers = [int(x) for x in args.workers.split(",")]
    async_sizes = [int(x) for x in args.async_sizes.split(",") if x]

    print(f"# bench_vec_env: {machine()}")
    print(f"# command: python {' '.join(sys.argv)}")
    if args.handoff:
        handoff_raw(mp.get_context("fork" if "fork" in mp.get_all_start_methods() else None))
        handoff_in_env(args.seconds)

    best = {}
    for label, opponent in (("greedy opponent", "greedy"), ("self-play", None)):
        print(f"\n## SharedMemoryVectorEnv, {label}: env steps/s, wall clock (and per CPU-second of "
              "learner + workers)\n")
        print("| N | " + " | ".join(f"W={w}" for w in workers) + " |")
        print("|---:|" + "---:|" * len(workers))
        for n in sizes:
            cells = []
            for w in workers:
                if w > n:
                    cells.append("-")
                    continue
                runs = []
                for _ in range(args.repeat):
                    runs.append((bench_vec(n, w, opponent, args.seconds), LAST_CPU_RATE[0]))
                rate, per_cpu = max(runs)
                best[label] = max(best.get(label, (0, None)), (rate, f"N={n} W={w}"))
                cells.append(f"{rate:,.0f} ({per_cpu:,.0f})")
            print(f"| {n} | " + " | ".join(cells) + " |", flush=True)

    pool_sizes = [n for n in sizes if n >= 256]
    if pool_sizes and 2 in workers:
        print("\n## EnvPool style (num_workers=2, batch_size=N/2): env steps/s\n")
        print("| N | greedy opponent | self-play |")
        print("|---:|---:|---:|")
        for n in pool_sizes:
            cells = [f"{max(bench_pool(n, 2, n // 2, o, args.seconds) for _ in range(args.repeat)):,.0f}"
                     for o in ("greedy", None)]
            print(f"| {n} | " + " | ".join(cells) + " |", flush=True)

    if not args.no_async and async_sizes:
        print("\n## gymnasium AsyncVectorEnv over EssenceWarsEnv (one process per env), same learner\n")
        print("| N | opponent | env steps/s | per env |")
        print("|---:|---|---:|---:|")
        best_async = {}
        for label, opponent in (("greedy opponent", "greedy"), ("self-play", None)):
            for n in async_sizes:
                rate = max(bench_async(n, opponent, max(args.seconds, 1.0)) for _ in range(args.repeat))
                best_async[label] = max(best_async.get(label, (0, None)), (rate, f"N={n}"))
                print(f"| {n} | {label} | {rate:,.0f} | {rate / n:,.0f} |", flush=True)
        print("\n## Best vs best\n")
        for label in best:
            (r1, c1), (r2, c2) = best[label], best_async[label]
            print(f"- {label}: SharedMemoryVectorEnv {r1:,.0f}/s ({c1}) vs AsyncVectorEnv {r2:,.0f}/s ({c2}): "
                  f"{r1 / r2:,.0f}x")


if __name__ == "__main__":
    main()
