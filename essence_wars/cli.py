"""The ``essence-wars`` command line.

Subcommands live in one table, :data:`SUBCOMMANDS`: each entry names a
function that adds its arguments to a subparser and a function that runs it.
To add a subcommand (``train``, ``eval``, ``bench``...), write those two
functions, in their own module if they need heavy imports, and register
them with :func:`register` (import heavy modules inside ``run`` so that
``essence-wars info`` stays fast).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Callable, Dict, List, Optional, Sequence


@dataclass
class Subcommand:
    """One ``essence-wars`` subcommand."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


SUBCOMMANDS: Dict[str, Subcommand] = {}


def register(name: str, help: str, configure: Callable[[argparse.ArgumentParser], None],
             run: Callable[[argparse.Namespace], int]) -> None:
    """Adds a subcommand (a later registration under the same name replaces it)."""
    SUBCOMMANDS[name] = Subcommand(name, help, configure, run)


# ---------------------------------------------------------------------------
# info


def _info_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print as JSON")


def _info(args: argparse.Namespace) -> int:
    import essence_wars
    from essence_wars import core

    info = {
        "version": essence_wars.__version__,
        "obs_version": core.OBS_VERSION,
        "obs_size": core.OBS_SIZE,
        "num_actions": core.NUM_ACTIONS,
        "state_bytes": core.STATE_BYTES,
        "cards": len(core.list_cards()),
        "decks": core.list_decks(),
    }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:12} {', '.join(v) if isinstance(v, list) else v}")
    return 0


# ---------------------------------------------------------------------------
# cards


def _cards_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--faction", help="only this faction (Argentum, Symbiote, Obsidion, Neutral)")
    p.add_argument("--type", choices=["creature", "spell", "support"], help="only this card type")
    p.add_argument("--json", action="store_true", help="print as JSON")


def _cards(args: argparse.Namespace) -> int:
    from essence_wars import core

    cards = core.list_cards()
    if args.faction:
        cards = [c for c in cards if c.faction.lower() == args.faction.lower()]
    if args.type:
        cards = [c for c in cards if c.type == args.type]
    if args.json:
        print(json.dumps([asdict(c) for c in cards], indent=2))
        return 0
    for c in cards:
        stats = {"creature": f"{c.attack}/{c.health}", "support": f"dur {c.durability}"}.get(c.type, "")
        kw = f" [{', '.join(c.keywords)}]" if c.keywords else ""
        print(f"{c.id:4} {c.name:28} {c.faction:9} {c.type:8} {c.cost:2} {stats:7}{kw}  {c.text}")
    return 0


# ---------------------------------------------------------------------------
# decks


def _decks_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="show the cards of this deck")
    p.add_argument("--json", action="store_true", help="print as JSON")


def _decks(args: argparse.Namespace) -> int:
    from essence_wars import core

    names = [args.name] if args.name else core.list_decks()
    cards = core.list_cards()
    decks = {n: core.deck_cards(n) for n in names}
    if args.json:
        print(json.dumps(decks, indent=2))
        return 0
    for n, ids in decks.items():
        if args.name:
            print(n)
            for cid in sorted(set(ids), key=lambda i: (cards[i].cost, i)):
                print(f"  {ids.count(cid)}x {cards[cid].name} ({cards[cid].cost})")
        else:
            print(n)
    return 0


# ---------------------------------------------------------------------------
# play


def _play_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=0, help="deal seed (default 0)")
    p.add_argument("--deck0", help="player 0's deck (default: the first preset)")
    p.add_argument("--deck1", help="player 1's deck (default: the second preset)")
    p.add_argument("--mode", default="attrition", choices=["attrition", "essence_duel"])
    p.add_argument("--bot0", default="random", help="player 0's bot (random, greedy, mcts-N)")
    p.add_argument("--bot1", default="greedy", help="player 1's bot (random, greedy, mcts-N)")
    p.add_argument("--quiet", action="store_true", help="print only the result")


def _play(args: argparse.Namespace) -> int:
    from essence_wars import core
    from essence_wars.bots import NativeBot

    decks = core.list_decks()
    deck0 = args.deck0 or decks[0]
    deck1 = args.deck1 or decks[1 % len(decks)]
    bots = [NativeBot(args.bot0, seed=args.seed * 2 + 1), NativeBot(args.bot1, seed=args.seed * 2 + 2)]
    with core.Game(args.seed, deck0, deck1, args.mode) as game:
        print(f"{args.bot0} ({deck0}) vs {args.bot1} ({deck1}), seed {args.seed}, {args.mode}")
        actions = 0
        while not game.is_done():
            seat = game.current_player()
            action = bots[seat](game)
            if action == core.END_TURN and not args.quiet:
                print(game.render())
            if not args.quiet:
                print(f"  P{seat} ({bots[seat].name}): {core.describe_action(action)}")
            game.step(action)
            actions += 1
        if not args.quiet:
            print(game.render())
        w = game.winner()
        result = "draw" if w is None else f"player {w} ({bots[w].name}) wins"
        print(f"result: {result} after {game.turn()} turns and {actions} actions")
    return 0


register("info", "library version, sizes and catalogue counts", _info_args, _info)
register("cards", "list the card catalogue", _cards_args, _cards)
register("decks", "list the preset decks, or one deck's cards", _decks_args, _decks)
register("play", "play one quick bot game and print it (random vs greedy)", _play_args, _play)

from essence_wars import bench_cli  # noqa: E402,F401  (registers "bench")


#: Entry-point group of CLI plugins: each names a module that calls
#: :func:`register` when imported. The PyTorch agents (``train``, ``eval``)
#: come in this way, because ``agents`` depends on ``essence_wars`` and never
#: the reverse.
PLUGIN_GROUP = "essence_wars.cli"


def load_plugins() -> None:
    """Imports every installed CLI plugin; a broken plugin is reported, not fatal."""
    from importlib.metadata import entry_points

    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001 - a plugin must not break the other commands
            print(f"essence-wars: warning: plugin {ep.name!r} ({ep.value}) failed to load: {e}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    load_plugins()
    parser = argparse.ArgumentParser(prog="essence-wars", description="Essence Wars: a card game engine for RL research.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for cmd in SUBCOMMANDS.values():
        p = sub.add_parser(cmd.name, help=cmd.help, description=cmd.help)
        cmd.configure(p)
        p.set_defaults(_run=cmd.run)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``essence-wars`` console script."""
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    try:
        return int(args._run(args) or 0)
    except (ValueError, TypeError, RuntimeError) as e:
        print(f"essence-wars {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
