"""Steps per second of one Gymnasium env driven from Python (prints numbers; not a test).

    python benchmarks/bench_env.py [--steps 200000] [--opponents random,greedy] [--profile greedy]

The driver picks a uniformly random legal action from ``obs["action_mask"]``
with numpy, as a masked policy would, and resets when an episode ends. For
each opponent it reports:

- ``EssenceWarsEnv``: the env as constructed directly (target: >= 100k steps/s
  against the random opponent);
- ``gymnasium.make``: the same behind the wrappers ``gymnasium.make`` adds
  (order enforcing, passive checker);
- ``Batch(1) floor``: the same driver on a bare one-game ``core.Batch`` (the
  native step the env wraps, with no env around it) — what any Python-level
  env on top of the engine can at best approach;
- the env's own overhead per step (env minus floor).

``--profile NAME`` runs cProfile over the env against that opponent and
prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import platform
import pstats
import sys
import time

import gymnasium as gym
import numpy as np

import essence_wars
from essence_wars import core
from essence_wars.env import ENV_ID, EssenceWarsEnv


def machine() -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{platform.node()}: {cpu}, {os.cpu_count()} logical cores, {platform.platform()}; "
            f"Python {platform.python_version()}, numpy {np.__version__}, gymnasium {gym.__version__}, "
            f"essence_wars {essence_wars.__version__}")


def drive_env(env, steps: int, seed: int) -> tuple:
    """(seconds, episodes) for ``steps`` env steps with random legal actions."""
    rand = np.random.default_rng(seed).random
    obs, info = env.reset(seed=seed)
    episodes = 0
    step = env.step
    t0 = time.perf_counter()
    for _ in range(steps):
        legal = obs["action_mask"].nonzero()[0]
        obs, reward, terminated, truncated, info = step(legal[int(rand() * len(legal))])
        if terminated or truncated:
            episodes += 1
            obs, info = env.reset()
    return time.perf_counter() - t0, episodes


def drive_batch(opponent: str, steps: int, seed: int) -> tuple:
    """The same driver on a bare one-game Batch (no env): the floor."""
    rand = np.random.default_rng(seed).random
    batch = core.Batch(1, opponent=opponent, seed=seed)
    out, actions = batch.output, batch.actions
    mask, terminated = out.masks[0], out.terminated
    episodes = 0
    t0 = time.perf_counter()
    for _ in range(steps):
        legal = mask.nonzero()[0]
        actions[0] = legal[int(rand() * len(legal))]
        batch.step(actions)
        if terminated[0]:
            episodes += 1
            batch.reset(seed=seed + episodes)
    elapsed = time.perf_counter() - t0
    batch.close()
    return elapsed, episodes


def best_of(fn, repeat: int) -> tuple:
    runs = [fn() for _ in range(repeat)]
    return min(runs, key=lambda r: r[0])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200_000, help="env steps per measurement")
    parser.add_argument("--opponents", default="random,greedy", help="comma-separated opponents")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", metavar="OPPONENT", help="cProfile the env against this opponent")
    args = parser.parse_args(argv)

    print(f"machine: {machine()}")
    print(f"command: {sys.executable} {' '.join(sys.argv)}")
    print(f"{args.steps} steps per run, best of {args.repeat}; uniformly random legal actions from the mask\n")
    print(f"{'opponent':<10} {'what':<18} {'steps/s':>10} {'us/step':>9} {'episodes':>9}")
    for opponent in [o.strip() for o in args.opponents.split(",") if o.strip()]:
        env = EssenceWarsEnv(opponent=opponent)
        wrapped = gym.make(ENV_ID, opponent=opponent)
        rows = [
            ("EssenceWarsEnv", best_of(lambda: drive_env(env, args.steps, args.seed), args.repeat)),
            ("gymnasium.make", best_of(lambda: drive_env(wrapped, args.steps, args.seed), args.repeat)),
            ("Batch(1) floor", best_of(lambda: drive_batch(opponent, args.steps, args.seed), args.repeat)),
        ]
        for what, (seconds, episodes) in rows:
            print(f"{opponent:<10} {what:<18} {args.steps / seconds:>10,.0f} {seconds / args.steps * 1e6:>9.2f} "
                  f"{episodes:>9}")
        overhead = (rows[0][1][0] - rows[2][1][0]) / args.steps * 1e6
        print(f"{opponent:<10} {'env overhead':<18} {'':>10} {overhead:>9.2f}\n")
        env.close()
        wrapped.close()

    if args.profile:
        env = EssenceWarsEnv(opponent=args.profile)
        profiler = cProfile.Profile()
        profiler.enable()
        drive_env(env, args.steps, args.seed)
        profiler.disable()
        print(f"cProfile of {args.steps} steps against {args.profile} (by internal time):")
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(12)
    return 0


if __name__ == "__main__":
    sys.exit(main())
