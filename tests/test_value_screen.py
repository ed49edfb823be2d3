"""agents/value_screen.py: the deck order read from a game's bytes against the engine's draws, the
position generator's determinism and the screen's reports and errors."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agents import value_screen
from essence_wars import core


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 4))
def test_upcoming_draws_are_the_cards_the_engine_draws(seed, k):
    decks = core.list_decks()
    g = core.Game(seed, decks[seed % len(decks)], decks[(seed // 7) % len(decks)])
    checked = 0
    for step in range(300):
        if g.is_done():
            break
        mover = g.current_player()
        before = value_screen.upcoming_draws(g, k)
        assert np.array_equal(value_screen.upcoming_draws(g, k, seat=1 - mover)[:k], before[k:])
        deck_before = round(float(g.observe()[13]) * 30)  # the opponent's deck length
        g.step(g.bot_action("greedy", seed=step))
        if g.is_done() or g.current_player() == mover:
            continue
        if deck_before - round(float(g.observe()[7]) * 30) != 1:
            continue  # not exactly one draw since (an effect drew too)
        # The new mover's turn began with one draw: the last card of its hand, if the hand had room,
        # and what it will draw next is what followed in its deck.
        ids = g.card_ids()
        hand = int((ids[:10] > 0).sum())
        if hand < 10:
            assert ids[hand - 1] == before[k]
            checked += 1
        assert np.array_equal(value_screen.upcoming_draws(g, k)[:k - 1], before[k + 1:2 * k])
    assert checked > 0


def test_upcoming_draws_refuses_bad_arguments():
    g = core.Game(1)
    for k in (0, 31, 2.0, True):
        with pytest.raises(ValueError, match="k must be"):
            value_screen.upcoming_draws(g, k)
    with pytest.raises(ValueError, match="seat must be 0 or 1"):
        value_screen.upcoming_draws(g, 2, seat=2)


def test_an_exhausted_deck_reads_zero():
    g = core.Game(3)
    out = value_screen.upcoming_draws(g, 30)
    for seat_block in (out[:30], out[30:]):
        n = int((seat_block > 0).sum())
        assert 0 < n < 30 and not seat_block[n:].any() and seat_block[:n].all()


def test_generate_does_not_depend_on_the_worker_count():
    one = value_screen.generate(6, seed=5, k=3, workers=1)
    two = value_screen.generate(6, seed=5, k=3, workers=2)
    for col in ("obs", "ids", "draws", "z", "game"):
        assert np.array_equal(one[col], two[col]), col
    assert one["draws"].shape == (len(one["z"]), 6) and set(np.unique(one["z"])) <= {-1.0, 0.0, 1.0}
    assert one["game"].max() == 5
    with pytest.raises(ValueError, match="epsilon"):
        value_screen.generate(2, epsilon=1.5)


def test_screen_reports_every_feature_set_and_refuses_unknown_ones():
    data = value_screen.generate(20, seed=1, k=2, workers=1)
    out = io.StringIO()
    rows = value_screen.screen(data, steps=4, every=2, batch_size=8, width=16, out=out)
    assert [r["features"] for r in rows] == [f for f in value_screen.FEATURES for _ in range(3)]
    assert all(np.isfinite(r["heldout_mse"]) for r in rows)
    assert rows[0]["train_mse"] is None and rows[1]["train_mse"] is not None
    assert len(out.getvalue().splitlines()) == len(rows)
    with pytest.raises(ValueError, match="unknown features 'deck'"):
        value_screen.screen(data, ["deck"], steps=1)
