#!/usr/bin/env bash
# The main job on a fresh machine: install, train a PPO agent with the short
# default budget, then evaluate it against the random and greedy bots.
# Usage: bash scripts/train.sh [extra options for `essence-wars train ppo`]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install.sh train

run_dir="runs/ppo-$(date +%Y%m%d-%H%M%S)"
echo "== essence-wars train ppo --run-dir $run_dir $*"
essence-wars train ppo --run-dir "$run_dir" "$@"

echo "== essence-wars eval (1000 seat-swapped games per opponent, decks rotated)"
essence-wars eval --agent "$run_dir/checkpoint.pt" --opponent random greedy --games 1000
echo "TensorBoard logs: tensorboard --logdir $run_dir"
