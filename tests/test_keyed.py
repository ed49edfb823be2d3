"""agents.keyed: per-game random numbers for evaluation (what makes a result
independent of the chunking and the worker count)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from agents import keyed  # noqa: E402


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0.0, 0.0, 1e-30, 1e-7, 0.3, 1.0, 5.0]), min_size=1, max_size=12)
                .filter(lambda r: sum(r) > 0), min_size=1, max_size=8),
       st.lists(st.floats(0.0, 1.0, exclude_max=True), min_size=8, max_size=8))
def test_sample_draws_only_actions_with_probability(rows, us):
    width = max(len(r) for r in rows)
    probs = np.zeros((len(rows), width))
    for i, r in enumerate(rows):
        probs[i, :len(r)] = r
    u = np.array(us[:len(rows)])
    actions = keyed.sample(probs, u)
    assert actions.shape == (len(rows),) and actions.dtype == np.int64
    assert (probs[np.arange(len(rows)), actions] > 0).all()
    # the largest u gives the last action with probability, the smallest the first
    top = keyed.sample(probs, np.full(len(rows), 1.0 - 2.0 ** -53))
    low = keyed.sample(probs, np.zeros(len(rows)))
    for i in range(len(rows)):
        legal = np.flatnonzero(probs[i] > 0)
        assert low[i] == legal[0]
        assert top[i] in legal


def test_sample_follows_the_distribution():
    p = np.array([[0.1, 0.0, 0.6, 0.3]])
    u = (np.arange(10_000) + 0.5) / 10_000  # an even grid: the counts are the probabilities exactly
    counts = np.bincount(keyed.sample(np.repeat(p, len(u), 0), u), minlength=4)
    assert counts.tolist() == [1000, 0, 6000, 3000]


def test_uniforms_depend_on_the_seed_and_key_alone():
    keys = keyed.decision_keys(np.array([0, 0, 1, 7]), np.array([0, 1, 0, 3]))
    assert keys.tolist() == [0, 1, 1 << 32, (7 << 32) | 3]
    a = keyed.uniforms(5, keys)
    assert ((a >= 0) & (a < 1)).all() and len(set(a.tolist())) == 4
    np.testing.assert_array_equal(keyed.uniforms(5, keys[::-1]), a[::-1])  # no state between rows
    assert not np.array_equal(keyed.uniforms(6, keys), a)
    many = keyed.uniforms(1, np.arange(100_000, dtype=np.uint64))
    assert abs(many.mean() - 0.5) < 0.01 and abs((many < 0.1).mean() - 0.1) < 0.01
