#!/usr/bin/env bash
# The main job on a fresh machine: install, train a PPO agent with the short
# default budget (400k env steps, about 4 minutes on 2 cores), and evaluate
# it: the trainer ends with 1000 seat-swapped games (decks rotated) against
# the random and the greedy bots, with Wilson 95% intervals.
# Usage: bash scripts/train.sh [options for `essence-wars train ppo`, e.g. --timesteps 20000000]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh train

echo "== essence-wars train ppo $*"
essence-wars train ppo "$@"
