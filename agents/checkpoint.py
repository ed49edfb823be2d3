"""Checkpoints: save and resume training, load a policy for play in one call.

A checkpoint is one ``torch.save`` file holding a plain dict:

- ``format``: :data:`FORMAT` (bumped when the layout changes),
- ``algorithm``: ``"ppo"``,
- ``network``: the constructor arguments of :class:`~agents.networks.ActorCritic`,
- ``model``: its ``state_dict`` (weights **and** the observation normaliser),
- ``optimizer``: the optimiser's ``state_dict`` (for resuming),
- ``config``: the training hyperparameters (a dict of the ``Args`` dataclass),
- ``global_step``, ``iteration``: where training stopped,
- ``obs_version``: the observation layout the network was trained on,
- ``league``: optional frozen opponents' weights (for resuming league play).

``load("path")`` returns a :class:`Policy` usable anywhere an opponent is
expected: ``policy(observation, action_mask) -> action`` for the Gymnasium
env, and batched ``policy.act(obs[N,326], masks[N,256]) -> actions[N]``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Dict, Optional, Union

import numpy as np
import torch

from agents import keyed
from agents.networks import ActorCritic

FORMAT = 1
PathLike = Union[str, "os.PathLike[str]"]

#: The checkpoint shipped with the package (trained by the command in docs/PPO.md).
SHIPPED = Path(__file__).resolve().parent / "data" / "ppo_essence_wars.pt"


def save_checkpoint(path: PathLike, agent: ActorCritic, optimizer: Optional[torch.optim.Optimizer] = None,
                    config: Optional[Dict[str, Any]] = None, global_step: int = 0, iteration: int = 0,
                    league: Optional[list] = None) -> None:
    """Writes a checkpoint atomically (a temporary file, then a rename)."""
    from essence_wars import core

    state = {
        "format": FORMAT,
        "algorithm": "ppo",
        "network": agent.constructor_args(),
        "model": agent.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "config": dict(config or {}),
        "global_step": int(global_step),
        "iteration": int(iteration),
        "obs_version": core.OBS_VERSION,
        "league": league or [],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: PathLike) -> Dict[str, Any]:
    """The checkpoint dict (see the module doc), on the CPU."""
    state = torch.load(Path(path), map_location="cpu", weights_only=False)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ValueError(f"{path} is not an Essence Wars PPO checkpoint (format {FORMAT})")
    return state


def upgrade_state_dict(model: Dict[str, Any], layers: int) -> Dict[str, Any]:
    """Renames the keys of early checkpoints (one ``actor`` Sequential) to the current layout."""
    if not any(k.startswith("actor.") for k in model):
        return model
    out = {}
    for k, v in model.items():
        if k.startswith("actor."):
            _, idx, rest = k.split(".", 2)
            k = f"actor_out.{rest}" if int(idx) == 2 * layers else f"actor_trunk.{idx}.{rest}"
        out[k] = v
    return out


def network_from_checkpoint(state: Dict[str, Any]) -> ActorCritic:
    """A network with the checkpoint's weights and normaliser, in eval mode."""
    agent = ActorCritic(**state["network"])
    agent.load_state_dict(upgrade_state_dict(state["model"], state["network"]["layers"]))
    agent.eval()
    return agent


class Policy:
    """A trained network as a player.

    - ``policy(observation, action_mask) -> int``: one position (the form the
      Gymnasium env takes as ``opponent=``).
    - ``policy.act(obs[N,326], masks[N,256]) -> actions[N]`` (int64): a batch,
      one forward pass.

    ``deterministic=True`` plays the most likely legal action; otherwise
    actions are sampled with a generator seeded by ``seed``, or, when the
    caller passes ``keys`` (one uint64 per row: the evaluation harness's
    :func:`agents.keyed.decision_keys`), with numbers that depend on ``seed``
    and the row's key alone, so a game's actions do not depend on the other
    games in the batch.
    """

    takes_keys = True  # act / act_in_batch take keys= (agents.keyed)

    def __init__(self, network: ActorCritic, deterministic: bool = False, seed: int = 0, name: str = "policy"):
        self.network = network.eval()
        self.deterministic = deterministic
        self.name = name
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    @torch.no_grad()
    def probabilities(self, obs: np.ndarray, masks: np.ndarray) -> np.ndarray:
        """Action probabilities ``[N, 256]`` (0 on illegal actions)."""
        logits = self.network.get_logits(torch.as_tensor(np.asarray(obs, dtype=np.float32)),
                                         torch.as_tensor(np.asarray(masks).astype(bool)))
        return torch.softmax(logits, -1).numpy()

    def _choose(self, logits: torch.Tensor, keys: Optional[np.ndarray] = None) -> np.ndarray:
        if self.deterministic:
            return logits.argmax(-1).numpy().astype(np.int64)
        probs = torch.softmax(logits, -1)
        if keys is None:
            return torch.multinomial(probs, 1, generator=self.generator).squeeze(-1).numpy().astype(np.int64)
        return keyed.sample(probs.numpy(), keyed.uniforms(self.seed, keyed.check(keys, probs.shape[0])))

    @torch.no_grad()
    def act(self, obs: np.ndarray, masks: np.ndarray, keys: Optional[np.ndarray] = None) -> np.ndarray:
        """One legal action per row: ``obs`` float32 ``[N, 326]``, ``masks`` ``[N, 256]`` (bool or 0/1)."""
        obs_t = torch.as_tensor(np.asarray(obs, dtype=np.float32))
        mask_t = torch.as_tensor(np.asarray(masks).astype(bool, copy=False))
        single = obs_t.ndim == 1
        if single:
            obs_t, mask_t = obs_t[None], mask_t[None]
        actions = self._choose(self.network.get_logits(obs_t, mask_t), keys)
        return actions[0] if single else actions

    def __call__(self, observation: np.ndarray, action_mask: np.ndarray) -> int:
        return int(self.act(observation, action_mask))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, deterministic={self.deterministic})"


class AfterstatePolicy(Policy):
    """A :class:`Policy` whose network scores afterstates (``--afterstate``).

    It needs the games, not just their observations: ``act_game(game)`` for
    one :class:`essence_wars.core.Game`, ``act_in_batch(batch, indices)``
    for games of a :class:`essence_wars.core.Batch` (how ``essence-wars
    eval`` plays it), and the Gymnasium env, which passes its game to an
    opponent with ``needs_game = True``.
    """

    needs_game = True

    @torch.no_grad()
    def act_in_batch(self, batch, indices, keys: Optional[np.ndarray] = None) -> np.ndarray:
        """One legal action for each game ``indices`` of ``batch`` (none may be over)."""
        idx = np.asarray(indices, dtype=np.int64)
        # Rewrites the batch's own output with the current observations, masks and players to move (what
        # it already holds after a step; rewards and flags are not touched), then reads the rows of idx.
        view = batch.observe()
        after_obs, result, _ = batch.afterstates(idx)
        masks = torch.as_tensor(np.asarray(view.masks[idx]).astype(bool))
        logits = self.network.get_logits(torch.as_tensor(np.asarray(view.obs[idx], dtype=np.float32)), masks,
                                         (torch.as_tensor(after_obs), torch.as_tensor(result)))
        return self._choose(logits, keys)

    @torch.no_grad()
    def act_game(self, game) -> int:
        """One legal action for the player to move in ``game``."""
        after_obs, result = game.afterstates()
        masks = torch.as_tensor(game.action_mask().astype(bool))[None]
        logits = self.network.get_logits(torch.as_tensor(game.observe())[None], masks,
                                         (torch.as_tensor(after_obs), torch.as_tensor(result)))
        return int(self._choose(logits)[0])

    def act(self, obs, masks, keys=None):
        raise TypeError("an afterstate policy needs the game, not only its observation: use act_game(game), "
                        "act_in_batch(batch, indices) or essence-wars eval")

    def probabilities(self, obs, masks):
        raise TypeError("an afterstate policy needs the game: use act_game / act_in_batch")


def load(path: Optional[PathLike] = None, deterministic: bool = False, seed: int = 0) -> Policy:
    """A :class:`Policy` from a checkpoint file (default: the shipped one)."""
    path = SHIPPED if path is None else Path(path)
    state = load_checkpoint(path)
    return make_policy(network_from_checkpoint(state), deterministic=deterministic, seed=seed, name=str(path))


def make_policy(network: ActorCritic, deterministic: bool = False, seed: int = 0, name: str = "policy") -> Policy:
    """The player for ``network``: an :class:`AfterstatePolicy` when it scores afterstates, else a :class:`Policy`."""
    cls = AfterstatePolicy if network.after_head is not None else Policy
    return cls(network, deterministic=deterministic, seed=seed, name=name)


def export(src: PathLike, dst: PathLike = SHIPPED) -> Path:
    """Copies a checkpoint without the optimiser state and the league (for shipping: ~1.5 MB)."""
    state = load_checkpoint(src)
    state["optimizer"] = None
    state["league"] = []
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, dst)
    return dst


def main(argv: Optional[list] = None) -> int:
    """``python -m agents.checkpoint SRC [DST]``: export a PPO or AlphaZero checkpoint for shipping."""
    import argparse

    from agents import alphazero

    parser = argparse.ArgumentParser(
        prog="python -m agents.checkpoint",
        description="Export a training checkpoint for shipping: the network (and PPO's normaliser) without "
        "the optimiser state, the league or the replay buffer. Works on PPO and AlphaZero checkpoints.")
    parser.add_argument("src", help="a checkpoint written by training (runs/NAME/checkpoint.pt)")
    parser.add_argument("dst", nargs="?", default=None,
                        help=f"where to write it (default: the packaged file, {SHIPPED.name} for PPO, "
                        f"{Path(alphazero.SHIPPED).name} for AlphaZero, in {SHIPPED.parent})")
    args = parser.parse_args(argv)
    src = Path(args.src)
    if not src.is_file():
        parser.error(f"no checkpoint file at {src}")
    try:
        state = torch.load(src, map_location="cpu", weights_only=False)
    except Exception as exc:  # a truncated or foreign file: say so rather than show pickle's traceback
        parser.error(f"{src} is not a readable torch checkpoint ({type(exc).__name__}: {exc})")
    try:
        if alphazero.is_checkpoint(state):
            out = Path(alphazero.export_network(src, args.dst or alphazero.SHIPPED))
        else:
            out = export(src, args.dst or SHIPPED)
    except ValueError as exc:  # neither PPO's nor AlphaZero's layout
        parser.error(str(exc))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
