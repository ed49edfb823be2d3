"""PyTorch agents for Essence Wars.

>>> import agents
>>> policy = agents.load("runs/ppo/checkpoint.pt")   # or agents.load() for the shipped one
>>> action = policy(observation, action_mask)          # one position (a Gymnasium opponent)
>>> actions = policy.act(obs, masks)                   # a batch: [N,326], [N,256] -> [N]

Importing this package does not import torch; ``load`` does.
"""

from __future__ import annotations

__all__ = ["load"]


def load(path=None, deterministic: bool = False, seed: int = 0):
    """A trained policy from a checkpoint (default: ``agents/data/ppo_essence_wars.pt``).

    Returns an :class:`agents.checkpoint.Policy`: callable
    ``policy(observation, action_mask) -> action`` and batched
    ``policy.act(obs[N,326], masks[N,256]) -> actions[N]``.
    """
    from agents.checkpoint import load as _load

    return _load(path, deterministic=deterministic, seed=seed)
