"""Would the AlphaZero search play better with the PPO afterstate policy as its prior?

Without search the shipped PPO policy (an afterstate head: it scores each legal action by the
position it leads to) plays level with greedy, where the AlphaZero network's policy head alone
scores about 30% (docs/ALPHAZERO.md, "The network without search"). This screen searches with the
AlphaZero network's value and, as each leaf's prior, the PPO policy's logits (divided by ``--temp``),
their sum with the network's own logits, or the network's logits alone (the control), reading the
leaves' afterstates from the search (``Search.leaf_afterstates``). ``--value`` can swap in the PPO
critic (clipped to [-1, 1]) or the mean of the two values.

    python -m agents.prior_screen --prior ppo --opponent greedy --games 400 --seed 11

Results: docs/ALPHAZERO.md ("The PPO policy as the search's prior").
"""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

import numpy as np
import torch

from agents import alphazero
from agents.az_network import Evaluator
from agents.checkpoint import SHIPPED, load_checkpoint, network_from_checkpoint

PRIORS = ("az", "ppo", "sum")
VALUES = ("az", "ppo", "mean")


class PriorMix:
    """A leaf evaluator for :meth:`essence_wars.search.Search.run` that mixes an AlphaZero network
    and an afterstate PPO network (see the module doc)."""

    needs_afterstates = True

    def __init__(self, az_net, ppo_net, prior: str = "ppo", value: str = "az", temp: float = 1.0):
        if prior not in PRIORS or value not in VALUES:
            raise ValueError(f"prior must be one of {PRIORS} and value one of {VALUES}, got {prior!r}, {value!r}")
        if ppo_net.after_head is None:
            raise ValueError("the PPO network has no afterstate head (trained with --afterstate 0)")
        if not temp > 0:
            raise ValueError(f"temp must be > 0, got {temp}")
        self.az = Evaluator(az_net)
        self.ppo = ppo_net.eval()
        self.prior, self.value, self.temp = prior, value, float(temp)

    @torch.no_grad()
    def __call__(self, obs: np.ndarray, masks: np.ndarray, after) -> tuple:
        logits, values = self.az(obs, masks)
        o = torch.as_tensor(np.asarray(obs, np.float32))
        if self.prior != "az":
            m = torch.as_tensor(np.asarray(masks).astype(bool))
            ppo = self.ppo.actor_logits(o, self.ppo.obs_rms.normalize(o), m,
                                        (torch.as_tensor(after[0]), torch.as_tensor(after[1]))).numpy() / self.temp
            logits = ppo if self.prior == "ppo" else logits + ppo
        if self.value != "az":
            critic = np.clip(self.ppo.get_value(o).numpy(), -1.0, 1.0)
            values = critic if self.value == "ppo" else 0.5 * (values + critic)
        return np.asarray(logits, np.float32), np.asarray(values, np.float32)


def agent(az_path: str = alphazero.SHIPPED, ppo_path=SHIPPED, simulations: int = 100, **mix) -> alphazero.SearchAgent:
    """A :class:`agents.alphazero.SearchAgent` whose leaves a :class:`PriorMix` evaluates."""
    net = alphazero.load_network(az_path)
    evaluate = PriorMix(net, network_from_checkpoint(load_checkpoint(ppo_path)), **mix)
    a = alphazero.SearchAgent(net, simulations, name=f"prior-{evaluate.prior}-value-{evaluate.value}")
    a.evaluate = evaluate
    return a


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m agents.prior_screen", description=__doc__.split("\n\n")[0])
    p.add_argument("--az", default=alphazero.SHIPPED, help="AlphaZero checkpoint (default: the shipped network)")
    p.add_argument("--ppo", default=str(SHIPPED), help="PPO afterstate checkpoint (default: the shipped one)")
    p.add_argument("--prior", choices=PRIORS, default="ppo", help="the leaves' prior logits")
    p.add_argument("--value", choices=VALUES, default="az", help="the leaves' value")
    p.add_argument("--temp", type=float, default=1.0, help="divides the PPO logits")
    p.add_argument("--simulations", type=int, default=100)
    p.add_argument("--opponent", default="greedy", help="a built-in bot (greedy, mcts-N, ...)")
    p.add_argument("--games", type=int, default=400)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--torch-threads", type=int, default=1)
    args = p.parse_args(argv)
    torch.set_num_threads(args.torch_threads)
    try:
        a = agent(args.az, args.ppo, args.simulations, prior=args.prior, value=args.value, temp=args.temp)
    except (ValueError, FileNotFoundError) as exc:
        p.error(str(exc))
    result = alphazero.play_match(a, args.opponent, games=args.games, seed=args.seed)
    print(result.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
