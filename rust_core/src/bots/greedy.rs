//! The greedy bot: one-ply lookahead over a weighted sum of features.
//!
//! For each legal action it clones the game, applies the action and scores
//! the result from the mover's point of view with [`evaluate`]. A won game
//! dominates every other score and a lost one is avoided. Ending the turn is
//! scored as the current position (plus [`Weights::end_turn_bias`]) rather
//! than as the position after the opponent's refill and draw, so the bot does
//! not pass while an action would keep or improve its position; since every
//! action but ending the turn consumes something (AP, an attack, a once-per-
//! turn ability, essence), a turn always ends. Ties are broken by the bot's
//! own seeded generator.

use super::Bot;
use crate::actions::END_TURN;
use crate::keywords::Keyword;
use crate::rng::Rng;
use crate::state::{Game, Mode, Outcome, Player, LANES};

/// The evaluation's weights, one named field per feature. Scores are in
/// "life points": one point of life difference is worth `life`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Weights {
    /// Per point of life, own minus enemy.
    pub life: f32,
    /// Extra per point of life below `low_life_threshold`: a point matters more when low.
    pub low_life: f32,
    /// Life under which `low_life` applies.
    pub low_life_threshold: f32,
    /// Per victory point, own minus enemy (`essence_duel` only).
    pub victory_point: f32,
    /// Per creature on the board, for being there at all (a body that blocks and trades).
    pub creature: f32,
    /// Per point of a creature's attack (auras included).
    pub attack: f32,
    /// Per point of a creature's current health (auras included).
    pub health: f32,
    /// Flat value of each keyword on a creature, indexed by the keyword's bit
    /// ([`Keyword`] order: Guard, Fortify, Shield, Piercing, Rush, Lethal,
    /// Regenerate, Frenzy, Volatile, Lifesteal, Quick, Stealth, Ephemeral,
    /// Ranged, Charge, Ward).
    pub keyword: [f32; 16],
    /// Extra per point of attack of a Frenzy creature (it attacks twice).
    pub frenzy_attack: f32,
    /// An Ephemeral creature counts this fraction of its value (it dies at its owner's end of turn).
    pub ephemeral_scale: f32,
    /// Per card in hand, own minus enemy.
    pub hand_card: f32,
    /// Per remaining turn of durability on an own support minus the enemy's
    /// (auras are already counted in the creatures' stats).
    pub support_turn: f32,
    /// Per point of unspent essence of the evaluated seat: a small tie-break
    /// toward the cheaper of two equal plays (essence refills each turn).
    pub essence: f32,
    /// Penalty when the enemy board could deal lethal face damage next turn
    /// (no own Guard in the way).
    pub threatened: f32,
    /// Bonus when the own board threatens lethal face damage next turn.
    pub threatening: f32,
    /// Added to the score of ending the turn (which is the current position's
    /// evaluation): negative, so an action that keeps the evaluation level (or
    /// loses a little of it, as developing a card often does for a one-ply
    /// view) is played rather than passed up.
    pub end_turn_bias: f32,
    /// Score of a won game (a lost game scores the negative, a draw 0);
    /// larger than any evaluation of a running game.
    pub win: f32,
}

/// The greedy bot's weights.
///
/// Tuned by hand-guided coordinate search in greedy-vs-greedy self-play over
/// the preset decks (6000 games per variant): valuing the board above the
/// hand and a little above life won about 53.6% against the first draft
/// (life 1, creature 1, attack 1, health 0.8, hand 1, end-turn bias -0.01).
pub const WEIGHTS: Weights = Weights {
    life: 0.8,
    low_life: 0.5,
    low_life_threshold: 10.0,
    victory_point: 1.0,
    creature: 2.0,
    attack: 1.3,
    health: 1.0,
    keyword: [
        1.0, // Guard: protects life and the other creatures.
        1.0, // Fortify: about one health per hit taken.
        1.5, // Shield: absorbs one whole hit.
        0.5, // Piercing: occasional overflow damage.
        0.0, // Rush: its value is realised by attacking at once.
        2.0, // Lethal: trades with anything.
        1.0, // Regenerate: two health a turn.
        0.5, // Frenzy: plus `frenzy_attack` per attack point.
        1.5, // Volatile: two damage to every enemy creature on death.
        1.0, // Lifesteal: life on every hit.
        1.0, // Quick: wins trades against equal attack.
        1.0, // Stealth: cannot be targeted.
        0.0, // Ephemeral: handled by `ephemeral_scale`.
        1.0, // Ranged: picks its targets, no counter-damage.
        2.0, // Charge: +2 damage per attack.
        1.0, // Ward: cancels one enemy spell or ability.
    ],
    frenzy_attack: 0.5,
    ephemeral_scale: 0.25,
    hand_card: 0.7,
    support_turn: 0.5,
    essence: 0.05,
    threatened: 8.0,
    threatening: 3.0,
    end_turn_bias: -0.3,
    win: 1.0e6,
};

/// Scores differing by at most this are ties.
const TIE_EPSILON: f32 = 1e-4;

/// The evaluation of `game` for `seat` with [`WEIGHTS`]: `WEIGHTS.win` for a
/// won game, its negative for a lost one, 0 for a draw, otherwise a weighted
/// sum of features (own minus enemy).
pub fn evaluate(game: &Game, seat: usize) -> f32 {
    evaluate_with(game, seat, &WEIGHTS)
}

/// [`evaluate`] with explicit weights.
pub fn evaluate_with(game: &Game, seat: usize, w: &Weights) -> f32 {
    match game.outcome {
        Outcome::Winner(p) if p as usize == seat => return w.win,
        Outcome::Winner(_) => return -w.win,
        Outcome::Draw => return 0.0,
        Outcome::Running => {}
    }
    let me = &game.players[seat];
    let foe = &game.players[1 - seat];
    let mut score = w.life * (life_value(me.life, w) - life_value(foe.life, w));
    if game.mode == Mode::EssenceDuel {
        score += w.victory_point * (me.vp - foe.vp) as f32;
    }
    score += side_value(me, w) - side_value(foe, w);
    score += w.hand_card * (me.hand_len as f32 - foe.hand_len as f32);
    score += w.essence * me.essence as f32;
    if face_threat(foe, me) >= me.life as i32 {
        score -= w.threatened;
    }
    if face_threat(me, foe) >= foe.life as i32 {
        score += w.threatening;
    }
    score
}

/// Life with the extra weight of points below the threshold.
#[inline]
fn life_value(life: i16, w: &Weights) -> f32 {
    let l = life as f32;
    l - w.low_life * (w.low_life_threshold - l).max(0.0)
}

/// Board and supports of one side.
fn side_value(p: &Player, w: &Weights) -> f32 {
    let mut total = 0.0;
    for c in p.board.iter().filter(|c| c.present()) {
        let attack = p.attack_of(c) as f32;
        let health = p.health_of(c).max(0) as f32;
        let kw = p.keywords_of(c);
        let mut v = w.creature + w.attack * attack + w.health * health;
        for k in kw.iter() {
            v += w.keyword[k as usize];
        }
        if kw.has(Keyword::Frenzy) {
            v += w.frenzy_attack * attack;
        }
        if kw.has(Keyword::Ephemeral) {
            v *= w.ephemeral_scale;
        }
        total += v;
    }
    for s in p.supports.iter().filter(|s| s.present()) {
        total += w.support_turn * s.durability as f32;
    }
    total
}

/// Face damage `att`'s board could deal to `def` on `att`'s next turn, ignoring
/// `def`'s answers; 0 when a non-stealthed Guard stands in the way.
fn face_threat(att: &Player, def: &Player) -> i32 {
    let guarded = (0..LANES).any(|s| {
        let c = &def.board[s];
        c.present() && {
            let kw = def.keywords_of(c);
            kw.has(Keyword::Guard) && !kw.has(Keyword::Stealth)
        }
    });
    if guarded {
        return 0;
    }
    let mut total = 0;
    for c in att.board.iter().filter(|c| c.present()) {
        let kw = att.keywords_of(c);
        let attack = att.attack_of(c) as i32;
        if attack <= 0 || kw.has(Keyword::Ephemeral) {
            continue;
        }
        let hit = attack + if kw.has(Keyword::Charge) { 2 } else { 0 };
        total += if kw.has(Keyword::Frenzy) { 2 * hit } else { hit };
    }
    total
}

/// The score of playing `action` now, for the player to move: the evaluation
/// of the resulting position, a win or loss if it ends the game, and for
/// ending the turn the current position plus `end_turn_bias` (`current` is
/// `evaluate_with(game, mover, w)`, passed in so it is computed once).
fn action_score(game: &Game, action: u8, current: f32, w: &Weights) -> f32 {
    let me = game.current_player();
    let mut next = *game;
    next.apply_unchecked(action);
    if next.is_over() || action != END_TURN {
        evaluate_with(&next, me, w)
    } else {
        current + w.end_turn_bias
    }
}

/// One greedy choice for the player to move (the game must not be over),
/// ties broken by `rng`. This is the greedy bot's whole policy, usable as an
/// MCTS rollout policy.
pub fn greedy_action(game: &Game, rng: &mut Rng) -> u8 {
    greedy_action_with(game, rng, &WEIGHTS)
}

/// [`greedy_action`] with explicit weights.
pub fn greedy_action_with(game: &Game, rng: &mut Rng, w: &Weights) -> u8 {
    let mask = game.legal_mask();
    debug_assert!(mask.count() > 0, "greedy_action on a finished game");
    if mask.count() == 1 {
        return mask.nth(0);
    }
    let current = evaluate_with(game, game.current_player(), w);
    let mut best = f32::NEG_INFINITY;
    let mut best_action = END_TURN;
    let mut ties = 0u32;
    for action in mask.iter() {
        let score = action_score(game, action, current, w);
        if score > best + TIE_EPSILON {
            best = score;
            best_action = action;
            ties = 1;
        } else if score >= best - TIE_EPSILON {
            // Reservoir sampling: each of the tied actions is kept with equal chance.
            ties += 1;
            if rng.below(ties) == 0 {
                best_action = action;
            }
        }
    }
    best_action
}

/// One-ply greedy bot with its own seeded tie-breaking generator.
pub struct GreedyBot {
    rng: Rng,
    weights: Weights,
}

impl GreedyBot {
    /// A greedy bot with [`WEIGHTS`].
    pub fn new(seed: u64) -> GreedyBot {
        GreedyBot { rng: Rng::new(seed), weights: WEIGHTS }
    }

    /// The same bot with other weights (for tuning experiments).
    pub fn with_weights(mut self, weights: Weights) -> GreedyBot {
        self.weights = weights;
        self
    }
}

impl Bot for GreedyBot {
    fn choose(&mut self, game: &Game) -> u8 {
        greedy_action_with(game, &mut self.rng, &self.weights)
    }

    fn name(&self) -> String {
        "greedy".into()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;
    use crate::actions::ATTACK_BASE;
    use crate::state::Mode;

    #[test]
    fn takes_a_lethal_attack() {
        for seed in 0..20 {
            let mut g = bare_game(seed);
            let me = g.current_player();
            let foe = 1 - me;
            g.players[foe].life = 1;
            place(&mut g, me, 2, 1, 5);
            // A distracting enemy creature the bot could trade with instead.
            place(&mut g, foe, 1, 1, 1);
            let mask = g.legal_mask();
            let lethal = ATTACK_BASE + 5 * 2 + 2; // lane 2 into empty enemy lane 2: face
            assert!(mask.has(lethal) && mask.count() > 2, "setup: {:?}", mask.iter().collect::<Vec<_>>());
            let a = GreedyBot::new(seed).choose(&g);
            g.apply(a as u16).unwrap();
            assert_eq!(g.winner(), Some(me), "seed {seed}: chose {a}");
        }
    }

    #[test]
    fn avoids_a_losing_action_and_ends_a_turn_only_when_done() {
        // Attacking a 9/9 with a 1/1 loses the creature for nothing: greedy
        // should attack face instead, and only then end the turn.
        let mut g = bare_game(4);
        let me = g.current_player();
        place(&mut g, me, 0, 1, 1);
        place(&mut g, 1 - me, 0, 9, 9);
        let mut bot = GreedyBot::new(1);
        let first = bot.choose(&g);
        assert_eq!(first, ATTACK_BASE + 1, "face attack through the open lane 1");
        g.apply(first as u16).unwrap();
        assert_eq!(bot.choose(&g), END_TURN);
    }

    #[test]
    fn same_seed_same_choices() {
        let decks = all_decks();
        for seed in 0..10u64 {
            let mut g = Game::new(seed, decks[0], decks[decks.len() - 1], Mode::Attrition);
            let (mut a, mut b) = (GreedyBot::new(seed), GreedyBot::new(seed));
            while !g.is_over() {
                let x = a.choose(&g);
                assert_eq!(x, b.choose(&g));
                g.apply_unchecked(x);
            }
        }
    }

    #[test]
    fn greedy_beats_random() {
        let decks = all_decks();
        let mut greedy_wins = 0;
        let games = 100;
        for i in 0..games {
            let mut g =
                Game::new(i, decks[i as usize % decks.len()], decks[(i as usize / 2) % decks.len()], Mode::Attrition);
            let greedy_seat = (i % 2) as usize;
            let mut greedy = GreedyBot::new(i);
            let mut random = super::super::RandomBot::new(i);
            while !g.is_over() {
                let a = if g.current_player() == greedy_seat { greedy.choose(&g) } else { random.choose(&g) };
                g.apply_unchecked(a);
            }
            greedy_wins += (g.winner() == Some(greedy_seat)) as u32;
        }
        assert!(greedy_wins >= 80, "greedy won only {greedy_wins}/{games} against random");
    }

    #[test]
    fn evaluation_is_antisymmetric_in_the_board_and_terminal_scores_dominate() {
        let mut g = bare_game(2);
        place(&mut g, 0, 0, 3, 3);
        place(&mut g, 1, 4, 2, 5);
        let e0 = evaluate(&g, 0);
        assert!(e0.abs() < WEIGHTS.win / 10.0);
        let mut h = g;
        h.players[0].board.swap(0, 4);
        assert!((evaluate(&h, 0) - e0).abs() < 1e-4, "lanes do not matter to the evaluation");
        g.outcome = Outcome::Winner(1);
        assert_eq!(evaluate(&g, 1), WEIGHTS.win);
        assert_eq!(evaluate(&g, 0), -WEIGHTS.win);
    }
}
