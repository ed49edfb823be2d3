"""Randomness keyed by the game, not by the batch: what makes an evaluation's
result independent of how its games are split into chunks and workers.

A sampling policy that draws from one generator for a whole batch gives
game ``g`` whichever numbers come up at its row, and those depend on which
other games share the batch (the chunk size, hence ``--workers``). Here
each decision of each game gets its own key, ``game index << 32 | decision
number`` (:func:`decision_keys`), and every random number an agent needs for
it is a pure function of its own seed and that key (:func:`uniforms`,
:func:`sample`): the same game gets the same numbers whatever else is
played beside it.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 values (wrapping arithmetic)."""
    z = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        z += _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def decision_keys(games: np.ndarray, decisions: np.ndarray) -> np.ndarray:
    """The key of decision ``decisions[k]`` of schedule game ``games[k]``."""
    return (np.asarray(games, np.uint64) << np.uint64(32)) | np.asarray(decisions, np.uint64)


def check(keys, n: int) -> np.ndarray:
    """``keys`` as a flat uint64 array of ``n`` values, or a ValueError naming the mismatch."""
    keys = np.asarray(keys, np.uint64).reshape(-1)
    if keys.size != n:
        raise ValueError(f"keys holds {keys.size} values for {n} rows")
    return keys


def seeds(seed: int, keys: np.ndarray) -> np.ndarray:
    """One 64-bit seed per key for an agent seeded ``seed``."""
    return mix(mix(np.uint64(int(seed) & 0xFFFFFFFFFFFFFFFF)) ^ np.asarray(keys, np.uint64))


def uniforms(seed: int, keys: np.ndarray) -> np.ndarray:
    """One float64 in [0, 1) per key (53 random bits)."""
    return (seeds(seed, keys) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))


def sample(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Row ``k``'s action drawn from ``probs[k]`` (non-negative, not all 0) by
    inverse CDF at ``u[k]`` in [0, 1). Only actions of positive probability
    are drawn: the first index whose cumulative sum passes ``u * total`` has
    its own mass above zero (and when rounding puts ``u * total`` at the
    total, the last such action is taken)."""
    p = np.asarray(probs, np.float64)
    cdf = np.cumsum(p, axis=1)
    target = np.asarray(u, np.float64) * cdf[:, -1]
    actions = (cdf <= target[:, None]).sum(1)
    last = p.shape[1] - 1 - np.argmax(p[:, ::-1] > 0, axis=1)
    return np.where(actions < p.shape[1], actions, last).astype(np.int64)
