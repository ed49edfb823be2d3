//! Neural MCTS (AlphaZero's PUCT) over many trees at once, driven by a
//! batched leaf protocol so that one network call evaluates a leaf of every
//! tree.
//!
//! # The protocol
//!
//! A [`Search`] holds `B` trees, one per game in flight. Each tree has a root
//! game. One *round* is two calls:
//!
//! 1. [`Search::select`] walks every tree that still has simulations to run
//!    down to a leaf (PUCT at each node) and writes the leaf's observation and
//!    legal-action mask into row `tree * K + k` of the caller's buffers (`K` =
//!    [`SearchConfig::leaves_per_tree`]), with a flag saying the row holds a
//!    leaf. Terminal positions reached on the way are backed up with the true
//!    result at once; they never need the network.
//! 2. [`Search::expand`] takes the network's priors and values for those rows,
//!    creates the leaves' children and backs the values up.
//!
//! Repeat until `select` reports no leaf: every tree has run its
//! [`SearchConfig::simulations`] for this move. Then read the root visit
//! counts ([`Search::root_visits`]), pick moves ([`Search::choose`]) and play
//! them ([`Search::apply`]), which keeps the chosen subtree for the next move.
//!
//! # Perspective
//!
//! A turn is several actions by the same player, so players do not alternate
//! every ply. Each node stores the seat to move there (`player`) and the sum of
//! the values of the simulations through it *for that seat*. The network's
//! value at a leaf is for the player to move at the leaf; backing up, the
//! sign flips only where the seat to move changes from a node to its parent.
//! A terminal node has no one to move: it takes the seat that moved into it,
//! and its value is that seat's true result (+1 win, -1 loss, 0 draw).
//!
//! # Several leaves per tree (virtual loss)
//!
//! With `leaves_per_tree` K > 1, a tree descends up to K times per round. Each
//! pending leaf puts a virtual loss on its path (each node on it counts one
//! more visit, worth `-virtual_loss` to the player choosing it), which steers
//! the next descent elsewhere; the loss is removed when the leaf is expanded.
//! A descent that reaches a leaf already pending ends the tree's round early.
//!
//! Nodes hold statistics only, no game states: a descent replays the actions
//! from the root game on a copy (a `Game` clone is a memcpy). Each tree's
//! nodes live in one arena `Vec` whose allocation is reused from move to move.

use crate::actions::NUM_ACTIONS;
use crate::bots::mcts::{play_out, reshuffle_undrawn, Rollout, DEFAULT_ROLLOUT_CAP};
use crate::encoding::OBS_SIZE;
use crate::rng::Rng;
use crate::state::Game;
use std::fmt;

/// How [`Search::expand`] reads the priors rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PriorKind {
    /// Raw network outputs: the search takes a softmax over the legal actions.
    /// Entries of illegal actions are ignored (they may be anything, -inf or NaN included).
    Logits,
    /// Probabilities (non-negative), renormalised over the legal actions; a row
    /// with no mass on any legal action becomes uniform.
    Probabilities,
}

/// Search parameters. [`SearchConfig::default`] is the self-play setting.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchConfig {
    /// New simulations per move (the expansions and terminal visits of one decision).
    pub simulations: u32,
    /// PUCT exploration constant: `U = c_puct * P * sqrt(N_parent) / (1 + N)`.
    pub c_puct: f32,
    /// Dirichlet concentration of the root noise.
    pub dirichlet_alpha: f32,
    /// Weight of the root noise in the root priors (0 disables it: evaluation).
    pub dirichlet_fraction: f32,
    /// An unvisited child is valued at its parent's mean value minus this (first-play urgency).
    pub fpu_reduction: f32,
    /// Leaves each tree may contribute to one round (1 = no virtual loss).
    pub leaves_per_tree: u32,
    /// Value a pending leaf's path loses per pending descent (with `leaves_per_tree` > 1).
    pub virtual_loss: f32,
    /// How the priors rows are read.
    pub priors: PriorKind,
    /// Keep the chosen subtree after a move (its statistics seed the next search).
    pub reuse_tree: bool,
    /// Weight `w` of a rollout in each leaf's value: the value backed up is
    /// `(1 - w) * network value + w * rollout result`, the rollout played
    /// from the leaf to the end with `rollout_policy` for both players,
    /// drawing from the tree's generator (AlphaGo's mixed evaluation). 0 (the
    /// default) is AlphaZero: the network's value alone, and no rollout.
    pub rollout_weight: f32,
    /// The rollouts' policy (with `rollout_weight` > 0): uniformly random legal
    /// actions (the default, the `mcts-N` bot's playout) or the greedy bot's
    /// (the `mcts-N-greedy` playout, about six times dearer).
    pub rollout_policy: Rollout,
    /// Deal the undrawn cards of both decks afresh before each rollout, so
    /// the rollouts do not see the deck order the observation hides (the
    /// `-det` bots' deal). Off by default: a rollout then draws the cards
    /// the players really will draw, as `mcts-N`'s do. The tree itself
    /// always plays the real game.
    pub rollout_determinized: bool,
}

impl Default for SearchConfig {
    fn default() -> SearchConfig {
        SearchConfig {
            simulations: 64,
            c_puct: 1.25,
            dirichlet_alpha: 0.3,
            dirichlet_fraction: 0.25,
            fpu_reduction: 0.25,
            leaves_per_tree: 1,
            virtual_loss: 1.0,
            priors: PriorKind::Logits,
            reuse_tree: true,
            rollout_weight: 0.0,
            rollout_policy: Rollout::Random,
            rollout_determinized: false,
        }
    }
}

impl SearchConfig {
    /// Checks the ranges; the message names the bad field.
    pub fn validate(&self) -> Result<(), SearchError> {
        let bad = |m: String| Err(SearchError::BadArgument(m));
        if self.simulations == 0 || self.simulations > 1_000_000 {
            return bad(format!("simulations must be in 1..=1000000, got {}", self.simulations));
        }
        if !(self.c_puct.is_finite() && self.c_puct >= 0.0) {
            return bad(format!("c_puct must be finite and >= 0, got {}", self.c_puct));
        }
        if !(self.dirichlet_fraction.is_finite() && (0.0..=1.0).contains(&self.dirichlet_fraction)) {
            return bad(format!("dirichlet_fraction must be in [0, 1], got {}", self.dirichlet_fraction));
        }
        if self.dirichlet_fraction > 0.0 && !(self.dirichlet_alpha.is_finite() && self.dirichlet_alpha > 0.0) {
            return bad(format!("dirichlet_alpha must be finite and > 0, got {}", self.dirichlet_alpha));
        }
        if !self.fpu_reduction.is_finite() {
            return bad(format!("fpu_reduction must be finite, got {}", self.fpu_reduction));
        }
        if self.leaves_per_tree == 0 || self.leaves_per_tree > 256 {
            return bad(format!("leaves_per_tree must be in 1..=256, got {}", self.leaves_per_tree));
        }
        if !(self.virtual_loss.is_finite() && self.virtual_loss >= 0.0) {
            return bad(format!("virtual_loss must be finite and >= 0, got {}", self.virtual_loss));
        }
        if !(self.rollout_weight.is_finite() && (0.0..=1.0).contains(&self.rollout_weight)) {
            return bad(format!("rollout_weight must be in [0, 1], got {}", self.rollout_weight));
        }
        Ok(())
    }
}

/// Why a search call was refused. Nothing was changed.
#[derive(Clone, Debug, PartialEq)]
pub enum SearchError {
    /// A malformed argument (sizes, NaN, ranges, calls out of order...).
    BadArgument(String),
    /// An action that is not legal at a tree's root.
    Illegal { tree: usize, action: i64 },
    /// A tree's root game is over (or the tree has no game) where one was needed.
    GameOver { tree: usize },
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchError::BadArgument(m) => f.write_str(m),
            SearchError::Illegal { tree, action } => write!(f, "tree {tree}: action {action} is not legal at the root"),
            SearchError::GameOver { tree } => write!(f, "tree {tree}: the root game is over or absent"),
        }
    }
}

impl std::error::Error for SearchError {}

fn bad<T>(msg: impl Into<String>) -> Result<T, SearchError> {
    Err(SearchError::BadArgument(msg.into()))
}

// ---------------------------------------------------------------------------
// Random variates (no dependencies: built on the crate's SplitMix64).

/// A standard normal variate (Box-Muller).
fn normal(rng: &mut Rng) -> f64 {
    let u1 = 1.0 - rng.unit_f64(); // (0, 1]
    let u2 = rng.unit_f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A Gamma(`alpha`, 1) variate: Marsaglia and Tsang's squeeze method, with
/// the boost `Gamma(a) = Gamma(a + 1) * U^(1/a)` for `alpha` < 1.
pub fn gamma(rng: &mut Rng, alpha: f64) -> f64 {
    debug_assert!(alpha > 0.0);
    if alpha < 1.0 {
        let u = rng.unit_f64();
        return gamma(rng, alpha + 1.0) * u.powf(1.0 / alpha);
    }
    let d = alpha - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let x = normal(rng);
        let v = 1.0 + c * x;
        if v <= 0.0 {
            continue;
        }
        let v = v * v * v;
        let u = rng.unit_f64();
        if u < 1.0 - 0.0331 * x * x * x * x || u.ln() < 0.5 * x * x + d * (1.0 - v + v.ln()) {
            return d * v;
        }
    }
}

/// Fills `out` with a symmetric Dirichlet(`alpha`) sample (normalised Gammas).
pub fn dirichlet(rng: &mut Rng, alpha: f64, out: &mut [f32]) {
    let mut total = 0.0;
    let mut draws = [0.0f64; NUM_ACTIONS];
    for d in draws[..out.len()].iter_mut() {
        *d = gamma(rng, alpha);
        total += *d;
    }
    if total.is_nan() || total <= 0.0 || out.is_empty() {
        // Every draw underflowed (tiny alpha): the limit is a random vertex.
        out.fill(0.0);
        if !out.is_empty() {
            out[rng.below(out.len() as u32) as usize] = 1.0;
        }
        return;
    }
    for (o, d) in out.iter_mut().zip(&draws) {
        *o = (*d / total) as f32;
    }
}

// ---------------------------------------------------------------------------
// Trees.

const NO_PARENT: u32 = u32::MAX;
const NO_PLAYER: u8 = u8::MAX;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NodeState {
    /// Never reached: its `player` is unknown.
    Unvisited,
    /// A leaf waiting for the network (this round).
    Pending,
    /// Children allocated.
    Expanded,
    /// The game is over here.
    Terminal,
}

/// One node: a position reached by `action` from its parent.
#[derive(Clone, Copy, Debug)]
struct Node {
    parent: u32,
    first_child: u32,
    /// Completed simulations through this node.
    visits: u32,
    /// Sum of their values for `player`.
    value_sum: f32,
    /// The prior of `action` at the parent.
    prior: f32,
    /// For a terminal node: the true result for `player`.
    terminal_value: f32,
    n_children: u16,
    /// Pending descents through this node (virtual loss).
    vloss: u16,
    action: u8,
    /// The seat to move here (terminal: the seat that moved into it).
    player: u8,
    state: NodeState,
}

impl Node {
    const fn new(parent: u32, action: u8, prior: f32) -> Node {
        Node {
            parent,
            first_child: 0,
            visits: 0,
            value_sum: 0.0,
            prior,
            terminal_value: 0.0,
            n_children: 0,
            vloss: 0,
            action,
            player: NO_PLAYER,
            state: NodeState::Unvisited,
        }
    }

    fn mean(&self) -> f32 {
        if self.visits == 0 {
            0.0
        } else {
            self.value_sum / self.visits as f32
        }
    }
}

/// A leaf waiting for the network.
#[derive(Clone, Copy)]
struct Leaf {
    node: u32,
    game: Game,
}

enum Descent {
    /// A new leaf, now pending.
    Leaf,
    /// A terminal node was reached and backed up.
    Terminal,
    /// The descent reached a leaf already pending.
    Collision,
}

/// One search tree over one root game.
#[derive(Clone)]
pub struct Tree {
    root_game: Option<Game>,
    nodes: Vec<Node>,
    /// Scratch arena for re-rooting.
    spare: Vec<Node>,
    pending: Vec<Leaf>,
    /// Simulations completed since the root was set.
    sims: u32,
    rng: Rng,
}

impl Tree {
    /// An empty tree (no game) with its own generator.
    pub fn new(seed: u64) -> Tree {
        Tree {
            root_game: None,
            nodes: Vec::new(),
            spare: Vec::new(),
            pending: Vec::new(),
            sims: 0,
            rng: Rng::new(seed),
        }
    }

    /// The root game, if any.
    pub fn root(&self) -> Option<&Game> {
        self.root_game.as_ref()
    }

    /// Simulations completed for the current move.
    pub fn simulations_done(&self) -> u32 {
        self.sims
    }

    /// Nodes in the tree (root included; 0 without a game).
    pub fn size(&self) -> usize {
        self.nodes.len()
    }

    /// Sets (or clears, with `None`) the root game and drops the old tree.
    pub fn set_root(&mut self, game: Option<Game>) {
        self.root_game = game;
        self.reset_nodes();
    }

    fn reset_nodes(&mut self) {
        self.nodes.clear();
        self.pending.clear();
        self.sims = 0;
        if let Some(g) = &self.root_game {
            let mut root = Node::new(NO_PARENT, 0, 1.0);
            root.player = g.current_player() as u8;
            self.nodes.push(root);
        }
    }

    /// True when the root game is running and has a real choice (more than
    /// one legal action): a forced move needs no search.
    fn searchable(&self) -> bool {
        matches!(&self.root_game, Some(g) if !g.is_over() && g.legal_mask().count() > 1)
    }

    fn wants_more(&self, cfg: &SearchConfig) -> bool {
        self.searchable() && self.sims + (self.pending.len() as u32) < cfg.simulations
    }

    /// The PUCT child of an expanded node.
    fn select_child(&self, parent: usize, cfg: &SearchConfig) -> usize {
        let p = &self.nodes[parent];
        let first = p.first_child as usize;
        let n_parent = (p.visits + p.vloss as u32).max(1) as f32;
        let scale = cfg.c_puct * n_parent.sqrt();
        let fpu = p.mean() - cfg.fpu_reduction;
        let mut best = first;
        let mut best_score = f32::NEG_INFINITY;
        for (i, c) in self.nodes[first..first + p.n_children as usize].iter().enumerate() {
            let n = c.visits + c.vloss as u32;
            let q = if n == 0 {
                fpu
            } else {
                let sign = if c.player == p.player { 1.0 } else { -1.0 };
                (sign * c.value_sum - cfg.virtual_loss * c.vloss as f32) / n as f32
            };
            let score = q + scale * c.prior / (1 + n) as f32;
            if score > best_score {
                best_score = score;
                best = first + i;
            }
        }
        best
    }

    /// One descent from the root.
    fn descend(&mut self, cfg: &SearchConfig) -> Descent {
        let mut game = self.root_game.expect("descend without a root game");
        let mut node = 0usize;
        loop {
            match self.nodes[node].state {
                NodeState::Unvisited => {
                    self.pending.push(Leaf { node: node as u32, game });
                    self.nodes[node].state = NodeState::Pending;
                    self.add_vloss(node, 1);
                    return Descent::Leaf;
                }
                NodeState::Pending => return Descent::Collision,
                NodeState::Terminal => {
                    let v = self.nodes[node].terminal_value;
                    self.backup(node, v);
                    self.sims += 1;
                    return Descent::Terminal;
                }
                NodeState::Expanded => {
                    let mover = self.nodes[node].player;
                    let child = self.select_child(node, cfg);
                    game.apply_unchecked(self.nodes[child].action);
                    let c = &mut self.nodes[child];
                    if c.state == NodeState::Unvisited && game.is_over() {
                        c.state = NodeState::Terminal;
                        c.player = mover;
                        c.terminal_value = game.reward(mover as usize);
                    } else if c.player == NO_PLAYER {
                        c.player = game.current_player() as u8;
                    }
                    node = child;
                }
            }
        }
    }

    /// Adds (`+1`) or removes (`-1`) one virtual loss on the path root..=node.
    fn add_vloss(&mut self, mut node: usize, delta: i32) {
        loop {
            let n = &mut self.nodes[node];
            n.vloss = (n.vloss as i32 + delta) as u16;
            if n.parent == NO_PARENT {
                return;
            }
            node = n.parent as usize;
        }
    }

    /// Backs `value` (for the player at `node`) up to the root.
    fn backup(&mut self, mut node: usize, mut value: f32) {
        let mut player = self.nodes[node].player;
        loop {
            let n = &mut self.nodes[node];
            if n.player != player {
                value = -value;
                player = n.player;
            }
            n.visits += 1;
            n.value_sum += value;
            if n.parent == NO_PARENT {
                return;
            }
            node = n.parent as usize;
        }
    }

    /// Up to `leaves_per_tree` descents; returns the number of pending leaves.
    fn select_round(&mut self, cfg: &SearchConfig) -> usize {
        debug_assert!(self.pending.is_empty());
        let want = cfg.leaves_per_tree as usize;
        while self.pending.len() < want && self.wants_more(cfg) {
            if let Descent::Collision = self.descend(cfg) {
                break;
            }
        }
        self.pending.len()
    }

    /// The legal-action priors of a leaf from a network row, normalised.
    fn leaf_priors(game: &Game, row: &[f32], kind: PriorKind, out: &mut Vec<(u8, f32)>) {
        out.clear();
        let mask = game.legal_mask();
        match kind {
            PriorKind::Logits => {
                let max = mask.iter().map(|a| row[a as usize]).fold(f32::NEG_INFINITY, f32::max);
                let mut total = 0.0;
                for a in mask.iter() {
                    let e = (row[a as usize] - max).exp();
                    total += e;
                    out.push((a, e));
                }
                for (_, p) in out.iter_mut() {
                    *p /= total;
                }
            }
            PriorKind::Probabilities => {
                let total: f32 = mask.iter().map(|a| row[a as usize]).sum();
                let n = mask.count() as f32;
                for a in mask.iter() {
                    out.push((a, if total > 0.0 { row[a as usize] / total } else { 1.0 / n }));
                }
            }
        }
    }

    fn add_root_noise(&mut self, cfg: &SearchConfig) {
        if cfg.dirichlet_fraction <= 0.0 || self.nodes.is_empty() || self.nodes[0].state != NodeState::Expanded {
            return;
        }
        let (first, n) = (self.nodes[0].first_child as usize, self.nodes[0].n_children as usize);
        let mut noise = [0.0f32; NUM_ACTIONS];
        dirichlet(&mut self.rng, cfg.dirichlet_alpha as f64, &mut noise[..n]);
        let f = cfg.dirichlet_fraction;
        for (c, eta) in self.nodes[first..first + n].iter_mut().zip(&noise) {
            c.prior = (1.0 - f) * c.prior + f * eta;
        }
    }

    /// Expands pending leaf `k` with a priors row and a value, and backs up.
    fn expand_leaf(&mut self, k: usize, row: &[f32], value: f32, cfg: &SearchConfig, scratch: &mut Vec<(u8, f32)>) {
        let leaf = self.pending[k];
        let node = leaf.node as usize;
        Self::leaf_priors(&leaf.game, row, cfg.priors, scratch);
        let first = self.nodes.len() as u32;
        self.nodes.extend(scratch.iter().map(|&(a, p)| Node::new(leaf.node, a, p)));
        let n = &mut self.nodes[node];
        n.first_child = first;
        n.n_children = scratch.len() as u16;
        n.state = NodeState::Expanded;
        if node == 0 {
            self.add_root_noise(cfg);
        }
        self.add_vloss(node, -1);
        let mut value = value.clamp(-1.0, 1.0);
        if cfg.rollout_weight > 0.0 {
            let w = cfg.rollout_weight;
            value = (1.0 - w) * value + w * self.rollout(&leaf.game, cfg);
        }
        self.backup(node, value);
        self.sims += 1;
    }

    /// The result, for the player to move in `game`, of playing it out with
    /// `cfg.rollout_policy` for both players (the MCTS bot's playout), on a
    /// fresh deal of the undrawn cards with `cfg.rollout_determinized`.
    fn rollout(&mut self, game: &Game, cfg: &SearchConfig) -> f32 {
        let mut g = *game;
        if cfg.rollout_determinized {
            reshuffle_undrawn(&mut g, &mut self.rng);
        }
        play_out(&mut g, cfg.rollout_policy, DEFAULT_ROLLOUT_CAP, &mut self.rng)[game.current_player()]
    }

    /// Visits per root action (`out` has 256 entries). A forced move gets the
    /// whole budget on its one action.
    fn root_visits(&self, cfg: &SearchConfig, out: &mut [f32]) {
        out.fill(0.0);
        let Some(g) = &self.root_game else { return };
        if g.is_over() {
            return;
        }
        let mask = g.legal_mask();
        if mask.count() == 1 {
            out[mask.nth(0) as usize] = cfg.simulations as f32;
            return;
        }
        let root = &self.nodes[0];
        if root.state != NodeState::Expanded {
            return;
        }
        let first = root.first_child as usize;
        for c in &self.nodes[first..first + root.n_children as usize] {
            out[c.action as usize] = c.visits as f32;
        }
    }

    /// Picks a root action: the most visited (ties: higher prior, then lower
    /// index) at temperature 0, else sampled with probability ∝ visits^(1/T).
    fn choose(&mut self, temperature: f32) -> Option<u8> {
        let g = self.root_game.as_ref()?;
        if g.is_over() {
            return None;
        }
        let mask = g.legal_mask();
        if mask.count() == 1 || self.nodes[0].state != NodeState::Expanded {
            // No search ran (forced move, or zero rounds): take the first legal
            // action the priors would not tell apart.
            return Some(if mask.count() == 1 { mask.nth(0) } else { mask.nth(self.rng.below(mask.count())) });
        }
        let root = self.nodes[0];
        let kids = &self.nodes[root.first_child as usize..root.first_child as usize + root.n_children as usize];
        let max_visits = kids.iter().map(|c| c.visits).max().unwrap_or(0);
        if temperature <= 0.0 || max_visits == 0 {
            let best = kids
                .iter()
                .filter(|c| c.visits == max_visits)
                .fold(None::<&Node>, |b, c| match b {
                    Some(b) if b.prior > c.prior || (b.prior == c.prior && b.action < c.action) => Some(b),
                    _ => Some(c),
                })
                .expect("an expanded root has children");
            return Some(best.action);
        }
        // Weights relative to the most visited child keep the powers in range.
        let inv_t = 1.0 / temperature as f64;
        let weights: Vec<f64> = kids.iter().map(|c| (c.visits as f64 / max_visits as f64).powf(inv_t)).collect();
        let total: f64 = weights.iter().sum();
        let mut x = self.rng.unit_f64() * total;
        for (c, w) in kids.iter().zip(&weights) {
            if x < *w {
                return Some(c.action);
            }
            x -= w;
        }
        kids.iter().rev().find(|c| c.visits > 0).map(|c| c.action)
    }

    /// Plays `action` at the root (known legal) and re-roots the tree.
    fn apply(&mut self, action: u8, cfg: &SearchConfig) -> (f32, bool) {
        let mut g = self.root_game.expect("apply without a root game");
        let actor = g.current_player();
        g.apply_unchecked(action);
        self.root_game = Some(g);
        let child = if cfg.reuse_tree && !self.nodes.is_empty() && self.nodes[0].state == NodeState::Expanded {
            let r = self.nodes[0];
            (r.first_child as usize..r.first_child as usize + r.n_children as usize)
                .find(|&i| self.nodes[i].action == action && self.nodes[i].state == NodeState::Expanded)
        } else {
            None
        };
        match child {
            Some(c) if !g.is_over() => {
                self.compact_from(c);
                self.pending.clear();
                self.sims = 0;
                self.add_root_noise(cfg);
            }
            _ => self.reset_nodes(),
        }
        (g.reward(actor), g.is_over())
    }

    /// Makes `game` the root. With [`SearchConfig::reuse_tree`], a node of
    /// the old tree whose position is exactly `game` (the root itself, or an
    /// expanded node any number of actions below it) keeps its subtree, as
    /// [`Tree::apply`] does for the child it plays; returns whether one did.
    ///
    /// This is how a player that does not drive the game itself (an
    /// evaluation harness: the opponent moves between our decisions) reuses
    /// its trees: the position decides, not the caller's bookkeeping, so a
    /// stale tree can never lend its statistics to a different position.
    fn set_root_keeping(&mut self, game: Game, cfg: &SearchConfig) -> bool {
        let found = if cfg.reuse_tree && !game.is_over() { self.find_position(&game) } else { None };
        self.root_game = Some(game);
        match found {
            Some(n) => {
                self.compact_from(n);
                self.pending.clear();
                self.sims = 0;
                self.add_root_noise(cfg);
                true
            }
            None => {
                self.reset_nodes();
                false
            }
        }
    }

    /// The node whose position equals `target`, if any: the most visited one
    /// when a transposition (the same actions in another order) holds it
    /// twice. The walk replays actions from the root game through expanded
    /// nodes; `Game::actions` only grows, so a branch stops once it has
    /// applied as many actions as `target` has.
    fn find_position(&self, target: &Game) -> Option<usize> {
        let root = self.root_game?;
        if self.nodes.is_empty() || root.seed != target.seed || root.actions > target.actions {
            return None;
        }
        let mut best: Option<usize> = None;
        let mut stack = vec![(0usize, root)];
        while let Some((i, g)) = stack.pop() {
            if g == *target {
                if best.map_or(true, |b| self.nodes[i].visits > self.nodes[b].visits) {
                    best = Some(i);
                }
                continue;
            }
            let n = self.nodes[i];
            if n.state != NodeState::Expanded || g.actions >= target.actions {
                continue;
            }
            for c in n.first_child as usize..n.first_child as usize + n.n_children as usize {
                if self.nodes[c].state == NodeState::Expanded {
                    let mut next = g;
                    next.apply_unchecked(self.nodes[c].action);
                    stack.push((c, next));
                }
            }
        }
        best
    }

    /// Rebuilds the arena with `new_root`'s subtree only (breadth first, so
    /// children stay contiguous).
    fn compact_from(&mut self, new_root: usize) {
        let mut out = std::mem::take(&mut self.spare);
        out.clear();
        let mut root = self.nodes[new_root];
        root.parent = NO_PARENT;
        root.prior = 1.0;
        out.push(root);
        let mut i = 0;
        while i < out.len() {
            let n = out[i];
            if n.state == NodeState::Expanded {
                let first = out.len() as u32;
                for k in 0..n.n_children as usize {
                    let mut c = self.nodes[n.first_child as usize + k];
                    c.parent = i as u32;
                    c.vloss = 0;
                    out.push(c);
                }
                out[i].first_child = first;
            }
            i += 1;
        }
        self.spare = std::mem::replace(&mut self.nodes, out);
    }
}

// ---------------------------------------------------------------------------
// The batched search.

/// `B` trees searched together through the batched leaf protocol (module docs).
pub struct Search {
    config: SearchConfig,
    trees: Vec<Tree>,
    /// True between a `select` that returned leaves and the matching `expand`.
    awaiting: bool,
    scratch: Vec<(u8, f32)>,
}

impl Search {
    /// `num_trees` empty trees (give them games with [`Search::set_root`]).
    /// Tree `i`'s generator is seeded from `seed` and `i`.
    pub fn new(num_trees: usize, config: SearchConfig, seed: u64) -> Result<Search, SearchError> {
        config.validate()?;
        if num_trees == 0 || num_trees > 1 << 20 {
            return bad(format!("num_trees must be in 1..=1048576, got {num_trees}"));
        }
        let trees = (0..num_trees as u64).map(|i| Tree::new(tree_seed(seed, i))).collect();
        Ok(Search { config, trees, awaiting: false, scratch: Vec::with_capacity(NUM_ACTIONS) })
    }

    /// The configuration.
    pub fn config(&self) -> &SearchConfig {
        &self.config
    }

    /// Replaces the configuration (not while leaves await evaluation).
    pub fn set_config(&mut self, config: SearchConfig) -> Result<(), SearchError> {
        config.validate()?;
        self.check_idle("set the configuration")?;
        self.config = config;
        Ok(())
    }

    /// Number of trees.
    pub fn len(&self) -> usize {
        self.trees.len()
    }

    /// Always false (a search has at least one tree).
    pub fn is_empty(&self) -> bool {
        self.trees.is_empty()
    }

    /// Rows of the leaf buffers: `num_trees * leaves_per_tree`.
    pub fn rows(&self) -> usize {
        self.trees.len() * self.config.leaves_per_tree as usize
    }

    /// Tree `i`.
    pub fn tree(&self, i: usize) -> &Tree {
        &self.trees[i]
    }

    /// True between a `select` that returned leaves and its `expand`.
    pub fn awaiting_evaluation(&self) -> bool {
        self.awaiting
    }

    /// Refuses `what` unless a `select` found leaves that await `expand`.
    pub fn check_pending(&self, what: &str) -> Result<(), SearchError> {
        if !self.awaiting {
            return bad(format!("no leaves await evaluation: call select (and get leaves) before {what}"));
        }
        Ok(())
    }

    fn check_idle(&self, what: &str) -> Result<(), SearchError> {
        if self.awaiting {
            return bad(format!("cannot {what} while leaves await evaluation: call expand first"));
        }
        Ok(())
    }

    fn check_tree(&self, i: usize) -> Result<(), SearchError> {
        if i >= self.trees.len() {
            return bad(format!("tree index {i} out of range (the search has {} trees)", self.trees.len()));
        }
        Ok(())
    }

    /// Gives tree `i` a new root game (`None`: no game, the tree sits idle),
    /// dropping its old tree.
    pub fn set_root(&mut self, i: usize, game: Option<Game>) -> Result<(), SearchError> {
        self.check_idle("set a root")?;
        self.check_tree(i)?;
        self.trees[i].set_root(game);
        Ok(())
    }

    /// Gives tree `i` the root `game`, keeping the subtree of the old tree's
    /// node for that exact position when [`SearchConfig::reuse_tree`] (see
    /// [`Tree::set_root_keeping`]). Returns whether statistics were kept.
    pub fn set_root_keeping(&mut self, i: usize, game: Game) -> Result<bool, SearchError> {
        self.check_idle("set a root")?;
        self.check_tree(i)?;
        Ok(self.trees[i].set_root_keeping(game, &self.config))
    }

    /// Reseeds tree `i`'s generator (noise and sampling).
    pub fn seed_tree(&mut self, i: usize, seed: u64) -> Result<(), SearchError> {
        self.check_tree(i)?;
        self.trees[i].rng = Rng::new(seed);
        Ok(())
    }

    /// Restarts the current move's search in every tree (keeps the root games).
    pub fn restart(&mut self) -> Result<(), SearchError> {
        self.check_idle("restart")?;
        for t in &mut self.trees {
            t.reset_nodes();
        }
        Ok(())
    }

    /// Step 1 of a round: advances every tree with simulations left to up to
    /// `leaves_per_tree` leaves, writing their observations and masks into
    /// rows `tree * K + k` of `obs` (`rows * 326`) and `masks` (`rows * 256`)
    /// and setting `flags[row]` to 1 (0 for rows without a leaf, whose obs
    /// and mask rows are zeroed). Returns the number of leaves; 0 means every
    /// tree has finished this move's simulations (no `expand` is due).
    pub fn select(&mut self, obs: &mut [f32], masks: &mut [u8], flags: &mut [u8]) -> Result<usize, SearchError> {
        self.check_idle("select again")?;
        let rows = self.rows();
        check_len("obs", obs.len(), rows * OBS_SIZE)?;
        check_len("masks", masks.len(), rows * NUM_ACTIONS)?;
        check_len("flags", flags.len(), rows)?;
        let k = self.config.leaves_per_tree as usize;
        let mut total = 0;
        for (t, tree) in self.trees.iter_mut().enumerate() {
            let n = tree.select_round(&self.config);
            total += n;
            for j in 0..k {
                let row = t * k + j;
                let o: &mut [f32; OBS_SIZE] = (&mut obs[row * OBS_SIZE..(row + 1) * OBS_SIZE]).try_into().expect("row");
                let m: &mut [u8; NUM_ACTIONS] =
                    (&mut masks[row * NUM_ACTIONS..(row + 1) * NUM_ACTIONS]).try_into().expect("row");
                if j < n {
                    let leaf = &tree.pending[j];
                    leaf.game.observe(o);
                    leaf.game.legal_mask().write_bytes(m);
                    flags[row] = 1;
                } else {
                    o.fill(0.0);
                    m.fill(0);
                    flags[row] = 0;
                }
            }
        }
        self.awaiting = total > 0;
        Ok(total)
    }

    /// How many afterstate rows [`leaf_afterstates`](Search::leaf_afterstates)
    /// writes now: the legal actions of every pending leaf (the set bits of
    /// the flagged rows of `select`'s masks). 0 when no leaves are pending.
    pub fn leaf_afterstate_rows(&self) -> usize {
        self.trees.iter().flat_map(|t| t.pending.iter()).map(|l| l.game.legal_mask().count() as usize).sum()
    }

    /// For networks that score each action by the position it leads to: the
    /// afterstates ([`Game::afterstates`]) of every pending leaf, leaf after
    /// leaf in row order, each leaf's legal actions ascending, so row `r` of
    /// the output is the `r`-th set bit of the flagged rows of `select`'s
    /// masks read row by row. `obs_out` holds exactly
    /// `leaf_afterstate_rows() * 326` floats and `result_out` one per row
    /// (the mover's result: +1 won, -1 lost, 0 otherwise). Only between a
    /// `select` that found leaves and its `expand`; the trees are not changed.
    /// Returns the number of rows.
    pub fn leaf_afterstates(&self, obs_out: &mut [f32], result_out: &mut [f32]) -> Result<usize, SearchError> {
        self.check_pending("leaf_afterstates")?;
        let rows = self.leaf_afterstate_rows();
        check_len("afterstate obs", obs_out.len(), rows * OBS_SIZE)?;
        check_len("afterstate result", result_out.len(), rows)?;
        let mut at = 0;
        for leaf in self.trees.iter().flat_map(|t| t.pending.iter()) {
            at += leaf.game.afterstates(&mut obs_out[at * OBS_SIZE..], &mut result_out[at..]);
        }
        debug_assert_eq!(at, rows);
        Ok(rows)
    }

    /// Step 2 of a round: `priors` (`rows * 256`, read as
    /// [`SearchConfig::priors`] says) and `values` (`rows`, for the player to
    /// move at each leaf, clamped to [-1, 1]) for the rows `select` flagged.
    /// Other rows are not read. Refused (nothing changed) if no leaves are
    /// pending or a flagged row has a non-finite value or legal-action prior.
    pub fn expand(&mut self, priors: &[f32], values: &[f32]) -> Result<(), SearchError> {
        self.check_pending("expand")?;
        let rows = self.rows();
        check_len("priors", priors.len(), rows * NUM_ACTIONS)?;
        check_len("values", values.len(), rows)?;
        let k = self.config.leaves_per_tree as usize;
        let logits = self.config.priors == PriorKind::Logits;
        for (t, tree) in self.trees.iter().enumerate() {
            for (j, leaf) in tree.pending.iter().enumerate() {
                let row = t * k + j;
                if !values[row].is_finite() {
                    return bad(format!("values[{row}] (tree {t}) is {}, not a finite number", values[row]));
                }
                let p = &priors[row * NUM_ACTIONS..(row + 1) * NUM_ACTIONS];
                for a in leaf.game.legal_mask().iter() {
                    let x = p[a as usize];
                    if !x.is_finite() || (!logits && x < 0.0) {
                        return bad(format!(
                            "priors[{row}, {a}] (tree {t}, a legal action) is {x}: {}",
                            if logits {
                                "logits of legal actions must be finite"
                            } else {
                                "probabilities must be finite and >= 0"
                            }
                        ));
                    }
                }
            }
        }
        for (t, tree) in self.trees.iter_mut().enumerate() {
            for j in 0..tree.pending.len() {
                let row = t * k + j;
                let p = &priors[row * NUM_ACTIONS..(row + 1) * NUM_ACTIONS];
                tree.expand_leaf(j, p, values[row], &self.config, &mut self.scratch);
            }
            tree.pending.clear();
        }
        self.awaiting = false;
        Ok(())
    }

    /// Root visit counts `[B * 256]` (zeros for trees without a running game;
    /// a forced move puts `simulations` on its one action).
    pub fn root_visits(&self, out: &mut [f32]) -> Result<(), SearchError> {
        check_len("visits", out.len(), self.trees.len() * NUM_ACTIONS)?;
        for (t, tree) in self.trees.iter().enumerate() {
            tree.root_visits(&self.config, &mut out[t * NUM_ACTIONS..(t + 1) * NUM_ACTIONS]);
        }
        Ok(())
    }

    /// Root mean values `[B]` for the player to move at each root (0 without a search).
    pub fn root_values(&self, out: &mut [f32]) -> Result<(), SearchError> {
        check_len("values", out.len(), self.trees.len())?;
        for (o, tree) in out.iter_mut().zip(&self.trees) {
            *o = tree.nodes.first().map_or(0.0, |r| r.mean());
        }
        Ok(())
    }

    /// One action per tree `[B]` at `temperature` (see [`Tree::choose`]); -1
    /// for trees without a running game.
    pub fn choose(&mut self, temperature: f32, out: &mut [i64]) -> Result<(), SearchError> {
        self.check_idle("choose")?;
        if !temperature.is_finite() || temperature < 0.0 {
            return bad(format!("temperature must be finite and >= 0, got {temperature}"));
        }
        check_len("actions", out.len(), self.trees.len())?;
        for (o, tree) in out.iter_mut().zip(self.trees.iter_mut()) {
            *o = tree.choose(temperature).map_or(-1, |a| a as i64);
        }
        Ok(())
    }

    /// Plays `actions[i]` at tree `i`'s root (`-1`: leave the tree alone) and
    /// re-roots it, keeping the subtree when [`SearchConfig::reuse_tree`].
    /// Writes the reward of the player who acted and whether the game ended.
    /// Every action is checked before any is played.
    pub fn apply(&mut self, actions: &[i64], rewards: &mut [f32], done: &mut [u8]) -> Result<(), SearchError> {
        self.check_idle("apply actions")?;
        let b = self.trees.len();
        check_len("actions", actions.len(), b)?;
        check_len("rewards", rewards.len(), b)?;
        check_len("done", done.len(), b)?;
        for (t, (&a, tree)) in actions.iter().zip(&self.trees).enumerate() {
            if a < 0 {
                continue;
            }
            match &tree.root_game {
                Some(g) if !g.is_over() => {
                    if a > 255 || !g.legal_mask().has(a as u8) {
                        return Err(SearchError::Illegal { tree: t, action: a });
                    }
                }
                _ => return Err(SearchError::GameOver { tree: t }),
            }
        }
        for (t, &a) in actions.iter().enumerate() {
            if a < 0 {
                rewards[t] = 0.0;
                done[t] = self.trees[t].root_game.map_or(1, |g| g.is_over() as u8);
                continue;
            }
            let (r, d) = self.trees[t].apply(a as u8, &self.config);
            rewards[t] = r;
            done[t] = d as u8;
        }
        Ok(())
    }
}

fn check_len(what: &str, got: usize, need: usize) -> Result<(), SearchError> {
    if got != need {
        return bad(format!("{what} buffer holds {got} values, needs exactly {need}"));
    }
    Ok(())
}

/// The generator seed of tree `i` of a search seeded `seed`.
pub fn tree_seed(seed: u64, i: u64) -> u64 {
    let mut r = Rng::new(seed ^ i.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    r.next_u64()
}

#[cfg(test)]
mod tests;
