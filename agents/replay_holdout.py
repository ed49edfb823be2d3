"""Held-out losses of a network trained offline on a saved replay buffer.

A quick check of a change to AlphaZero training before a self-play run: train on the oldest part of a
buffer that ``train alphazero`` saved (``run_dir/replay.npz``) and report the losses on the newest part,
which the network never sees. The buffer holds whole games in the order they finished, so a contiguous
split keeps the positions of a game (which share one result) on one side, and the held-out value loss
measures what generalises rather than what is memorised. Both held-out losses are also reported on the
held-out rows with their hands reordered (agents/symmetry.py): a network that learned the search's
hand-order quirks (which of two identical cards it tried first) is better on the original order only.

    python -m agents.replay_holdout runs/az_ctrl/replay.npz --init shipped --augment hands --steps 2000

Results of this screen: docs/ALPHAZERO.md ("Hand-order augmentation").
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from typing import Optional

import numpy as np


def run(path: str, init: str = "shipped", augment: str = "", steps: int = 2000, batch_size: int = 512,
        lr: float = 3e-4, weight_decay: float = 1e-4, holdout: float = 0.1, every: int = 250,
        max_heldout: int = 12_500, seed: int = 0, width: int = 256, blocks: int = 4, out=sys.stdout) -> list:
    """Trains and prints one line per ``every`` steps; returns the rows printed (dicts)."""
    import torch

    from agents.alphazero import ReplayBuffer, _losses, load_network
    from agents.az_network import PolicyValueNet
    from agents.symmetry import permute_hands

    if augment not in ("", "hands"):
        raise ValueError(f"augment must be '' or 'hands', got {augment!r}")
    if not 0.0 < holdout < 1.0:
        raise ValueError(f"holdout must be in (0, 1), got {holdout}")
    torch.manual_seed(seed)
    buf, _ = ReplayBuffer.load(path)
    cols = buf.newest(buf.size)
    cut = int(buf.size * (1.0 - holdout))
    if cut < 1 or cut == buf.size:
        raise ValueError(f"{path}: {buf.size} rows are too few to hold {holdout:.0%} out")
    train = [c[:cut] for c in cols]
    stride = max(1, (buf.size - cut) // max_heldout)
    held = [c[cut:][::stride] for c in cols]
    held_perm = [*permute_hands(held[0], held[1], held[2], np.random.default_rng(seed + 1)), held[3]]
    net = PolicyValueNet(width, blocks) if init == "scratch" else load_network(init)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    rng = np.random.default_rng(seed)
    rows = []

    def report(step: int, train_p: Optional[float], train_v: Optional[float], seconds: float) -> None:
        net.eval()
        with torch.no_grad():
            p, v = (x.item() for x in _losses(net, *held))
            pp, pv = (x.item() for x in _losses(net, *held_perm))
        net.train()
        row = {"step": step, "train_policy": train_p, "train_value": train_v, "heldout_policy": p,
               "heldout_value": v, "heldout_policy_reordered": pp, "heldout_value_reordered": pv,
               "seconds": round(seconds, 1)}
        rows.append(row)
        print(json.dumps({k: round(x, 4) if isinstance(x, float) else x for k, x in row.items()}), file=out, flush=True)

    print(json.dumps({"rows": buf.size, "train_rows": cut, "heldout_rows": len(held[0]), "init": init,
                      "augment": augment or "none"}), file=out, flush=True)
    report(0, None, None, 0.0)  # no training loss yet
    start = time.time()
    net.train()
    sums = np.zeros(2)
    for step in range(1, steps + 1):
        idx = rng.integers(0, cut, batch_size)
        obs, masks, policy, value = (c[idx] for c in train)
        if augment == "hands":
            obs, masks, policy = permute_hands(obs, masks, policy, rng)
        p_loss, v_loss = _losses(net, obs, masks, policy, value)
        optimizer.zero_grad(set_to_none=True)
        (p_loss + v_loss).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
        optimizer.step()
        sums += (p_loss.item(), v_loss.item())
        if step % every == 0 or step == steps:
            n = every if step % every == 0 else step % every
            report(step, sums[0] / n, sums[1] / n, time.time() - start)
            sums[:] = 0
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m agents.replay_holdout", description=__doc__.split("\n\n")[0])
    p.add_argument("replay", help="a replay buffer file (run_dir/replay.npz of train alphazero)")
    p.add_argument("--init", default="shipped", help="'shipped', 'scratch' (a new network) or a checkpoint")
    p.add_argument("--augment", default="", help="'hands' or '' (none)")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--holdout", type=float, default=0.1, help="newest fraction of the rows held out")
    p.add_argument("--every", type=int, default=250, help="report every N steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torch-threads", type=int, default=1)
    a = p.parse_args(argv)
    import torch

    torch.set_num_threads(a.torch_threads)
    run(a.replay, init=a.init, augment=a.augment, steps=a.steps, batch_size=a.batch_size, lr=a.lr,
        holdout=a.holdout, every=a.every, seed=a.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
