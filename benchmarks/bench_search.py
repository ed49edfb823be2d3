"""Throughput of the batched neural MCTS against raw network inference.

    python benchmarks/bench_search.py [--trees 256] [--simulations 64] [--seconds 20] [--json out.json]

Measures, on this machine, with the same AlphaZero network (agents/az_network.py):

1. raw inference: forward passes on batches of ``--trees`` observations
   (what the search feeds the network each round), positions per second;
2. search: ``--trees`` trees, ``--simulations`` per move, the full protocol
   (select, forward pass on the flagged rows, expand), neural leaf
   evaluations per second, with the time split between the network and the
   native search calls (overhead = 1 - network share);
3. self-play: :class:`agents.alphazero.SelfPlay` positions per second and
   finished games per minute at ``--simulations`` per move;
4. with ``--selfplay-workers N[,M...]``: the same self-play in a
   :class:`agents.alphazero.SelfPlayPool` of N worker processes (the
   ``--trees`` games split over them; batches of 16 moves, the training
   default; the first batch, which includes starting the workers, is left
   out), positions per second.

The load average is recorded (``os.getloadavg``) because the numbers depend
on what else runs on the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trees", type=int, default=256)
    p.add_argument("--simulations", type=int, default=64)
    p.add_argument("--seconds", type=float, default=20.0, help="time per measurement")
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--blocks", type=int, default=4)
    p.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    p.add_argument("--selfplay-workers", default="", help="comma-separated worker counts for step 4 (default: skip)")
    p.add_argument("--json", help="also write the results here")
    args = p.parse_args(argv)

    import torch

    from agents.alphazero import Args, ReplayBuffer, SelfPlay, SelfPlayPool
    from agents.az_network import Evaluator, PolicyValueNet
    from essence_wars.search import Search, SearchConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = PolicyValueNet(args.width, args.blocks).eval()
    evaluate = Evaluator(net)
    out = {"load_before": os.getloadavg(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
           "machine": platform.processor() or platform.machine(), "args": vars(args)}

    # 1. Raw inference on search-sized batches of real observations.
    search = Search(args.trees, SearchConfig(simulations=args.simulations), seed=0)
    for i in range(args.trees):
        search.new_game(i, "argentum_control", "symbiote_aggro", seed=i)
    obs = search.root_state()[0].copy()
    masks = search.root_state()[1].copy()
    evaluate(obs, masks)
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        evaluate(obs, masks)
        n += len(obs)
    raw = n / (time.perf_counter() - t0)
    out["raw_inference_positions_per_s"] = raw
    print(f"raw inference, batch {args.trees}: {raw:,.0f} positions/s", flush=True)

    # 2. The search protocol on mid-game positions (a few random moves in).
    rng = np.random.default_rng(0)
    for i in range(args.trees):
        g = search.get_root(i)
        for _ in range(int(rng.integers(5, 40))):
            if g.is_done():
                break
            g.step(g.random_action(seed=int(rng.integers(1 << 30))))
        search.set_root(i, g if not g.is_done() else None)
        g.close()
    t_net = t_native = 0.0
    leaves = moves = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        search.restart()
        while True:
            a = time.perf_counter()
            k = search.select()
            b = time.perf_counter()
            t_native += b - a
            if k == 0:
                break
            idx = search.leaf_rows()
            pri, val = evaluate(search.obs[idx], search.masks[idx])
            search.priors[idx] = pri
            search.values[idx] = val
            c = time.perf_counter()
            t_net += c - b
            search.expand()
            t_native += time.perf_counter() - c
            leaves += k
        moves += 1
    wall = time.perf_counter() - t0
    out.update(search_leaves_per_s=leaves / wall, search_net_seconds=t_net, search_native_seconds=t_native,
               search_wall_seconds=wall, search_overhead_fraction=1 - t_net / wall,
               search_vs_raw=(leaves / wall) / raw)
    print(f"search, {args.trees} trees x {args.simulations} simulations: {leaves / wall:,.0f} leaf evaluations/s "
          f"({(leaves / wall) / raw:.2f}x raw inference; network {t_net / wall:.0%} of the time, native search "
          f"{t_native / wall:.0%}, python glue {(wall - t_net - t_native) / wall:.0%})", flush=True)
    search.close()

    # 3. Self-play.
    sp_args = Args(num_games=args.trees, simulations=args.simulations)
    sp = SelfPlay(sp_args, evaluate, seed=1)
    buf = ReplayBuffer(100_000)
    positions, t0 = 0, time.perf_counter()
    moves = 0
    while time.perf_counter() - t0 < 3 * args.seconds:
        positions += sp.play(4, buf)
        moves += 4
    wall = time.perf_counter() - t0
    out.update(selfplay_positions_per_s=positions / wall, selfplay_moves_per_s=moves * args.trees / wall,
               selfplay_games_finished=sp.games_finished, selfplay_seconds=wall,
               selfplay_games_per_minute=sp.games_finished / wall * 60,
               selfplay_mean_game_length=float(np.mean(sp.game_lengths)) if sp.game_lengths else None)
    print(f"self-play, {args.trees} games, {args.simulations} simulations/move: {positions / wall:,.0f} searched "
          f"positions/s, {moves * args.trees / wall:,.0f} actions/s (forced moves included), "
          f"{sp.games_finished} games finished in {wall:.0f}s = {sp.games_finished / wall * 60:.0f} games/min",
          flush=True)
    sp.close()

    # 4. Self-play in worker processes.
    for workers in [int(w) for w in args.selfplay_workers.split(",") if w]:
        pool = SelfPlayPool(sp_args, net, seed=1, workers=workers)
        try:
            buf = ReplayBuffer(100_000)
            pool.play(16, buf)  # starts the workers, plays one batch, requests the next
            positions, t0 = 0, time.perf_counter()
            while time.perf_counter() - t0 < 3 * args.seconds:
                positions += pool.play(16, buf)
            wall = time.perf_counter() - t0
        finally:
            pool.close()
        out[f"selfplay_workers_{workers}_positions_per_s"] = positions / wall
        print(f"self-play in {workers} worker process(es), {args.trees} games in all: {positions / wall:,.0f} "
              f"searched positions/s over {wall:.0f}s", flush=True)
    out["load_after"] = os.getloadavg()
    print(f"load average before {out['load_before']}, after {out['load_after']}; {out['cpus']} CPUs, "
          f"torch threads {out['torch_threads']}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
