//! Bots: random, greedy and MCTS, each with its own seeded generator.
//! Written against the narrow game surface only (legal mask, apply, clone,
//! reward, current player), so they never reach into the rules.

use crate::state::Game;

/// Anything that picks an action for the player to move.
pub trait Bot {
    /// A legal action for the player to move. The game must not be over.
    fn choose(&mut self, game: &Game) -> u8;
}

/// Uniform over legal actions.
pub struct RandomBot {
    rng: crate::rng::Rng,
}

impl RandomBot {
    /// A random bot with its own seed.
    pub fn new(seed: u64) -> RandomBot {
        RandomBot { rng: crate::rng::Rng::new(seed) }
    }
}

impl Bot for RandomBot {
    fn choose(&mut self, game: &Game) -> u8 {
        let m = game.legal_mask();
        m.nth(self.rng.below(m.count()))
    }
}
