"""agents/prior_screen.py: the PPO-prior leaf evaluator searches, and with the network's own prior
and value it is the plain AlphaZero search."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents import alphazero, prior_screen  # noqa: E402
from agents.az_network import PolicyValueNet  # noqa: E402
from agents.checkpoint import load_checkpoint, network_from_checkpoint, SHIPPED  # noqa: E402
from agents.networks import ActorCritic  # noqa: E402
from essence_wars import core  # noqa: E402


def _games():
    decks = core.list_decks()
    batch = core.Batch(4, opponent="greedy", agent_seat=[0, 1, 0, 1], autoreset=False)
    for i in range(4):
        batch.set_decks(decks[i], decks[i + 1], index=i)
    batch.reset(seeds=[11, 12, 13, 14])
    return batch


def test_the_control_is_the_plain_search():
    torch.manual_seed(0)
    net = PolicyValueNet(width=32, blocks=1).eval()
    plain = alphazero.SearchAgent(net, 24)
    mixed = alphazero.SearchAgent(net, 24)
    mixed.evaluate = prior_screen.PriorMix(net, network_from_checkpoint(load_checkpoint(SHIPPED)), "az", "az")
    batch = _games()
    try:
        idx = np.arange(4)
        np.testing.assert_array_equal(plain.act_in_batch(batch, idx), mixed.act_in_batch(batch, idx))
    finally:
        batch.close()


def test_ppo_prior_plays_legal_moves_and_bad_options_are_refused():
    net = PolicyValueNet(width=32, blocks=1).eval()
    ppo = network_from_checkpoint(load_checkpoint(SHIPPED))
    for prior, value in (("ppo", "ppo"), ("sum", "mean")):
        agent = alphazero.SearchAgent(net, 16)
        agent.evaluate = prior_screen.PriorMix(net, ppo, prior, value, temp=2.0)
        result = alphazero.play_match(agent, "random", games=4, seed=3)
        assert result.total.wins + result.total.draws + result.total.losses == 4
    with pytest.raises(ValueError, match="prior"):
        prior_screen.PriorMix(net, ppo, "nope")
    with pytest.raises(ValueError, match="temp"):
        prior_screen.PriorMix(net, ppo, temp=0.0)
    with pytest.raises(ValueError, match="afterstate head"):
        prior_screen.PriorMix(net, ActorCritic(hidden=16, layers=1))
