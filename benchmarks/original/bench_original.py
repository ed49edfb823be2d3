"""Runs the original Essence Wars release (essence-wars==0.12.0 from PyPI) for benchmarks/run.py.

    python benchmarks/original/bench_original.py --site benchmarks/.cache/original-0.12.0

The original's package is also called ``essence_wars``, so it runs in this
separate process with its install directory (``pip install --target``) first
on ``sys.path``; the process checks that the module it imported comes from
there. It then answers one JSON line per command read from stdin:

- ``{"op": "batch", "n", "opponent", "seed", "seconds", "warmup", "decks"}``:
  its ``PyParallelGames`` batch loop (``step_batch``, a ``reset_single`` per
  finished game, ``observe_batch``, ``action_mask_batch``), timed by the
  same harness as every other contender (``benchmarks/run.py``);
- ``{"op": "single", ...}``: its ``PyGame`` loop (observe, mask, step);
- ``{"op": "latency", "number", "n", "seed", "decks"}``: ns per call;
- ``{"op": "quit"}``.

Only the release's public API is used (``PyGame``, ``PyParallelGames``,
read with ``help()``/``dir()``); none of its code is copied here.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback
from pathlib import Path

import numpy as np


def load(site: Path):
    sys.path.insert(0, str(site))
    import essence_wars as original

    where = Path(original.__file__).resolve()
    if site.resolve() not in where.parents:
        raise RuntimeError(f"imported essence_wars from {where}, not from {site}: the install would clash")
    return original


def find_end_turn(original, decks) -> int:
    """The action legal in every state of a few random games (the original's end-turn)."""
    game = original.PyGame(decks[0], decks[1], "attrition")
    always = None
    rng = np.random.default_rng(0)
    for seed in range(3):
        game.reset(seed)
        while not game.is_done():
            legal = np.flatnonzero(game.action_mask())
            always = set(legal.tolist()) if always is None else always & set(legal.tolist())
            game.step(int(rng.choice(legal)))
    if not always or len(always) != 1:
        raise RuntimeError(f"could not identify the end-turn action (candidates: {sorted(always or [])})")
    return always.pop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, required=True, help="the pip --target directory of the release")
    args = parser.parse_args()
    try:
        original = load(args.site)
        sys.path.insert(1, str(Path(__file__).resolve().parent.parent))  # benchmarks/: the shared harness
        import run as harness
    except Exception as e:  # noqa: BLE001 - reported to the parent, which says "not available"
        print(json.dumps({"error": f"{type(e).__name__}: {e}"}), flush=True)
        return 1
    decks = list(harness.ORIGINAL_DECKS)
    end_turn = find_end_turn(original, decks)
    print(json.dumps({
        "version": original.__version__,
        "module": str(Path(original.__file__).resolve()),
        "obs_size": int(original.STATE_TENSOR_SIZE),
        "num_actions": int(original.ACTION_SPACE_SIZE),
        "end_turn": int(end_turn),
        "decks": decks,
    }), flush=True)

    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.get("op")
        try:
            if op == "quit":
                break
            if op == "batch":
                d0, d1 = cmd["decks"]
                games = original.PyParallelGames(cmd["n"], d0, d1, "attrition", cmd["opponent"])
                run_steps = harness.thick_batch_runner(games, cmd["n"], cmd["seed"], int(original.ACTION_SPACE_SIZE),
                                                       True, np.uint16)
                reply = harness.measure(run_steps, cmd["n"], cmd["seconds"], cmd["warmup"])
                del games
            elif op == "single":
                d0, d1 = cmd["decks"]
                game = original.PyGame(d0, d1, "attrition")
                game.reset(cmd["seed"])
                run_steps = harness.single_game_runner(game, cmd["seed"], game.observe, game.action_mask)
                reply = harness.measure(run_steps, 1, cmd["seconds"], cmd["warmup"])
            elif op == "latency":
                d0, d1 = cmd["decks"]
                number, n = cmd["number"], cmd["n"]
                game = original.PyGame(d0, d1, "attrition")
                game.reset(cmd["seed"])
                row = harness.latency_row
                rows = {
                    "observe (one game)": row(game.observe, number),
                    "observe, new array each call": row(game.observe, number),
                    "action mask (one game)": row(game.action_mask, number),
                    "clone (fork + free)": row(game.fork, number // 2),
                }
                stepper = game.fork()
                rows["step (END_TURN; reset at game end)"] = row(
                    lambda: stepper.reset(cmd["seed"]) if stepper.step(end_turn)[1] else None, number // 2)
                games = original.PyParallelGames(n, d0, d1, "attrition", "random")
                games.reset_all(cmd["seed"])
                bnum = max(number // (4 * n), 3)
                o = row(games.observe_batch, bnum)
                m = row(games.action_mask_batch, bnum)
                rows[f"batch observe + mask, per game (N={n})"] = {
                    "ns": round((o["ns"] + m["ns"]) / n, 1), "load_before": o["load_before"],
                    "load_after": m["load_after"]}
                reply = {"rows": rows}
            else:
                reply = {"error": f"unknown op {op!r}"}
        except Exception as e:  # noqa: BLE001 - reported to the parent
            reply = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-2000:]}
        print(json.dumps(reply, default=float), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
