"""PyTorch agents for Essence Wars.

>>> import agents
>>> policy = agents.load("runs/ppo/checkpoint.pt")   # or agents.load() for the shipped one
>>> action = policy.act_game(game)                     # one core.Game position
>>> actions = policy.act_in_batch(batch, indices)      # games of a core.Batch
>>> env = gym.make("EssenceWars-v0", opponent=policy)  # a Gymnasium env opponent

An afterstate policy (the default network) needs the game; a checkpoint
trained with ``--afterstate 0`` also takes ``policy(observation, mask)`` and
``policy.act(obs[N,326], masks[N,256])``.

Importing this package does not import torch; ``load`` does.
"""

from __future__ import annotations

__all__ = ["load"]


def load(path=None, deterministic: bool = False, seed: int = 0):
    """A trained policy from a checkpoint (default: ``agents/data/ppo_essence_wars.pt``).

    Returns an :class:`agents.checkpoint.AfterstatePolicy` for a network with
    the afterstate head (``act_game(game)``, ``act_in_batch(batch, indices)``,
    a Gymnasium env opponent), else an :class:`agents.checkpoint.Policy`:
    callable ``policy(observation, action_mask) -> action`` and batched
    ``policy.act(obs[N,326], masks[N,256]) -> actions[N]``.
    """
    from agents.checkpoint import load as _load

    return _load(path, deterministic=deterministic, seed=seed)
