"""Card ids: which card sits in each hand, lane and support slot (Game.card_ids,
Batch.card_ids), checked against the catalogue and the observation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from essence_wars import core
from essence_wars.core import CARD_ID_SLOTS, CARD_ID_VOCAB, ClosedError, Game

CARDS = {c.id: c for c in core.list_cards()}


def test_constants():
    assert CARD_ID_SLOTS == 34
    assert CARD_ID_VOCAB == len(CARDS) + 1


def check_against_observation(ids: np.ndarray, obs: np.ndarray) -> None:
    assert ids.dtype == np.uint16 and ids.shape == (CARD_ID_SLOTS,)
    assert ids.max() < CARD_ID_VOCAB
    for h in range(20):  # my hand, then the opponent's
        feat = obs[16 + 5 * h:21 + 5 * h]
        if ids[h] == 0:
            assert not feat.any()
        else:
            card = CARDS[int(ids[h]) - 1]
            assert feat[0] == pytest.approx(card.cost / 10)
            assert feat[3] == (card.type == "spell") and feat[4] == (card.type == "support")
    for lane in range(10):  # my lanes, then the opponent's
        feat = obs[116 + 19 * lane:135 + 19 * lane]
        assert (ids[20 + lane] == 0) == (not feat.any())
        if ids[20 + lane]:
            assert CARDS[int(ids[20 + lane]) - 1].type == "creature"
    for k in range(4):  # my supports, then the opponent's
        assert (ids[30 + k] != 0) == (obs[306 + 5 * k] == 1.0)
        if ids[30 + k]:
            assert CARDS[int(ids[30 + k]) - 1].type == "support"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), steps=st.integers(0, 150), d0=st.integers(0, 5), d1=st.integers(0, 5))
def test_ids_match_the_observation_in_random_positions(seed, steps, d0, d1):
    decks = core.list_decks()
    with Game(seed=seed, deck0=decks[d0], deck1=decks[d1]) as g:
        for k in range(steps):
            if g.is_done():
                break
            g.step(g.random_action(seed + k))
        check_against_observation(g.card_ids(), g.observe())
        me = g.current_player()
        np.testing.assert_array_equal(g.card_ids(seat=me), g.card_ids())
        other = g.card_ids(seat=1 - me)
        mine = g.card_ids()
        for a, n in ((0, 10), (20, 5), (30, 2)):
            np.testing.assert_array_equal(other[a:a + n], mine[a + n:a + 2 * n])


def test_the_opening_hands_are_the_dealt_cards():
    with Game(seed=3, deck0="argentum_control", deck1="symbiote_aggro") as g:
        ids = g.card_ids()
        in_deck0 = set(core.deck_cards("argentum_control"))
        in_deck1 = set(core.deck_cards("symbiote_aggro"))
        assert all(int(i) - 1 in in_deck0 for i in ids[:10] if i)
        assert all(int(i) - 1 in in_deck1 for i in ids[10:20] if i)
        assert (ids[:10] != 0).sum() == 5 and (ids[10:20] != 0).sum() == 6  # 4 + the first draw; 4 + 2
        assert not ids[20:].any()


def test_bad_seat_and_closed_game():
    g = Game(seed=1)
    before = g.to_bytes()
    for bad in (2, -1, True, "0", 0.5):
        with pytest.raises(ValueError, match="seat"):
            g.card_ids(seat=bad)
    assert g.to_bytes() == before
    g.close()
    with pytest.raises(ClosedError):
        g.card_ids()


def test_batch_card_ids_match_each_game():
    with core.Batch(8, "obsidion_burst", "argentum_midrange", opponent="greedy", autoreset=True, seed=2) as b:
        b.reset(seed=5)
        out = np.zeros((8, CARD_ID_SLOTS), np.uint16)
        rng = np.random.default_rng(0)
        for _ in range(40):
            res = b.step(np.array([rng.choice(np.flatnonzero(m)) for m in b.observe().masks]))
            assert b.card_ids(out=out) is out
            for i in range(8):
                g = b.game(i)
                np.testing.assert_array_equal(out[i], g.card_ids())
                check_against_observation(out[i], res.obs[i])
                g.close()
        with pytest.raises(TypeError, match="uint16"):
            b.card_ids(out=np.zeros((8, CARD_ID_SLOTS), np.int32))
        with pytest.raises(ValueError, match="272 elements"):
            b.card_ids(out=np.zeros((7, CARD_ID_SLOTS), np.uint16))
    with pytest.raises(ClosedError):
        b.card_ids()
