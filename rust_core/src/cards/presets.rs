//! The six preset decks. Placeholder while the full set is written.

use super::CardId;

/// (name, 30 card ids) for each preset deck, in the order GAME.md lists them.
pub static PRESETS: &[(&str, [CardId; 30])] = &[
    ("argentum_control", [1; 30]),
];
