"""Would a value network gain from knowing the cards by name, or the order of the decks?

The 326-float observation describes a card by its numbers and keywords (two spells of one cost look
the same) and hides the deck order, while ``mcts-N`` searches clones of the real game and so draws the
cards the players will really draw (docs/RULES_NOTES.md). Before plumbing either into the AlphaZero
search (its leaves would have to carry them), this screen asks the cheap question offline: on positions
of fast games, does a value network predict the result better with the card ids (``Game.card_ids``),
with the next ``k`` cards of both decks, or with both?

- **games**: epsilon-greedy self-play (the greedy bot, a uniformly random legal action with
  probability ``--epsilon``), decks rotated through the presets, each game a function of
  ``(--seed, index)`` whatever ``--workers``; a position with more than one legal action is kept with
  probability ``--sample``. Result ``z`` is +1/-1/0 for the player to move.
- **networks**: the same MLP on the observation, with 16-float embeddings of the ids and/or of the
  upcoming draws concatenated; trained on the first 90% of the games, the mean squared error on the
  last 10% (whole games, never trained on) is printed every ``--every`` steps.

    python -m agents.value_screen --games 40000 --steps 6000

Results: docs/ALPHAZERO.md ("Card ids and the deck order: an offline screen").
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Optional, Sequence

import numpy as np

from agents.evaluate import result_for
from agents.interrupt import ignore_sigint
from essence_wars import core

#: Snapshot layout (rust_core/src/serialize.rs, format version 1): where the players start, the bytes
#: per player, and where a player's deck length, hand (10 x u16) and deck (30 x u16) sit in its block.
PLAYERS_AT, PLAYER_BYTES, DECK_LEN_AT, HAND_AT, DECK_AT = 149, 181, 8, 9, 29
#: The engine draws from the end of the deck list: card ``deck[deck_len - 1]`` comes next.
FEATURES = ("none", "ids", "draws", "ids+draws")


def upcoming_draws(game: core.Game, k: int, seat: Optional[int] = None) -> np.ndarray:
    """The next ``k`` cards each player will draw, ``seat``'s (default: the player to move) then the
    opponent's, as card id + 1 (0: the deck is exhausted at that depth): uint16 ``[2k]``."""
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= core.DECK_SIZE:
        raise ValueError(f"k must be an int in [1, {core.DECK_SIZE}], got {k!r}")
    seat = game.current_player() if seat is None else seat
    if seat not in (0, 1):
        raise ValueError(f"seat must be 0 or 1, got {seat!r}")
    data = game.to_bytes()
    out = np.zeros(2 * k, np.uint16)
    for i, s in enumerate((seat, 1 - seat)):
        at = PLAYERS_AT + s * PLAYER_BYTES
        n = data[at + DECK_LEN_AT]
        deck = struct.unpack_from(f"<{core.DECK_SIZE}H", data, at + DECK_AT)
        for j in range(min(k, n)):
            out[i * k + j] = deck[n - 1 - j] + 1
    return out


def play_game(seed: int, index: int, epsilon: float, sample: float, k: int):
    """One epsilon-greedy game: (obs [n,326], ids [n,34], draws [n,2k], z [n]) for its kept positions."""
    rng = np.random.default_rng([seed, index])
    decks = core.list_decks()
    g = core.Game(seed * 1_000_003 + index, decks[index % len(decks)], decks[(index // len(decks)) % len(decks)])
    obs, ids, draws, movers = [], [], [], []
    while not g.is_done():
        legal = g.legal_actions()
        if len(legal) > 1 and rng.random() < sample:
            obs.append(g.observe().copy())
            ids.append(g.card_ids().copy())
            draws.append(upcoming_draws(g, k))
            movers.append(g.current_player())
        if rng.random() < epsilon:
            a = int(rng.choice(legal))
        else:
            a = g.bot_action("greedy", seed=int(rng.integers(1 << 62)))
        g.step(a)
    w, n = g.winner(), len(movers)
    z = np.array([result_for(m, w) for m in movers], np.float32)
    # reshape: a game without a kept position still gives columns of the right width
    return (np.array(obs, np.float32).reshape(n, core.OBS_SIZE),
            np.array(ids, np.uint16).reshape(n, core.CARD_ID_SLOTS), np.array(draws, np.uint16).reshape(n, 2 * k), z)


def _chunk(args):
    seed, indices, epsilon, sample, k = args
    return [play_game(seed, i, epsilon, sample, k) for i in indices]


def generate(games: int, seed: int = 0, epsilon: float = 0.15, sample: float = 0.5, k: int = 6,
             workers: int = 2) -> dict:
    """Positions of ``games`` games (see the module docs); ``game`` says which game a row is from."""
    if games < 1 or workers < 1:
        raise ValueError(f"games and workers must be >= 1, got {games} and {workers}")
    if not 0.0 <= epsilon <= 1.0 or not 0.0 < sample <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1] and sample in (0, 1], got {epsilon} and {sample}")
    chunks = [(seed, range(s, min(s + 200, games)), epsilon, sample, k) for s in range(0, games, 200)]
    if workers == 1:
        results = [r for c in chunks for r in _chunk(c)]
    else:
        # spawn: the caller may hold torch's threads, which a fork would copy mid-use
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                 initializer=ignore_sigint) as pool:
            results = [r for rs in pool.map(_chunk, chunks) for r in rs]
    cols = [np.concatenate([r[j] for r in results]) for j in range(4)]
    game = np.concatenate([np.full(len(r[3]), i) for i, r in enumerate(results)])
    return {"obs": cols[0], "ids": cols[1], "draws": cols[2], "z": cols[3], "game": game, "k": k}


def screen(data: dict, features: Sequence[str] = FEATURES, steps: int = 6000, batch_size: int = 512,
           lr: float = 1e-3, every: int = 2000, holdout: float = 0.1, max_heldout: int = 50_000, width: int = 256,
           seed: int = 0, out=sys.stdout) -> list:
    """Trains one value network per entry of ``features``; prints and returns one row per report."""
    import torch
    import torch.nn as nn

    for f in features:
        if f not in FEATURES:
            raise ValueError(f"unknown features {f!r}: expected one of {', '.join(FEATURES)}")
    obs, ids, draws, z = (torch.from_numpy(np.asarray(data[c])) for c in ("obs", "ids", "draws", "z"))
    ids, draws = ids.long(), draws.long()
    game = np.asarray(data["game"])
    cut = int(game.max() * (1.0 - holdout))
    train = torch.from_numpy(np.flatnonzero(game < cut))
    held = np.flatnonzero(game >= cut)
    if len(train) == 0 or len(held) == 0:
        raise ValueError(f"{game.max() + 1} games are too few to hold {holdout:.0%} out")
    held = torch.from_numpy(held[np.random.default_rng(seed).permutation(len(held))[:max_heldout]])

    class ValueNet(nn.Module):
        def __init__(self, use_ids: bool, use_draws: bool):
            super().__init__()
            self.use_ids, self.use_draws = use_ids, use_draws
            self.embed = nn.Embedding(core.CARD_ID_VOCAB, 16)
            n = obs.shape[1] + 16 * (use_ids * ids.shape[1] + use_draws * draws.shape[1])
            self.mlp = nn.Sequential(nn.Linear(n, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                                     nn.Linear(width, 1), nn.Tanh())

        def forward(self, rows):
            x = [obs[rows]]
            if self.use_ids:
                x.append(self.embed(ids[rows]).flatten(1))
            if self.use_draws:
                x.append(self.embed(draws[rows]).flatten(1))
            return self.mlp(torch.cat(x, 1)).squeeze(1)

    rows = []
    for f in features:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        net = ValueNet("ids" in f, "draws" in f)
        opt = torch.optim.Adam(net.parameters(), lr)
        start, train_sum, n = time.time(), 0.0, 0
        for step in range(steps + 1):
            if step % every == 0 or step == steps:
                with torch.no_grad():
                    h = ((net(held) - z[held]) ** 2).mean().item()
                row = {"features": f, "step": step, "heldout_mse": round(h, 4),
                       "train_mse": round(train_sum / n, 4) if n else None, "seconds": round(time.time() - start, 1)}
                rows.append(row)
                print(json.dumps(row), file=out, flush=True)
                train_sum, n = 0.0, 0
            if step == steps:
                break
            b = train[torch.randint(len(train), (batch_size,), generator=gen)]
            loss = ((net(b) - z[b]) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            train_sum, n = train_sum + loss.item(), n + 1
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m agents.value_screen", description=__doc__.split("\n\n")[0])
    p.add_argument("--games", type=int, default=40_000)
    p.add_argument("--epsilon", type=float, default=0.15, help="probability of a random legal action")
    p.add_argument("--sample", type=float, default=0.5, help="probability of keeping a position")
    p.add_argument("--draws", type=int, default=6, help="upcoming cards per deck")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--features", default=",".join(FEATURES), help=f"comma-separated, of: {', '.join(FEATURES)}")
    p.add_argument("--steps", type=int, default=6000)
    p.add_argument("--every", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torch-threads", type=int, default=2)
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(a.torch_threads)
    start = time.time()
    data = generate(a.games, a.seed, a.epsilon, a.sample, a.draws, a.workers)
    print(json.dumps({"games": a.games, "positions": len(data["z"]), "seconds": round(time.time() - start, 1)}),
          flush=True)
    screen(data, [f for f in a.features.split(",") if f], steps=a.steps, every=a.every, seed=a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
