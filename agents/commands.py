"""Registers ``essence-wars train`` and ``essence-wars eval`` with the CLI.

``essence_wars/cli.py`` loads this module as a plugin through the
``essence_wars.cli`` entry-point group declared in ``pyproject.toml``
(agents depends on essence_wars, never the reverse).

Heavy modules (torch) are imported only when a command runs, so
``essence-wars info`` stays fast. ``python -m agents.commands ...`` runs the
full CLI with these commands registered, without that line.

``train`` takes the algorithm as its first argument (``train ppo``); other
algorithms add themselves to :data:`TRAINERS`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Dict, Tuple

from essence_wars import cli

#: algorithm name -> (help, configure(parser), run(namespace) -> exit code)
TRAINERS: Dict[str, Tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {}


def _ppo_configure(p: argparse.ArgumentParser) -> None:
    from agents import ppo  # numpy only at import; torch is imported by train()

    ppo.configure(p)


def _ppo_run(ns: argparse.Namespace) -> int:
    from agents import ppo

    return ppo.run(ns)


TRAINERS["ppo"] = ("PPO with action masking, self-play and a league (agents/ppo.py)", _ppo_configure, _ppo_run)


def _alphazero_configure(p: argparse.ArgumentParser) -> None:
    from agents import alphazero

    alphazero.configure(p)


def _alphazero_run(ns: argparse.Namespace) -> int:
    from agents import alphazero

    return alphazero.run(ns)


TRAINERS["alphazero"] = ("AlphaZero: batched neural MCTS self-play (agents/alphazero.py)",
                         _alphazero_configure, _alphazero_run)


def _expert_configure(p: argparse.ArgumentParser) -> None:
    from agents import expert

    expert.configure(p)


def _expert_run(ns: argparse.Namespace) -> int:
    from agents import expert

    return expert.run(ns)


TRAINERS["expert"] = ("the AlphaZero network imitating the rollout MCTS bot (agents/expert.py): games, then "
                      "distillation; go on with train alphazero --init", _expert_configure, _expert_run)


def _train_configure(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="algorithm", metavar="ALGORITHM")
    sub.required = True
    for name, (help_text, conf, run) in TRAINERS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        conf(sp)
        sp.set_defaults(_train_run=run)


def _train_run(ns: argparse.Namespace) -> int:
    return ns._train_run(ns)


def _eval_configure(p: argparse.ArgumentParser) -> None:
    from agents import evaluate

    evaluate.configure_eval(p)


def _eval_run(ns: argparse.Namespace) -> int:
    from agents import evaluate

    return evaluate.run_eval(ns)


cli.register("train", "train an agent: essence-wars train ppo [options]", _train_configure, _train_run)
cli.register("eval", "play N seeded games between two agents (checkpoint, random, greedy, mcts-N)",
             _eval_configure, _eval_run)

if __name__ == "__main__":
    sys.exit(cli.main())
