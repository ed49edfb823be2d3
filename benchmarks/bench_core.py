"""Latency of the Python binding's hot paths (prints numbers; not a test).

    python benchmarks/bench_core.py [--games 1024] [--steps 200]

- ``Game.observe(out=buf)`` through cffi (target: <= 1 us per call).
- ``Batch.step`` over N games: total time per step, the time of the bare
  native call (``lib.ew_batch_step`` with the same prepared arguments), and
  the Python-side share (target: < 5% of the step time).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from essence_wars import core
from essence_wars._native import lib


def per_call(fn, number: int, repeat: int = 5) -> float:
    """Best-of-``repeat`` seconds per call of ``fn`` over ``number`` calls."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def bench_game(decks) -> None:
    g = core.Game(1, decks[0], decks[1 % len(decks)])
    buf = np.empty(core.OBS_SIZE, np.float32)
    mask = np.empty(core.NUM_ACTIONS, np.bool_)
    g.observe(out=buf)
    g.action_mask(out=mask)
    t_obs = per_call(lambda: g.observe(out=buf), 200_000)
    t_obs_alloc = per_call(g.observe, 100_000)
    t_mask = per_call(lambda: g.action_mask(out=mask), 200_000)
    t_player = per_call(g.current_player, 200_000)
    f = g.fork()
    t_step = per_call(lambda: (f.step(255), f.reset(1)) if f.turn() > 28 else f.step(255), 50_000)
    print(f"Game.observe(out=buf)        {t_obs * 1e6:7.3f} us")
    print(f"Game.observe() (allocates)   {t_obs_alloc * 1e6:7.3f} us")
    print(f"Game.action_mask(out=buf)    {t_mask * 1e6:7.3f} us")
    print(f"Game.current_player()        {t_player * 1e6:7.3f} us")
    print(f"Game.step(END_TURN) (+turn)  {t_step * 1e6:7.3f} us")


def bench_batch(decks, n: int, steps: int, opponent) -> None:
    b = core.Batch(n, decks[0], decks[1 % len(decks)], opponent=opponent, autoreset=True)
    out = b.output
    actions = b.actions
    actions[:] = core.END_TURN  # always legal; with autoreset the games never stall
    struct, bad, ptr, aptr = out._struct, b._bad, b._ptr, b._actions_ptr

    def native():
        lib.ew_batch_step(ptr, aptr, struct, bad)

    def python_api():
        b.step(actions)

    python_list = [core.END_TURN] * n

    def python_api_list():
        b.step(python_list)

    for fn in (native, python_api):  # warm up
        for _ in range(10):
            fn()
    # Interleave the measurements so both see the same mix of game states.
    t_native = t_api = t_list = 0.0
    rounds = 5
    for _ in range(rounds):
        t_native += per_call(native, steps, repeat=1)
        t_api += per_call(python_api, steps, repeat=1)
        t_list += per_call(python_api_list, max(steps // 4, 1), repeat=1)
    t_native /= rounds
    t_api /= rounds
    t_list /= rounds
    overhead = max(t_api - t_native, 0.0)
    label = opponent or "self-play"
    print(f"Batch.step, {n} games, {label:>9}: {t_api * 1e3:8.3f} ms/step "
          f"(native {t_native * 1e3:.3f} ms; Python {overhead * 1e6:.1f} us = {100 * overhead / t_api:.2f}%); "
          f"{n / t_api:,.0f} game-steps/s")
    print(f"  ... with a Python list of actions (copied): {t_list * 1e3:8.3f} ms/step "
          f"(Python {max(t_list - t_native, 0) * 1e6:.1f} us)")
    b.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--games", type=int, default=1024)
    p.add_argument("--steps", type=int, default=200)
    args = p.parse_args()
    decks = core.list_decks()
    import essence_wars

    print(f"essence_wars {essence_wars.__version__}, numpy {np.__version__}")
    bench_game(decks)
    bench_batch(decks, args.games, args.steps, None)
    bench_batch(decks, args.games, max(args.steps // 4, 1), "random")


if __name__ == "__main__":
    main()
