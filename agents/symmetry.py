"""Hand-order symmetry: training rows that are the same position with the cards of a hand reordered.

The rules never look at where a card sits in a hand (play takes card ``h`` out and closes the gap; draws
append), so a position with both hands reordered is the same position, and its value is the same. In the
observation (docs/OBSERVATION.md) hand card ``h`` of the player to move is the 5 floats at ``16 + 5h``,
the opponent's at ``66 + 5h``, and the play actions of card ``h`` are ``5h .. 5h + 4``; both hands are
packed (the first ``n`` positions hold the ``n`` cards, the count is in the observation). Reordering the
first ``n`` positions of each hand, and the play-action block of the mover's hand with it, turns one row
of (observation, legal mask, visit distribution) into up to ``n! * m!`` rows with the same value target.

The test (tests/test_symmetry.py) checks the engine against this: a game whose hands were reordered in
its saved bytes observes as :func:`permute_hands` says, and every play action leads to the same position
as the matching action of the original game.
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

HAND_SIZE, CARD_FEATURES, PLAY_ARGS = 10, 5, 5
MY_HAND, OPP_HAND = 16, 66  # offsets of the two hand blocks
MY_COUNT, OPP_COUNT = 8, 14  # cards in hand / 10
PLAY_ACTIONS = HAND_SIZE * PLAY_ARGS  # actions 0..49


def hand_counts(obs: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Cards in the mover's and in the opponent's hand, per row of ``obs`` [B, 326]."""
    return (np.rint(obs[:, MY_COUNT] * HAND_SIZE).astype(np.int64),
            np.rint(obs[:, OPP_COUNT] * HAND_SIZE).astype(np.int64))


def random_permutations(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """[B, 10] permutations that shuffle the first ``counts[b]`` positions of row b and keep the rest.

    Row ``perm[b]`` reads "new position j holds the card of old position perm[b, j]"."""
    keys = rng.random((len(counts), HAND_SIZE))
    keys[np.arange(HAND_SIZE)[None, :] >= counts[:, None]] = np.inf  # ties: a stable sort keeps them last
    return np.argsort(keys, axis=1, kind="stable")


def apply_permutations(obs: np.ndarray, masks: Optional[np.ndarray], policy: Optional[np.ndarray],
                       mine: np.ndarray, theirs: np.ndarray):
    """``(obs, masks, policy)`` with the mover's hand reordered by ``mine`` and the opponent's by
    ``theirs`` ([B, 10] each, as :func:`random_permutations` returns); new arrays, the inputs are not
    touched. ``masks`` or ``policy`` may be None (returned as None)."""
    rows = np.arange(len(obs))[:, None]
    out = obs.copy()
    for start, perm in ((MY_HAND, mine), (OPP_HAND, theirs)):
        block = obs[:, start:start + HAND_SIZE * CARD_FEATURES].reshape(-1, HAND_SIZE, CARD_FEATURES)
        out[:, start:start + HAND_SIZE * CARD_FEATURES] = block[rows, perm].reshape(len(obs), -1)

    def actions(x):
        if x is None:
            return None
        y = x.copy()
        block = x[:, :PLAY_ACTIONS].reshape(-1, HAND_SIZE, PLAY_ARGS)
        y[:, :PLAY_ACTIONS] = block[rows, mine].reshape(len(x), -1)
        return y

    return out, actions(masks), actions(policy)


def permute_hands(obs: np.ndarray, masks: Optional[np.ndarray], policy: Optional[np.ndarray],
                  rng: np.random.Generator):
    """Each row with both hands independently and uniformly reordered (new arrays)."""
    if obs.ndim != 2 or obs.shape[1] < MY_HAND + 2 * HAND_SIZE * CARD_FEATURES:
        raise ValueError(f"permute_hands expects [B, 326] observations, got shape {obs.shape}")
    mine, theirs = hand_counts(obs)
    return apply_permutations(obs, masks, policy, random_permutations(mine, rng), random_permutations(theirs, rng))
