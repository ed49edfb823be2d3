"""Hand-order symmetry (agents/symmetry.py) against the engine: a game whose hands are reordered in its
saved bytes is the same game, and it observes as permute_hands says."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import symmetry
from agents.value_screen import HAND_AT, PLAYER_BYTES, PLAYERS_AT
from essence_wars import core


def _fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def reorder_hands(game: core.Game, perms: dict) -> core.Game:
    """A new game from ``game``'s bytes with seat s's hand reordered: new position j holds old perms[s][j]."""
    data = bytearray(game.to_bytes())
    for seat, perm in perms.items():
        at = PLAYERS_AT + seat * PLAYER_BYTES + HAND_AT
        hand = struct.unpack_from("<10H", data, at)
        struct.pack_into("<10H", data, at, *[hand[k] for k in perm])
    struct.pack_into("<Q", data, len(data) - 8, _fnv1a64(bytes(data[:-8])))
    return core.Game.from_bytes(bytes(data))


def _position(seed: int, steps: int) -> core.Game:
    g = core.Game(seed, core.list_decks()[seed % 6], core.list_decks()[(seed // 6) % 6])
    for k in range(steps):
        if g.is_done():
            break
        g.step(g.greedy_action(seed + k) if k % 3 else g.random_action(seed + k))
    return g


def _canonical(obs: np.ndarray) -> tuple:
    """The observation with each hand's cards sorted: equal for positions that differ in hand order only."""
    parts = []
    for start in (symmetry.MY_HAND, symmetry.OPP_HAND):
        cards = obs[start:start + 50].reshape(10, 5)
        parts.append(cards[np.lexsort(cards.T[::-1])].tobytes())
    rest = np.concatenate([obs[:symmetry.MY_HAND], obs[symmetry.OPP_HAND + 50:]])
    return (rest.tobytes(), *parts)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), steps=st.integers(0, 60), perm_seed=st.integers(0, 2**32 - 1))
def test_a_game_with_reordered_hands_observes_and_plays_as_permute_hands_says(seed, steps, perm_seed):
    g = _position(seed, steps)
    if g.is_done():
        return
    obs, mask = g.observe()[None], g.action_mask()[None]
    mine_n, theirs_n = symmetry.hand_counts(obs)
    rng = np.random.default_rng(perm_seed)
    mine, theirs = symmetry.random_permutations(mine_n, rng), symmetry.random_permutations(theirs_n, rng)
    me = g.current_player()
    h = reorder_hands(g, {me: mine[0], 1 - me: theirs[0]})
    policy = mask / mask.sum()
    p_obs, p_mask, p_policy = symmetry.apply_permutations(obs, mask, policy.astype(np.float32), mine, theirs)
    np.testing.assert_array_equal(h.observe(), p_obs[0])
    np.testing.assert_array_equal(h.action_mask(), p_mask[0])
    np.testing.assert_array_equal(p_policy[0] > 0, p_mask[0])
    # Every play action of the original leads to the position the matching action leads to in the copy.
    new_position = np.argsort(mine[0])  # old hand position -> new
    for a in np.flatnonzero(mask[0]):
        b = a if a >= symmetry.PLAY_ACTIONS else 5 * new_position[a // 5] + a % 5
        assert p_mask[0, b]
        x, y = g.fork(), h.fork()
        assert x.step(int(a)) == y.step(int(b))
        for seat in (0, 1):
            assert _canonical(x.observe(seat=seat)) == _canonical(y.observe(seat=seat))
        x.close(), y.close()
    g.close(), h.close()


@settings(max_examples=50, deadline=None)
@given(counts=st.lists(st.integers(0, 10), min_size=1, max_size=20), seed=st.integers(0, 2**32 - 1))
def test_random_permutations_shuffle_the_cards_and_keep_the_empty_positions(counts, seed):
    counts = np.array(counts)
    perm = symmetry.random_permutations(counts, np.random.default_rng(seed))
    for n, p in zip(counts, perm):
        assert sorted(p[:n]) == list(range(n)), "the cards stay among the first n positions"
        assert list(p[n:]) == list(range(n, 10)), "empty positions stay in place"


def test_permute_hands_mixes_orders_and_keeps_everything_else():
    g = _position(5, 9)
    obs, mask = g.observe()[None].repeat(200, 0), g.action_mask()[None].repeat(200, 0)
    n = int(symmetry.hand_counts(obs[:1])[0][0])
    assert n >= 3
    p_obs, p_mask, p_policy = symmetry.permute_hands(obs, mask, None, np.random.default_rng(0))
    assert p_policy is None
    assert len({r.tobytes() for r in p_obs}) > 50, "many distinct orders among 200 rows"
    np.testing.assert_array_equal(p_obs[:, :16], obs[:, :16])
    np.testing.assert_array_equal(p_obs[:, 116:], obs[:, 116:])
    np.testing.assert_array_equal(p_mask[:, 50:], mask[:, 50:])
    assert (p_mask.sum(1) == mask.sum(1)).all()
    assert (obs[0] == g.observe()).all(), "inputs are not modified"
    with pytest.raises(ValueError, match="326"):
        symmetry.permute_hands(obs[0], mask[0], None, np.random.default_rng(0))
    g.close()
