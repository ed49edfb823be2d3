//! Bots: random, greedy and MCTS, each with its own seeded generator.
//! Written against the narrow game surface only (legal mask, apply, clone,
//! reward, current player, and the public player fields for the greedy
//! evaluation), so they never reach into the rules.
//!
//! Determinism: a bot's choices depend only on its seed and on the games it
//! has been shown, in order. Two bots built with the same seed and shown the
//! same positions make the same choices, on every platform.

pub mod greedy;
pub mod mcts;

pub use greedy::{evaluate, greedy_action, GreedyBot, Weights, WEIGHTS};
pub use mcts::{ActionStats, MctsBot, Rollout, DEFAULT_EXPLORATION};

use crate::rng::Rng;
use crate::state::Game;
use std::fmt;

/// Anything that picks an action for the player to move.
pub trait Bot {
    /// A legal action for the player to move. The game must not be over.
    fn choose(&mut self, game: &Game) -> u8;

    /// A short name for reports, in the form [`BotSpec::parse`] accepts.
    fn name(&self) -> String;
}

/// A uniformly random legal action, drawn from `rng`. The game must not be over.
#[inline]
pub fn random_action(game: &Game, rng: &mut Rng) -> u8 {
    let mask = game.legal_mask();
    debug_assert!(mask.count() > 0, "random_action on a finished game");
    mask.random(rng)
}

/// Uniform over legal actions.
pub struct RandomBot {
    rng: Rng,
}

impl RandomBot {
    /// A random bot with its own seed.
    pub fn new(seed: u64) -> RandomBot {
        RandomBot { rng: Rng::new(seed) }
    }
}

impl Bot for RandomBot {
    fn choose(&mut self, game: &Game) -> u8 {
        random_action(game, &mut self.rng)
    }

    fn name(&self) -> String {
        "random".into()
    }
}

/// A bot described by name: `random`, `greedy`, `mcts-N` (N simulations,
/// random rollouts) or `mcts-N-greedy` (greedy rollouts; `mcts-N-random` is
/// also accepted), each MCTS form optionally ending in `-det` (determinized:
/// the search does not know the deck order, [`MctsBot::with_determinized`]),
/// e.g. `mcts-1000-det` or `mcts-200-greedy-det`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BotSpec {
    /// [`RandomBot`].
    Random,
    /// [`GreedyBot`].
    Greedy,
    /// [`MctsBot`] with this budget and rollout policy.
    Mcts {
        /// Simulations per decision.
        simulations: u32,
        /// Rollout policy.
        rollout: Rollout,
        /// Search without knowledge of the deck order.
        determinized: bool,
    },
}

/// Why a bot name was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BotSpecError {
    /// The name as given.
    pub name: String,
}

impl fmt::Display for BotSpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown bot {:?}; valid bots: random, greedy, mcts-N (N simulations, random rollouts), \
             mcts-N-greedy (greedy rollouts), each MCTS form optionally ending in -det (the search does not \
             know the deck order), e.g. mcts-500, mcts-200-greedy or mcts-1000-det",
            self.name
        )
    }
}

impl std::error::Error for BotSpecError {}

impl BotSpec {
    /// Parses a bot name (case-insensitive).
    pub fn parse(name: &str) -> Result<BotSpec, BotSpecError> {
        let err = || BotSpecError { name: name.to_string() };
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "random" => return Ok(BotSpec::Random),
            "greedy" => return Ok(BotSpec::Greedy),
            _ => {}
        }
        let rest = lower.strip_prefix("mcts-").ok_or_else(err)?;
        let (rest, determinized) = match rest.strip_suffix("-det") {
            Some(r) => (r, true),
            None => (rest, false),
        };
        let (count, rollout) = match rest.split_once('-') {
            None => (rest, Rollout::Random),
            Some((count, "random")) => (count, Rollout::Random),
            Some((count, "greedy")) => (count, Rollout::Greedy),
            Some(_) => return Err(err()),
        };
        let simulations: u32 = count.parse().map_err(|_| err())?;
        if simulations == 0 {
            return Err(err());
        }
        Ok(BotSpec::Mcts { simulations, rollout, determinized })
    }

    /// Builds the bot with its own seed.
    pub fn build(self, seed: u64) -> Box<dyn Bot + Send> {
        match self {
            BotSpec::Random => Box::new(RandomBot::new(seed)),
            BotSpec::Greedy => Box::new(GreedyBot::new(seed)),
            BotSpec::Mcts { simulations, rollout, determinized } => {
                Box::new(MctsBot::new(simulations, seed).with_rollout(rollout).with_determinized(determinized))
            }
        }
    }
}

impl fmt::Display for BotSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BotSpec::Random => write!(f, "random"),
            BotSpec::Greedy => write!(f, "greedy"),
            BotSpec::Mcts { simulations, rollout, determinized } => {
                write!(f, "mcts-{simulations}")?;
                if *rollout == Rollout::Greedy {
                    write!(f, "-greedy")?;
                }
                if *determinized {
                    write!(f, "-det")?;
                }
                Ok(())
            }
        }
    }
}

/// Helpers shared by the bots' unit tests: decks from whatever cards exist,
/// and hand-built positions.
#[cfg(test)]
pub(crate) mod testutil {
    use crate::cards::{self, Kind, Rarity};
    use crate::decks::{Deck, DECK_SIZE};
    use crate::keywords::Keywords;
    use crate::state::{Creature, Game, Mode, Support, LANES};

    /// Deck of the non-token creature cards in the catalogue, cycled to 30
    /// (deck-building copy limits are ignored: tests only need a playable list).
    pub fn creature_deck(offset: usize) -> Deck {
        let ids: Vec<u16> =
            cards::CARDS.iter().filter(|c| c.is_creature() && c.rarity != Rarity::Token).map(|c| c.id).collect();
        assert!(!ids.is_empty(), "the catalogue has no creature card");
        let mut out = [0; DECK_SIZE];
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = ids[(i + offset) % ids.len()];
        }
        Deck { cards: out }
    }

    /// Every preset deck plus the creature test deck (presets may be placeholders).
    pub fn all_decks() -> Vec<Deck> {
        let mut v: Vec<Deck> = crate::decks::preset_names().filter_map(|n| Deck::preset(n).ok()).collect();
        v.push(creature_deck(0));
        v.push(creature_deck(3));
        v
    }

    /// A creature card id, preferring one with no triggers and no ability, so
    /// that a placed creature does exactly what its stats say.
    pub fn some_creature() -> u16 {
        let plain =
            |c: &&cards::CardDef| matches!(c.kind, Kind::Creature { ability: None, .. }) && c.triggers.is_empty();
        cards::CARDS
            .iter()
            .find(plain)
            .or_else(|| cards::CARDS.iter().find(|c| c.is_creature()))
            .expect("a creature card")
            .id
    }

    /// A game at player 0's first turn with both boards, supports and player 0's
    /// hand cleared and no essence, so that only the creatures placed by the
    /// test can act.
    pub fn bare_game(seed: u64) -> Game {
        let mut g = Game::new(seed, creature_deck(0), creature_deck(1), Mode::Attrition);
        for p in 0..2 {
            let pl = &mut g.players[p];
            pl.board = [Creature::NONE; LANES];
            pl.supports = [Support::NONE; 2];
            pl.recompute_auras();
        }
        let me = g.current_player();
        g.players[me].hand_len = 0;
        g.players[me].hand = [crate::state::EMPTY; crate::state::HAND_MAX];
        g.players[me].essence = 0;
        g.refresh();
        g
    }

    /// Puts a ready, keyword-free creature with the given stats in `seat`'s `lane`.
    pub fn place(g: &mut Game, seat: usize, lane: usize, attack: i16, health: i16) {
        let uid = g.next_uid;
        g.next_uid += 1;
        let mut c = Creature::new(some_creature(), uid);
        c.attack = attack;
        c.health = health;
        c.max_health = health;
        c.keywords = Keywords::NONE;
        c.suppressed = Keywords::NONE;
        c.flags = 0;
        c.attacks = 0;
        g.players[seat].board[lane] = c;
        g.refresh();
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;
    use crate::state::Mode;

    #[test]
    fn random_picks_only_legal_actions_and_covers_them_all() {
        let mut g = Game::new(3, creature_deck(0), creature_deck(2), Mode::Attrition);
        // Move on a few turns so there is more than one kind of action.
        let mut driver = RandomBot::new(99);
        while g.turn < 6 {
            let a = driver.choose(&g);
            g.apply(a as u16).unwrap();
        }
        let mask = g.legal_mask();
        let mut seen = [0u32; 256];
        let mut bot = RandomBot::new(1);
        let draws = 2_000 * mask.count();
        for _ in 0..draws {
            let a = bot.choose(&g);
            assert!(mask.has(a), "illegal action {a}");
            seen[a as usize] += 1;
        }
        let (mut a, mut b) = (RandomBot::new(8), RandomBot::new(8));
        assert!((0..100).all(|_| a.choose(&g) == b.choose(&g)), "same seed, same choices");
        let expected = draws as f64 / mask.count() as f64;
        for a in mask.iter() {
            let n = seen[a as usize] as f64;
            assert!((n - expected).abs() < 0.15 * expected, "action {a}: {n} draws, expected ~{expected}");
        }
    }

    #[test]
    fn bot_specs_parse_and_round_trip() {
        for name in ["random", "greedy", "mcts-100", "mcts-25-greedy", "mcts-40-det", "mcts-9-greedy-det"] {
            let spec = BotSpec::parse(name).unwrap();
            assert_eq!(spec.to_string(), name);
            assert_eq!(spec.build(1).name(), name);
        }
        assert_eq!(BotSpec::parse("MCTS-7-random").unwrap().to_string(), "mcts-7");
        assert_eq!(BotSpec::parse("mcts-7-random-DET").unwrap().to_string(), "mcts-7-det");
        for bad in [
            "",
            "mcts",
            "mcts-",
            "mcts-0",
            "mcts-x",
            "mcts-5-smart",
            "minimax",
            "mcts-det",
            "mcts-5-det-greedy",
            "mcts-0-det",
            "greedy-det",
            "mcts-5-det-det",
        ] {
            let err = BotSpec::parse(bad).unwrap_err();
            assert!(err.to_string().contains("valid bots"), "{err}");
        }
    }

    #[test]
    fn bots_never_return_an_illegal_action_over_many_games() {
        let decks = all_decks();
        let specs = ["random", "greedy", "mcts-8", "mcts-4-greedy", "mcts-8-det"];
        let mut rng = Rng::new(5);
        for game_index in 0..120u64 {
            let d0 = decks[rng.below(decks.len() as u32) as usize];
            let d1 = decks[rng.below(decks.len() as u32) as usize];
            let mode = if game_index % 3 == 0 { Mode::EssenceDuel } else { Mode::Attrition };
            let mut g = Game::new(game_index, d0, d1, mode);
            let a = BotSpec::parse(specs[game_index as usize % specs.len()]).unwrap();
            let b = BotSpec::parse(specs[(game_index as usize / specs.len()) % specs.len()]).unwrap();
            let mut bots = [a.build(game_index * 2), b.build(game_index * 2 + 1)];
            let mut steps = 0;
            while !g.is_over() {
                let seat = g.current_player();
                let action = bots[seat].choose(&g);
                assert!(
                    g.legal_mask().has(action),
                    "game {game_index}: {} chose illegal action {action}",
                    bots[seat].name()
                );
                g.apply(action as u16).unwrap();
                steps += 1;
                assert!(steps < 3_000, "game {game_index}: does not end");
            }
            assert!(g.turn <= crate::state::TURN_LIMIT);
        }
    }
}
