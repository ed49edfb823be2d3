//! Essence Wars: a deterministic, perfect-information, two-player card game
//! engine for reinforcement learning (rules: `GAME.md`).
//!
//! The crate has no dependencies outside `std`. It builds as an `rlib` for
//! Rust users, and as a `staticlib`/`cdylib` exposing a plain C ABI (`ffi`)
//! for every other language.
//!
//! The narrow surface every algorithm uses (as in OpenSpiel): [`Game::legal_mask`],
//! [`Game::apply`], `Clone`, [`Game::observe`], [`Game::reward`],
//! [`Game::current_player`], [`Game::is_over`].

pub mod actions;
pub mod batch;
pub mod bots;
pub mod card_ids;
pub mod cards;
pub mod decks;
pub mod encoding;
pub mod ffi;
pub mod ffi_search;
pub mod keywords;
pub mod rng;
pub mod rules;
pub mod search;
pub mod serialize;
pub mod state;

pub use actions::{Action, ActionMask, END_TURN, NUM_ACTIONS};
pub use decks::{Deck, DeckError};
pub use encoding::{OBS_SIZE, OBS_VERSION};
pub use rules::{ActionError, StepResult};
pub use state::{Game, Mode, Outcome};

/// The library version (one place: Cargo.toml).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[cfg(test)]
mod tests;
