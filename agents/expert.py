"""Expert iteration's first step: a policy-value network that imitates the rollout MCTS bot.

``essence-wars train expert`` does two things:

1. **Games.** The bot (``--bot``, default ``mcts-1000``) plays itself, decks drawn
   at random per game. At every position with more than one legal action it
   records the observation of the player to move, the legal mask, the root
   visit distribution (the policy target), the root's mean search value
   ``q`` and, once the game ends, the result ``z`` for that player. Games are
   spread over ``--workers`` processes; each game is a pure function of
   ``(--seed, its index)``, so the data does not depend on the worker count,
   and a run stopped by ``--time-limit`` or Ctrl-C keeps the games finished in
   index order (a prefix of the full run). Saved to ``run_dir/expert_data.npz``.
2. **Distillation.** The AlphaZero network (:class:`agents.az_network.PolicyValueNet`)
   is trained on those rows: cross-entropy against the visit distribution over
   legal actions, and squared error against ``(1 - q_weight) * z + q_weight * q``
   (the root value is a per-position target, so the value head has less to gain by
   memorising whole games than from ``z`` alone). Every 20th game is held out; the
   checkpoint kept is the epoch with the lowest held-out loss.

The checkpoint is an AlphaZero one: ``essence-wars eval --agent az:PATH@100``
plays it with search, and ``essence-wars train alphazero --init PATH`` goes on
from it with self-play (expert iteration's later steps). Why: with one laptop CPU,
AlphaZero from scratch spends hours learning what a 1000-simulation rollout
search already plays; ``docs/ALPHAZERO.md`` has the measurements.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing as mp
import os
import sys
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from agents.evaluate import result_for
from agents.interrupt import Terminated, ignore_sigint, interrupt_name, sigterm_as_interrupt
from essence_wars import core

NUM_ACTIONS = core.NUM_ACTIONS
OBS_SIZE = core.OBS_SIZE


@dataclass
class Args:
    """Expert data and distillation settings (the CLI exposes each as --kebab-case)."""

    run_dir: str = field(default="runs/expert", metadata={"help": "expert_data.npz, checkpoint.pt, TensorBoard logs"})
    seed: int = field(default=1, metadata={"help": "seeds the deals, the decks, the bot's search and torch"})
    bot: str = field(default="mcts-1000", metadata={"help": "the rollout MCTS bot to imitate (an mcts-... name)"})
    games: int = field(default=200, metadata={"help": "games of the bot against itself"})
    workers: int = field(default=2, metadata={"help": "processes playing the games"})
    time_limit: float = field(default=0.0, metadata={"help": "stop starting games after this many seconds "
                                                            "(0: no limit); the finished ones are kept"})
    data: str = field(default="", metadata={"help": "train on this expert_data.npz instead of playing games "
                                                   "(several: comma-separated, concatenated in order)"})
    decks: str = field(default="", metadata={"help": "comma-separated decks to draw from (default: all presets)"})
    mode: str = field(default="attrition", metadata={"help": "attrition or essence_duel"})
    init: str = field(default="", metadata={"help": "start from this AlphaZero checkpoint or export ('shipped': "
                                                   "the packaged network); its shape replaces --width/--blocks"})
    width: int = field(default=256, metadata={"help": "network width"})
    blocks: int = field(default=4, metadata={"help": "residual blocks"})
    epochs: int = field(default=20, metadata={"help": "passes over the training rows"})
    batch_size: int = field(default=512, metadata={"help": "minibatch"})
    lr: float = field(default=1e-3, metadata={"help": "AdamW learning rate (cosine to lr/20 over the epochs)"})
    weight_decay: float = field(default=1e-4, metadata={"help": "AdamW weight decay"})
    value_coef: float = field(default=1.0, metadata={"help": "weight of the value loss"})
    policy_coef: float = field(default=1.0, metadata={"help": "weight of the policy loss (0: the value target "
                                                             "alone; the trunk is shared, so the priors still "
                                                             "move)"})
    q_weight: float = field(default=0.5, metadata={"help": "value target = (1 - q_weight) * result + q_weight * "
                                                          "the bot's root value, both for the player to move"})
    torch_threads: int = field(default=0, metadata={"help": "torch CPU threads for distillation (0: torch's default)"})


# ---------------------------------------------------------------------------
# Games.

_COLUMNS = ("obs", "masks", "policy", "z", "q", "game")


def _deck_pair(seed: int, index: int, decks) -> tuple:
    d0, d1 = np.random.default_rng([seed, index]).choice(decks, 2)
    return str(d0), str(d1)


def play_game(bot: str, seed: int, index: int, decks, mode: str) -> dict:
    """One game of ``bot`` against itself (game ``index`` of run ``seed``): its recorded rows."""
    d0, d1 = _deck_pair(seed, index, decks)
    obs, masks, policy, q, mover = [], [], [], [], []
    with core.Game(seed=seed * 1_000_003 + index, deck0=d0, deck1=d1, mode=mode) as g:
        move = 0
        while not g.is_done():
            mask = g.action_mask()
            if mask.sum() == 1:  # forced: nothing to learn, no search needed
                g.step(int(np.flatnonzero(mask)[0]))
                continue
            action, visits, values = g.mcts_stats(bot, seed=(seed * 1_000_003 + index) * 4096 + move)
            total = visits.sum()
            obs.append(g.observe())
            masks.append(mask)
            policy.append(visits.astype(np.float32) / total)
            q.append(float((visits * values).sum() / total))
            mover.append(g.current_player())
            g.step(int(action))
            move += 1
        winner = g.winner()
    n = len(obs)
    z = np.array([result_for(m, winner) for m in mover], np.float32)
    return {"obs": np.array(obs, np.float32).reshape(n, OBS_SIZE),
            "masks": np.array(masks, np.bool_).reshape(n, NUM_ACTIONS),
            "policy": np.array(policy, np.float32).reshape(n, NUM_ACTIONS),
            "z": z, "q": np.array(q, np.float32), "game": np.full(n, index, np.int32),
            "winner": -1 if winner is None else int(winner)}


def _in_order(pool: ProcessPoolExecutor, jobs, window: int):
    """The games of ``jobs`` played in ``pool``, yielded in index order with at most ``window`` in flight:
    memory stays small, a time limit wastes at most the games in flight, and a worker that dies raises
    BrokenProcessPool here (multiprocessing.Pool would replace it and wait forever)."""
    pending: deque = deque()
    for job in jobs:
        pending.append(pool.submit(play_game, *job))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def check_bot(bot: str) -> None:
    """Raises ValueError (TypeError) unless ``bot`` names a rollout MCTS bot: one search on a new game."""
    with core.Game() as g:
        g.mcts_stats(bot)


def generate(args: Args, out_path: str, progress: bool = True) -> dict:
    """Plays ``args.games`` games (or as many as ``args.time_limit`` allows, in index order) and
    saves their rows to ``out_path`` (npz). Returns the columns."""
    decks = [d for d in args.decks.split(",") if d] or core.list_decks()
    for d in decks:
        core.Game(deck0=d, deck1=d, mode=args.mode).close()  # an unknown deck or mode fails here, not in a worker
    check_bot(args.bot)
    if args.games < 1:
        raise ValueError(f"games must be at least 1, got {args.games}")
    if args.workers < 1:
        raise ValueError(f"workers must be at least 1, got {args.workers}")
    jobs = [(args.bot, args.seed, i, decks, args.mode) for i in range(args.games)]
    parts, winners, positions = [], [], 0
    t0 = time.time()
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=args.games, desc=f"{args.bot} games", unit="game")
    interrupted = None
    pool = ProcessPoolExecutor(args.workers, mp_context=mp.get_context("spawn"),
                               initializer=ignore_sigint) if args.workers > 1 else None
    try:
        results = _in_order(pool, jobs, 2 * args.workers) if pool else (play_game(*job) for job in jobs)
        for r in results:
            winners.append(r.pop("winner"))
            parts.append(r)
            positions += len(r["z"])
            if bar is not None:
                bar.update(1)
                bar.set_postfix_str(f"{positions:,} positions")
            if args.time_limit and time.time() - t0 > args.time_limit:
                print(f"time limit reached after {len(parts)} games", flush=True)
                break
    except KeyboardInterrupt as e:
        interrupted = e
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    if not parts:
        if interrupted is not None:
            raise interrupted
        raise RuntimeError("no game finished")
    data = {k: np.concatenate([p[k] for p in parts]) for k in _COLUMNS}
    seconds = time.time() - t0
    meta = {"bot": args.bot, "seed": args.seed, "games": len(parts), "mode": args.mode, "decks": decks,
            "seconds": seconds, "p0_wins": winners.count(0), "p1_wins": winners.count(1),
            "draws": winners.count(-1)}
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp.npz"
    np.savez(tmp, meta=np.array(json.dumps(meta)), **data)
    os.replace(tmp, out_path)
    print(f"{len(parts)} games, {len(data['z'])} positions in {seconds:.0f} s "
          f"({len(data['z']) / max(seconds, 1e-9):.1f} positions/s) -> {out_path}", flush=True)
    data["meta"] = meta
    if interrupted is not None:
        print(f"{interrupt_name(interrupted)}: kept the {len(parts)} finished games in {out_path}", flush=True)
        raise interrupted
    return data


def load_data(path: str) -> dict:
    """The columns of an expert_data.npz, checked."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no expert data at {path!r}")
    with np.load(path) as f:
        missing = [k for k in _COLUMNS if k not in f]
        if missing:
            raise ValueError(f"{path!r} is not expert data: no {', '.join(missing)} column")
        data = {k: f[k] for k in _COLUMNS}
        data["meta"] = json.loads(str(f["meta"])) if "meta" in f else {}
    n = len(data["z"])
    if data["obs"].shape != (n, OBS_SIZE) or data["masks"].shape != (n, NUM_ACTIONS) \
            or data["policy"].shape != (n, NUM_ACTIONS):
        raise ValueError(f"{path!r}: columns of inconsistent shapes")
    return data


def load_many(paths: str) -> dict:
    """The expert data of comma-separated ``paths``, concatenated in order. Game numbers are offset
    so that games of different files stay apart (the held-out split is by game); ``meta`` lists each
    file's and adds up the games."""
    parts = [load_data(p) for p in paths.split(",") if p]
    if not parts:
        raise ValueError("no expert data file given")
    if len(parts) == 1:
        return parts[0]
    out, offset = {k: [] for k in _COLUMNS}, 0
    for part in parts:
        for k in _COLUMNS:
            out[k].append(part[k] + offset if k == "game" else part[k])
        offset += int(part["game"].max()) + 1 if len(part["game"]) else 0
    data = {k: np.concatenate(v) for k, v in out.items()}
    data["meta"] = {"files": [p["meta"] for p in parts],
                    "games": sum(int(p["meta"].get("games", 0)) for p in parts)}
    return data


# ---------------------------------------------------------------------------
# Distillation.


def distill(args: Args, data: dict, progress: bool = True) -> dict:
    """Trains the network on ``data``; writes ``run_dir/checkpoint.pt`` (the best held-out epoch)."""
    import torch
    from torch.utils.tensorboard import SummaryWriter

    from agents.alphazero import _losses, load_network
    from agents.az_network import PolicyValueNet

    if not 0.0 <= args.q_weight <= 1.0:
        raise ValueError(f"q_weight must be in [0, 1], got {args.q_weight}")
    if args.epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {args.epochs}")
    if not (args.policy_coef >= 0 and args.value_coef >= 0 and args.policy_coef + args.value_coef > 0):
        raise ValueError(f"policy_coef and value_coef must be >= 0 and not both 0, got {args.policy_coef} and "
                         f"{args.value_coef}")
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    torch.manual_seed(args.seed)
    net = load_network(args.init) if args.init else PolicyValueNet(args.width, args.blocks)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    value = ((1.0 - args.q_weight) * data["z"] + args.q_weight * data["q"]).astype(np.float32)
    held = data["game"] % 20 == 0
    if held.all() or not held.any():  # too few games to split by game: hold out every 20th row
        held = np.arange(len(value)) % 20 == 0
    tr, ho = np.flatnonzero(~held), np.flatnonzero(held)
    cols = (data["obs"], data["masks"], data["policy"], value)
    steps_per_epoch = max(1, len(tr) // args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, total_steps, eta_min=args.lr / 20)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.run_dir, exist_ok=True)
    writer = SummaryWriter(args.run_dir)
    ckpt_path = os.path.join(args.run_dir, "checkpoint.pt")
    best, history = None, []
    p_ho = data["policy"][ho]
    target_entropy = float(-(p_ho * np.log(np.where(p_ho > 0, p_ho, 1.0))).sum(1).mean())

    def heldout() -> dict:
        net.eval()
        p_sum = v_sum = agree = 0.0
        with torch.no_grad():
            for s in range(0, len(ho), 4096):
                idx = ho[s:s + 4096]
                p, v, logp = _losses(net, *(c[idx] for c in cols), with_log_probs=True)
                agree += float((logp.argmax(1).numpy() == cols[2][idx].argmax(1)).sum())
                p_sum += p.item() * len(idx)
                v_sum += v.item() * len(idx)
        # the cross-entropy can fall no lower than the targets' entropy: policy_kl is the part learnable
        return {"policy_loss": p_sum / len(ho), "policy_kl": p_sum / len(ho) - target_entropy,
                "value_loss": v_sum / len(ho), "agreement": agree / len(ho)}

    t0 = time.time()
    first = heldout()
    print(f"{len(tr)} training rows, {len(ho)} held out; before training: held-out policy loss "
          f"{first['policy_loss']:.3f} (the targets' entropy: {target_entropy:.3f}), value loss {first['value_loss']:.3f}, agreement {first['agreement']:.1%}",
          flush=True)
    interrupted = None
    try:
        for epoch in range(1, args.epochs + 1):
            net.train()
            order = rng.permutation(tr)
            pl, vl = [], []
            for s in range(steps_per_epoch):
                idx = np.sort(order[s * args.batch_size:(s + 1) * args.batch_size])
                p, v = _losses(net, *(c[idx] for c in cols))
                loss = args.policy_coef * p + args.value_coef * v
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
                sched.step()
                pl.append(p.item())
                vl.append(v.item())
            h = heldout()
            h.update(epoch=epoch, train_policy_loss=float(np.mean(pl)), train_value_loss=float(np.mean(vl)),
                     seconds=time.time() - t0)
            history.append(h)
            for k in ("policy_loss", "policy_kl", "value_loss", "agreement"):
                writer.add_scalar(f"heldout/{k}", h[k], epoch)
            writer.add_scalar("losses/policy_loss", h["train_policy_loss"], epoch)
            writer.add_scalar("losses/value_loss", h["train_value_loss"], epoch)
            score = args.policy_coef * h["policy_loss"] + args.value_coef * h["value_loss"]
            is_best = best is None or score < best[0]
            if is_best:
                best = (score, epoch)
                _save(ckpt_path, net, args, {"epoch": epoch, "heldout": h, "history": history,
                                             "data": data.get("meta", {}), "positions": len(value)})
            if progress:
                print(f"epoch {epoch:3d}  train {h['train_policy_loss']:.3f} / {h['train_value_loss']:.3f}  "
                      f"held out {h['policy_loss']:.3f} / {h['value_loss']:.3f}  agreement {h['agreement']:.1%}"
                      f"  {h['seconds']:.0f}s{'  *' if is_best else ''}", flush=True)
    except KeyboardInterrupt as e:
        interrupted = e
    finally:
        writer.close()
    if best is None:
        if interrupted is not None:
            raise interrupted
        raise RuntimeError("no epoch finished")
    print(f"saved {ckpt_path} (epoch {best[1]}, the lowest held-out loss)", flush=True)
    if interrupted is not None:
        print(f"{interrupt_name(interrupted)}: stopped after epoch {len(history)}", flush=True)
        raise interrupted
    return {"checkpoint": ckpt_path, "best_epoch": best[1], "history": history, "before": first}


def _save(path: str, net, args: Args, state: dict) -> None:
    import torch

    tmp = path + ".tmp"
    torch.save({"model": net.state_dict(), "network": net.config(), "args": dataclasses.asdict(args),
                "state": state, "kind": "expert"}, tmp)
    os.replace(tmp, path)


@sigterm_as_interrupt()
def train(args: Args, progress: bool = True) -> dict:
    """Games (or ``--data``), then distillation."""
    if args.data:
        data = load_many(args.data)
        print(f"loaded {len(data['z'])} positions of {data['meta'].get('games', '?')} games from {args.data}",
              flush=True)
    else:
        data = generate(args, os.path.join(args.run_dir, "expert_data.npz"), progress=progress)
    return distill(args, data, progress=progress)


# ---------------------------------------------------------------------------
# Command line: essence-wars train expert [...]


def configure(p: argparse.ArgumentParser) -> None:
    for f in dataclasses.fields(Args):
        p.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                       help=f.metadata.get("help", ""))


def run(ns: argparse.Namespace) -> int:
    args = Args(**{f.name: getattr(ns, f.name) for f in dataclasses.fields(Args)})
    try:
        train(args)
    except Terminated as e:
        return e.exit_status
    return 0


if __name__ == "__main__":
    from agents import commands

    sys.exit(commands.cli.main())
