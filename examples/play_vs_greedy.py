#!/usr/bin/env python3
"""Play Essence Wars against the greedy bot in the terminal.

    python examples/play_vs_greedy.py                 # you play seat 0
    python examples/play_vs_greedy.py --seat 1 --seed 7 --deck obsidion_burst
    python examples/play_vs_greedy.py --auto          # no input: random legal moves

Each time it is your move the table is shown with your legal actions,
numbered, in words ("play Vault Sentinel (4: 2/5) into your lane 2",
"attack with Hive Drone (lane 3) into enemy lane 3: the enemy player").
Type a number and Enter; ``q`` quits. The greedy bot plays its whole turn
when you end yours. When standard input is not a terminal (a pipe, CI) or
with ``--auto``, the script picks uniformly random legal actions itself, so
it always runs to the end without waiting.
"""

from __future__ import annotations

import argparse
import re
import sys
from typing import Callable, Dict, List, Optional, TextIO, Tuple

import numpy as np

from essence_wars import core
from essence_wars.env import EssenceWarsEnv

END_TURN = core.END_TURN
_HAND_CARD = re.compile(r"(.+?) \((\d+): ([^)]*)\)(?:, |$)")
_LANE = re.compile(r"lane (\d): (.+?) (-?\d+)/(-?\d+)(?: \[[^\]]*\])?(?: \([^)]*\))?$")


class Table:
    """What the action descriptions need, read from the text of the table."""

    def __init__(self, text: str, seat: int):
        self.hand: List[Tuple[str, str]] = []  # (name, "cost: detail")
        self.lanes: Dict[int, Dict[int, str]] = {0: {}, 1: {}}  # seat -> lane -> "Name a/h"
        current = None
        for line in text.splitlines():
            header = re.match(r"^[> ] P(\d):", line)
            if header:
                current = int(header.group(1))
                continue
            line = line.strip()
            if current is None:
                continue
            lane = _LANE.match(line)
            if lane:
                self.lanes[current][int(lane.group(1))] = f"{lane.group(2)} {lane.group(3)}/{lane.group(4)}"
            elif line.startswith("hand: ") and current == seat:
                self.hand = [(m.group(1), f"{m.group(2)}: {m.group(3)}") for m in _HAND_CARD.finditer(line[6:])]
        self.me, self.foe = seat, 1 - seat


def describe(action: int, table: Table, cards: Dict[str, core.Card]) -> str:
    """A sentence for one action index (falls back to the engine's wording)."""
    if action == END_TURN:
        return "end your turn"
    try:
        if action < 50:
            name, detail = table.hand[action // 5]
            target = action % 5
            card = cards.get(name)
            kind = card.type if card else "card"
            if kind == "creature":
                return f"play {name} ({detail}) into your lane {target}"
            if kind == "support":
                return f"play {name} ({detail}) into support slot {target}"
            text = card.text if card else ""
            # The card text says which side a targeted spell aims at.
            if "an enemy creature" in text:
                aim = f" at enemy lane {target}: {table.lanes[table.foe].get(target, 'empty')}"
            elif "a friendly creature" in text:
                aim = f" on your lane {target}: {table.lanes[table.me].get(target, 'empty')}"
            else:
                aim = ""
            return f"cast {name} ({detail}){aim} ({text})" if text else f"cast {name} ({detail}){aim}"
        if action < 75:
            attacker, lane = divmod(action - 50, 5)
            who = table.lanes[table.me][attacker]
            defender = table.lanes[table.foe].get(lane, "the enemy player (the lane is empty)")
            return f"attack with {who} (lane {attacker}) into enemy lane {lane}: {defender}"
        if action < 135:
            slot, target = divmod(action - 75, 12)
            who = table.lanes[table.me][slot]
            if target == 0:
                aim = "no target / itself"
            elif target <= 5:
                aim = f"enemy lane {target - 1}: {table.lanes[table.foe].get(target - 1, 'empty')}"
            elif target <= 10:
                aim = f"your lane {target - 6}: {table.lanes[table.me].get(target - 6, 'empty')}"
            else:
                aim = "the enemy player"
            return f"use the ability of {who} (lane {slot}) on {aim}"
    except (IndexError, KeyError):
        pass
    return core.describe_action(action)


def read_choice(count: int, ask: Callable[[str], str], out: TextIO) -> Optional[int]:
    """Asks until the answer is a number 1..count; returns its index, or None to quit."""
    while True:
        try:
            answer = ask(f"Your move [1-{count}, q to quit]: ").strip().lower()
        except EOFError:
            return None
        if answer in ("q", "quit", "exit"):
            return None
        if answer.isdigit() and 1 <= int(answer) <= count:
            return int(answer) - 1
        out.write(f"Please type a number from 1 to {count} (or q to quit); got {answer!r}.\n")


def play(seed: int = 0, seat: int = 0, deck: str = "argentum_control", opponent_deck: str = "symbiote_aggro",
         auto: bool = False, ask: Callable[[str], str] = input, out: TextIO = sys.stdout) -> Optional[float]:
    """Plays one game; returns your final reward (+1, -1, 0), or None if you quit."""
    env = EssenceWarsEnv(deck=deck, opponent_deck=opponent_deck, opponent="greedy", agent_seat=seat,
                         illegal_action="raise", render_mode="ansi")
    cards = {card.name: card for card in core.list_cards()}
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    out.write(f"Essence Wars: you are player {seat} ({deck}) against the greedy bot ({opponent_deck}).\n")
    try:
        while True:
            text = env.render()
            legal = [int(a) for a in np.flatnonzero(info["action_mask"])]
            table = Table(text, seat)
            out.write("\n" + text)
            out.write(f"Turn {info['turn']}. Your legal actions:\n")
            for k, action in enumerate(legal, 1):
                out.write(f"  {k:>2}. {describe(action, table, cards)}\n")
            if auto:
                k = int(rng.integers(len(legal)))
                out.write(f"Auto: {k + 1}\n")
            else:
                k = read_choice(len(legal), ask, out)
                if k is None:
                    out.write("You left the game.\n")
                    return None
            action = legal[k]
            if action == END_TURN:
                out.write("You end your turn; the greedy bot plays.\n")
            obs, reward, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                out.write("\n" + env.render())
                verdict = {1.0: "You won!", -1.0: "You lost.", 0.0: "Draw."}[reward]
                out.write(f"Game over after {info['turn']} turns: {verdict} (reward {reward:+.0f})\n")
                return reward
    finally:
        env.close()


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=0, help="seed of the deal and of the bot")
    parser.add_argument("--seat", type=int, choices=(0, 1), default=0, help="your seat (0 moves first)")
    parser.add_argument("--deck", default="argentum_control", choices=core.list_decks(), help="your deck")
    parser.add_argument("--opponent-deck", default="symbiote_aggro", choices=core.list_decks(),
                        help="the greedy bot's deck")
    parser.add_argument("--auto", action="store_true",
                        help="no input: random legal moves (also when stdin is not a terminal)")
    args = parser.parse_args(argv)
    auto = args.auto or not sys.stdin.isatty()
    if auto and not args.auto:
        print("(standard input is not a terminal: playing random legal moves; see --help)")
    play(args.seed, args.seat, args.deck, args.opponent_deck, auto=auto)
    return 0


if __name__ == "__main__":
    sys.exit(main())
