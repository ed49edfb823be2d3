//! Monte Carlo tree search (UCT) over actions, with random or greedy rollouts.
//!
//! Perspective: a turn is several actions by the same player, so players do
//! not alternate every move. Each node records the seat that chose the action
//! leading to it (the mover at its parent) and accumulates rewards from that
//! seat's point of view. Selection at a node therefore maximises the mean
//! reward of the player who moves there, whoever moved before.
//!
//! Each decision: if exactly one action is legal, or an action wins at once,
//! it is taken without searching. Otherwise `simulations` simulations each
//! walk down the tree from the root (replaying actions on a clone of the root
//! game: nodes hold statistics only, no game states), add one new child,
//! roll out to the end of the game (or a cap) and back the result up.
//! The most visited root action is played. Nodes live in one arena `Vec`
//! whose allocation is reused from one decision to the next.
//!
//! Information: the game is perfect-information in the engine's sense (one
//! shuffle at the start, nothing random afterwards), so a clone of the game
//! knows both decks' order, and a plain search plans with the cards each
//! player will draw. The observation a learning agent gets hides that order
//! (`docs/OBSERVATION.md`). [`MctsBot::with_determinized`] makes the bot play
//! on the same information: every simulation starts from a copy of the game
//! whose undrawn cards are reshuffled (both decks, from the bot's own
//! generator), so the statistics average over the orders the observation
//! cannot tell apart ("determinized" MCTS, one sample per simulation).

use super::{greedy, random_action, Bot, BotSpec};
use crate::actions::{ActionMask, NUM_ACTIONS};
use crate::rng::Rng;
use crate::state::Game;

/// Default UCT exploration constant `c` in `q + c * sqrt(ln N / n)`, for
/// rewards in [-1, 1] (win +1, draw 0, loss -1).
pub const DEFAULT_EXPLORATION: f32 = 1.0;

/// Default cap on a rollout's length, in actions. A safety net only: every
/// game ends within 30 player-turns, far below this.
pub const DEFAULT_ROLLOUT_CAP: u32 = 5_000;

/// A rollout stopped by the cap is scored `tanh(evaluation / CAPPED_ROLLOUT_SCALE)`
/// with the greedy evaluation (in life points).
const CAPPED_ROLLOUT_SCALE: f32 = 10.0;

/// How a simulation plays from the new leaf to the end of the game.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Rollout {
    /// Uniformly random legal actions (fast).
    #[default]
    Random,
    /// [`greedy::greedy_action`] for both players (stronger, about an order of magnitude slower).
    Greedy,
}

/// Statistics of one root action after a search.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ActionStats {
    /// The action.
    pub action: u8,
    /// Simulations that went through it.
    pub visits: u32,
    /// Mean reward of those simulations for the player to move at the root, in [-1, 1].
    pub mean_value: f32,
}

/// One tree node: the statistics of the action that leads to it.
#[derive(Clone, Copy, Debug)]
struct Node {
    /// Simulations through this node.
    visits: u32,
    /// Sum of their rewards for `by`.
    value: f32,
    /// Index of the first child in the arena; children are contiguous.
    first_child: u32,
    /// Number of children (legal actions here); valid once `expanded`.
    n_children: u16,
    /// Children visited at least once; they are the first `n_tried` (children
    /// are shuffled at expansion, so untried actions are taken in random order).
    n_tried: u16,
    /// The action leading here from the parent.
    action: u8,
    /// The seat that chose `action` (the mover at the parent).
    by: u8,
    /// True once the children have been allocated.
    expanded: bool,
}

impl Node {
    const fn new(action: u8, by: u8) -> Node {
        Node { visits: 0, value: 0.0, first_child: 0, n_children: 0, n_tried: 0, action, by, expanded: false }
    }
}

/// UCT search bot with its own seeded generator.
pub struct MctsBot {
    simulations: u32,
    exploration: f32,
    rollout: Rollout,
    rollout_cap: u32,
    /// Reshuffle the undrawn cards of both decks at the start of every simulation.
    determinize: bool,
    rng: Rng,
    /// The arena; node 0 is the root. Cleared (not freed) at each decision.
    nodes: Vec<Node>,
    /// Node indices of the current simulation's path, root first.
    path: Vec<u32>,
    /// Root statistics of the last decision.
    last: Vec<ActionStats>,
}

impl MctsBot {
    /// A bot running `simulations` simulations per decision (at least 1), with
    /// random rollouts and [`DEFAULT_EXPLORATION`].
    pub fn new(simulations: u32, seed: u64) -> MctsBot {
        MctsBot {
            simulations: simulations.max(1),
            exploration: DEFAULT_EXPLORATION,
            rollout: Rollout::Random,
            rollout_cap: DEFAULT_ROLLOUT_CAP,
            determinize: false,
            rng: Rng::new(seed),
            nodes: Vec::new(),
            path: Vec::new(),
            last: Vec::new(),
        }
    }

    /// The same bot with another rollout policy.
    pub fn with_rollout(mut self, rollout: Rollout) -> MctsBot {
        self.rollout = rollout;
        self
    }

    /// The same bot with another exploration constant (see [`DEFAULT_EXPLORATION`]).
    pub fn with_exploration(mut self, c: f32) -> MctsBot {
        self.exploration = c;
        self
    }

    /// The same bot with another rollout cap, in actions (see [`DEFAULT_ROLLOUT_CAP`]).
    pub fn with_rollout_cap(mut self, actions: u32) -> MctsBot {
        self.rollout_cap = actions;
        self
    }

    /// The same bot searching without knowledge of the deck order (see the
    /// module documentation): each simulation reshuffles the undrawn cards.
    pub fn with_determinized(mut self, on: bool) -> MctsBot {
        self.determinize = on;
        self
    }

    /// Whether the bot reshuffles the undrawn cards in every simulation.
    pub fn determinized(&self) -> bool {
        self.determinize
    }

    /// Simulations per decision.
    pub fn simulations(&self) -> u32 {
        self.simulations
    }

    /// Searches the position and returns the action to play (the game must not
    /// be over). Afterwards [`visit_counts`](Self::visit_counts) and
    /// [`root_stats`](Self::root_stats) describe the search.
    pub fn search(&mut self, game: &Game) -> u8 {
        assert!(!game.is_over(), "search on a finished game");
        self.nodes.clear();
        self.last.clear();
        let me = game.current_player();
        let mask = game.legal_mask();

        // Forced moves and immediate wins are played without searching; the
        // whole budget is credited to them so visit counts always sum to it.
        // (An action's immediate result never depends on the deck order: a
        // drawn card does nothing until it is played, and drawing from an
        // empty deck does nothing, so this check leaks nothing when
        // determinized.)
        if mask.count() == 1 {
            return self.forced(mask.nth(0), 0.0);
        }
        for action in mask.iter() {
            let mut next = *game;
            next.apply_unchecked(action);
            if next.winner() == Some(me) {
                return self.forced(action, 1.0);
            }
        }

        // The root's `by` is never read (the root is not anyone's choice).
        self.nodes.push(Node::new(0, me as u8));
        for _ in 0..self.simulations {
            self.simulate(game);
        }

        let root = self.nodes[0];
        let children = root.first_child as usize..root.first_child as usize + root.n_children as usize;
        let mut best: Option<Node> = None;
        for child in &self.nodes[children] {
            let mean = mean(child);
            self.last.push(ActionStats { action: child.action, visits: child.visits, mean_value: mean });
            let better = match best {
                None => true,
                Some(b) => child.visits > b.visits || (child.visits == b.visits && mean > self::mean(&b)),
            };
            if better {
                best = Some(*child);
            }
        }
        self.last.sort_by_key(|s| s.action);
        best.expect("a running game has a legal action").action
    }

    fn forced(&mut self, action: u8, value: f32) -> u8 {
        self.last.push(ActionStats { action, visits: self.simulations, mean_value: value });
        action
    }

    /// Visits per action at the root of the last search, indexed by action
    /// (0 for actions that were illegal or never tried). They sum to the
    /// simulation budget; a forced move or an immediate win gets all of it.
    pub fn visit_counts(&self) -> [u32; NUM_ACTIONS] {
        let mut out = [0; NUM_ACTIONS];
        for s in &self.last {
            out[s.action as usize] = s.visits;
        }
        out
    }

    /// Statistics of every root action of the last search, by action index.
    pub fn root_stats(&self) -> &[ActionStats] {
        &self.last
    }

    /// Nodes allocated by the last search (root included).
    pub fn tree_size(&self) -> usize {
        self.nodes.len()
    }

    /// One simulation: select and expand, roll out, back up.
    fn simulate(&mut self, root: &Game) {
        let mut game = *root;
        if self.determinize {
            reshuffle_undrawn(&mut game, &mut self.rng);
        }
        self.path.clear();
        self.path.push(0);
        let mut node = 0usize;
        while !game.is_over() {
            if !self.nodes[node].expanded {
                self.expand(node, &game);
            }
            let legal = if self.determinize { Some(game.legal_mask()) } else { None };
            // None: no child of this node is legal in this simulation's deal
            // (determinized only); it rolls out from here.
            let Some((child, is_new)) = self.step(node, legal.as_ref()) else { break };
            game.apply_unchecked(self.nodes[child].action);
            self.path.push(child as u32);
            node = child;
            if is_new {
                break;
            }
        }
        let rewards = if game.is_over() { [game.reward(0), game.reward(1)] } else { self.play_out(&mut game) };
        for &i in &self.path {
            let n = &mut self.nodes[i as usize];
            n.visits += 1;
            n.value += rewards[n.by as usize];
        }
    }

    /// The child a simulation takes at an expanded node, and whether it is
    /// new: the next untried child, else the UCT choice among the tried ones.
    ///
    /// With `legal` (determinized simulations), only children whose action it
    /// allows: below a draw the hands, and so the legal actions, depend on the
    /// deal, while the node's children were made from the deal of the
    /// simulation that expanded it. The first untried allowed child is swapped
    /// into the tried prefix. None when no child is allowed.
    fn step(&mut self, node: usize, legal: Option<&ActionMask>) -> Option<(usize, bool)> {
        let allowed = |c: &Node| legal.map_or(true, |m| m.has(c.action));
        let n = self.nodes[node];
        let first = n.first_child as usize;
        let tried = first + n.n_tried as usize;
        let end = first + n.n_children as usize;
        if let Some(j) = (tried..end).find(|&j| allowed(&self.nodes[j])) {
            self.nodes.swap(tried, j);
            self.nodes[node].n_tried += 1;
            return Some((tried, true));
        }
        if self.nodes[first..tried].iter().any(allowed) {
            return Some((self.select(node, legal), false));
        }
        None
    }

    /// Allocates a child per legal action, in random order.
    fn expand(&mut self, node: usize, game: &Game) {
        let mask = game.legal_mask();
        let mover = game.current_player() as u8;
        let first = self.nodes.len();
        self.nodes.extend(mask.iter().map(|a| Node::new(a, mover)));
        self.rng.shuffle(&mut self.nodes[first..]);
        let n = &mut self.nodes[node];
        n.first_child = first as u32;
        n.n_children = mask.count() as u16;
        n.expanded = true;
    }

    /// The UCT child among the tried children of a node (all of them, or
    /// those whose action `legal` allows; at least one must be allowed).
    fn select(&self, node: usize, legal: Option<&ActionMask>) -> usize {
        let n = &self.nodes[node];
        let first = n.first_child as usize;
        let scale = self.exploration * (n.visits.max(1) as f32).ln().sqrt();
        let mut best = first;
        let mut best_score = f32::NEG_INFINITY;
        for (i, c) in self.nodes[first..first + n.n_tried as usize].iter().enumerate() {
            if legal.is_some_and(|m| !m.has(c.action)) {
                continue;
            }
            let visits = c.visits as f32;
            let score = c.value / visits + scale / visits.sqrt();
            if score > best_score {
                best_score = score;
                best = first + i;
            }
        }
        best
    }

    /// Plays the game out with the rollout policy; the rewards of both seats.
    fn play_out(&mut self, game: &mut Game) -> [f32; 2] {
        play_out(game, self.rollout, self.rollout_cap, &mut self.rng)
    }
}

/// Deals both players' undrawn cards afresh from `rng`: a sample of the
/// decks the observation cannot tell apart (it hides their order). Sorted
/// first, so the sample depends only on which cards are left, never on
/// their true order. The determinized bot's and playouts' deal.
pub fn reshuffle_undrawn(game: &mut Game, rng: &mut Rng) {
    for p in &mut game.players {
        let undrawn = &mut p.deck[..p.deck_len as usize];
        undrawn.sort_unstable();
        rng.shuffle(undrawn);
    }
}

/// Plays `game` to the end with `rollout` for both players, drawing from
/// `rng`, and returns both seats' rewards. After `cap` actions it stops and
/// scores the position instead (`tanh` of the greedy evaluation / 10). Also
/// the neural search's playouts (`SearchConfig::rollout_weight`).
pub fn play_out(game: &mut Game, rollout: Rollout, cap: u32, rng: &mut Rng) -> [f32; 2] {
    let mut steps = 0;
    while !game.is_over() {
        if steps >= cap {
            let v = (greedy::evaluate(game, 0) / CAPPED_ROLLOUT_SCALE).tanh();
            return [v, -v];
        }
        let action = match rollout {
            Rollout::Random => random_action(game, rng),
            Rollout::Greedy => greedy::greedy_action(game, rng),
        };
        game.apply_unchecked(action);
        steps += 1;
    }
    [game.reward(0), game.reward(1)]
}

#[inline]
fn mean(n: &Node) -> f32 {
    if n.visits == 0 {
        0.0
    } else {
        n.value / n.visits as f32
    }
}

impl Bot for MctsBot {
    fn choose(&mut self, game: &Game) -> u8 {
        self.search(game)
    }

    fn name(&self) -> String {
        BotSpec::Mcts { simulations: self.simulations, rollout: self.rollout, determinized: self.determinize }
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::actions::{ATTACK_BASE, END_TURN};
    use crate::state::Mode;

    #[test]
    fn takes_an_immediate_win() {
        for seed in 0..10 {
            let mut g = bare_game(seed);
            let me = g.current_player();
            g.players[1 - me].life = 2;
            place(&mut g, me, 0, 1, 3);
            place(&mut g, me, 3, 2, 3);
            let mut bot = MctsBot::new(50, seed);
            let a = bot.choose(&g);
            let mut next = g;
            next.apply(a as u16).unwrap();
            assert_eq!(next.winner(), Some(me), "seed {seed}: chose {a}");
            assert_eq!(bot.visit_counts()[a as usize], 50);
        }
    }

    #[test]
    fn visit_counts_sum_to_the_budget() {
        let decks = all_decks();
        let mut g = Game::new(11, decks[0], decks[1], Mode::Attrition);
        let mut driver = super::super::RandomBot::new(3);
        let mut searched = 0;
        while !g.is_over() && searched < 12 {
            let mut bot = MctsBot::new(137, g.actions as u64);
            let a = bot.choose(&g);
            let counts = bot.visit_counts();
            assert_eq!(counts.iter().map(|&c| c as u64).sum::<u64>(), 137);
            assert!(counts[a as usize] > 0);
            let mask = g.legal_mask();
            for (i, &c) in counts.iter().enumerate() {
                assert!(c == 0 || mask.has(i as u8), "visits on illegal action {i}");
            }
            if bot.root_stats().len() > 1 {
                searched += 1;
                assert_eq!(bot.root_stats().len() as u32, mask.count());
                assert!(bot.tree_size() > 1);
            }
            g.apply_unchecked(driver.choose(&g));
        }
        assert!(searched > 0);
    }

    /// Two attacks of 2 each against 4 life: the first does not win, the
    /// second (by the same player) does. Correct perspective makes the first
    /// attack a near-certain win; a search that assumed alternating players
    /// would score the follow-up from the wrong seat.
    #[test]
    fn finds_a_two_action_win_within_one_turn() {
        for seed in 0..6 {
            let mut g = bare_game(seed);
            let me = g.current_player();
            let foe = 1 - me;
            g.players[foe].life = 4;
            place(&mut g, me, 0, 2, 2);
            place(&mut g, me, 4, 2, 2);
            // An enemy creature out of reach of the attacks, which kills the
            // mover next turn unless the game ends now: passing loses.
            g.players[me].life = 1;
            place(&mut g, foe, 2, 9, 9);
            let mut bot = MctsBot::new(300, seed);
            let first = bot.choose(&g);
            assert!(
                first == ATTACK_BASE
                    || first == ATTACK_BASE + 1
                    || first == ATTACK_BASE + 5 * 4 + 3
                    || first == ATTACK_BASE + 5 * 4 + 4,
                "seed {seed}: first action {first} is not a face attack"
            );
            let stats = bot.root_stats().iter().find(|s| s.action == first).copied().unwrap();
            assert!(stats.mean_value > 0.8, "seed {seed}: first attack valued {}", stats.mean_value);
            let end = bot.root_stats().iter().find(|s| s.action == END_TURN).unwrap();
            assert!(end.mean_value < stats.mean_value);
            g.apply(first as u16).unwrap();
            assert!(!g.is_over() && g.current_player() == me);
            let second = bot.choose(&g);
            g.apply(second as u16).unwrap();
            assert_eq!(g.winner(), Some(me), "seed {seed}");
        }
    }

    #[test]
    fn same_seed_same_choice() {
        let decks = all_decks();
        for rollout in [Rollout::Random, Rollout::Greedy] {
            let mut g = Game::new(21, decks[1], decks[0], Mode::Attrition);
            let mut a = MctsBot::new(40, 9).with_rollout(rollout);
            let mut b = MctsBot::new(40, 9).with_rollout(rollout);
            let mut driver = super::super::RandomBot::new(4);
            for _ in 0..25 {
                if g.is_over() {
                    break;
                }
                let x = a.choose(&g);
                assert_eq!(x, b.choose(&g));
                assert_eq!(a.visit_counts(), b.visit_counts());
                g.apply_unchecked(driver.choose(&g));
            }
        }
    }

    /// Two games that differ only in the order of the undrawn cards: the
    /// determinized bot cannot tell them apart (same seed, same visits),
    /// while the plain bot, which plans with the true order, can.
    #[test]
    fn a_determinized_search_does_not_see_the_deck_order() {
        let decks = all_decks();
        let mut plain_differs = false;
        for seed in 0..8u64 {
            let mut g = Game::new(seed, decks[0], decks[(seed as usize + 1) % decks.len()], Mode::Attrition);
            let mut driver = super::super::RandomBot::new(seed);
            while g.turn < 4 || g.legal_mask().count() < 3 {
                g.apply_unchecked(driver.choose(&g));
            }
            let mut other = g;
            let mut rng = Rng::new(seed + 100);
            for p in &mut other.players {
                let n = p.deck_len as usize;
                rng.shuffle(&mut p.deck[..n]);
            }
            assert_ne!(g.players[0].deck, other.players[0].deck, "seed {seed}: the reshuffle changed nothing");
            let visits = |game: &Game, det: bool| {
                let mut bot = MctsBot::new(300, seed).with_determinized(det);
                bot.choose(game);
                bot.visit_counts()
            };
            assert_eq!(visits(&g, true), visits(&other, true), "seed {seed}: determinized search saw the order");
            plain_differs |= visits(&g, false) != visits(&other, false);
        }
        assert!(plain_differs, "the plain search never depended on the deck order");
    }

    #[test]
    fn the_arena_allocation_is_reused() {
        let decks = all_decks();
        let g = Game::new(2, decks[0], decks[1], Mode::Attrition);
        let mut bot = MctsBot::new(200, 1);
        bot.choose(&g);
        let capacity = bot.nodes.capacity();
        let ptr = bot.nodes.as_ptr();
        bot.choose(&g);
        assert!(bot.nodes.capacity() >= capacity);
        if bot.nodes.capacity() == capacity {
            assert_eq!(ptr, bot.nodes.as_ptr());
        }
    }

    #[test]
    fn a_rollout_cap_still_gives_a_legal_choice() {
        let decks = all_decks();
        let g = Game::new(8, decks[0], decks[1], Mode::EssenceDuel);
        let mut bot = MctsBot::new(30, 1).with_rollout_cap(3);
        let a = bot.choose(&g);
        assert!(g.legal_mask().has(a));
    }
}
