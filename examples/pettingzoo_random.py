#!/usr/bin/env python3
"""Two random agents play Essence Wars through PettingZoo's AEC API.

    python examples/pettingzoo_random.py --seed 3 --games 5 [--render]

Each agent samples uniformly among its legal actions (the ``action_mask`` of
its observation). ``agent_selection`` follows the game's player to move, so
an agent acts several times in a row during its turn. Prints each game's
result and the rewards both agents received.
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from essence_wars.pettingzoo_env import env as make_env


def play_game(aec, seed: int) -> dict:
    """One game with random legal actions; returns its summary."""
    aec.reset(seed=seed)
    for i, agent in enumerate(aec.possible_agents):
        aec.action_space(agent).seed(seed + i)
    totals = {agent: 0.0 for agent in aec.possible_agents}
    actions = {agent: 0 for agent in aec.possible_agents}
    winner, turn = -1, 0
    for agent in aec.agent_iter():
        observation, reward, termination, truncation, info = aec.last()
        totals[agent] += reward
        if termination or truncation:
            winner, turn = info.get("winner", -1), info.get("turn", turn)
            aec.step(None)
            continue
        action = aec.action_space(agent).sample(observation["action_mask"])
        actions[agent] += 1
        aec.step(action)
    return {"seed": seed, "winner": winner, "turns": turn, "rewards": totals, "actions": actions}


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--games", type=int, default=3)
    parser.add_argument("--deck0", default="argentum_control")
    parser.add_argument("--deck1", default="symbiote_aggro")
    parser.add_argument("--render", action="store_true", help="print the table after every action")
    args = parser.parse_args(argv)
    aec = make_env(deck0=args.deck0, deck1=args.deck1, render_mode="human" if args.render else None)
    wins = {0: 0, 1: 0, -1: 0}
    for g in range(args.games):
        result = play_game(aec, args.seed + g)
        wins[result["winner"]] += 1
        outcome = "draw" if result["winner"] == -1 else f"player_{result['winner']} wins"
        rewards = ", ".join(f"{agent} {r:+.0f}" for agent, r in result["rewards"].items())
        played = ", ".join(f"{agent} {n}" for agent, n in result["actions"].items())
        print(f"game {g} (seed {result['seed']}): {outcome} after {result['turns']} turns; "
              f"rewards: {rewards}; actions: {played}")
    aec.close()
    print(f"result: player_0 won {wins[0]}, player_1 won {wins[1]}, draws {wins[-1]} of {args.games} games")
    return 0


if __name__ == "__main__":
    sys.exit(main())
