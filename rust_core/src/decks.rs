//! Decks: the six presets and validated custom decks.

use crate::cards::{self, CardId, Rarity};
use std::fmt;

/// Cards in a deck.
pub const DECK_SIZE: usize = 30;

/// A validated 30-card deck list (in list order; the game shuffles it from the seed).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Deck {
    /// The card ids.
    pub cards: [CardId; DECK_SIZE],
}

/// Why a deck was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeckError {
    /// Not exactly 30 cards.
    WrongSize { got: usize },
    /// A card id that is not in the catalogue.
    UnknownCard { id: i64 },
    /// A token (made by effects only) in a deck list.
    TokenInDeck { id: CardId, name: &'static str },
    /// More copies than the card's rarity allows.
    TooManyCopies { id: CardId, name: &'static str, count: usize, max: usize },
    /// No preset deck has this name.
    UnknownPreset { name: String, suggestion: Option<&'static str> },
}

impl fmt::Display for DeckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeckError::WrongSize { got } => {
                write!(f, "a deck must have exactly {DECK_SIZE} cards, got {got}")
            }
            DeckError::UnknownCard { id } => {
                write!(f, "unknown card id {id} (valid ids are 0..{})", cards::CARDS.len())
            }
            DeckError::TokenInDeck { id, name } => {
                write!(f, "card {id} ({name}) is a token and cannot be put in a deck")
            }
            DeckError::TooManyCopies { id, name, count, max } => {
                write!(f, "card {id} ({name}) appears {count} times; at most {max} allowed")
            }
            DeckError::UnknownPreset { name, suggestion } => {
                write!(f, "unknown deck {name:?}")?;
                if let Some(s) = suggestion {
                    write!(f, " (did you mean {s:?}?)")?;
                }
                write!(f, "; valid decks: {}", preset_names().collect::<Vec<_>>().join(", "))
            }
        }
    }
}

impl std::error::Error for DeckError {}

/// The names of the preset decks.
pub fn preset_names() -> impl Iterator<Item = &'static str> {
    cards::presets::PRESETS.iter().map(|(n, _)| *n)
}

impl Deck {
    /// Validates a custom deck: 30 known, non-token cards, at most 2 copies
    /// (1 of a legendary).
    pub fn from_ids(ids: &[i64]) -> Result<Deck, DeckError> {
        if ids.len() != DECK_SIZE {
            return Err(DeckError::WrongSize { got: ids.len() });
        }
        let mut out = [0 as CardId; DECK_SIZE];
        // Unknown ids and tokens first: they are the likelier mistake.
        for (slot, &id) in out.iter_mut().zip(ids) {
            if id < 0 || id as usize >= cards::CARDS.len() {
                return Err(DeckError::UnknownCard { id });
            }
            let c = cards::card(id as CardId);
            if c.rarity == Rarity::Token {
                return Err(DeckError::TokenInDeck { id: c.id, name: c.name });
            }
            *slot = id as CardId;
        }
        let mut counts = vec![0usize; cards::CARDS.len()];
        for &id in &out {
            counts[id as usize] += 1;
        }
        for &id in &out {
            let c = cards::card(id);
            let max = if c.rarity == Rarity::Legendary { 1 } else { 2 };
            if counts[id as usize] > max {
                return Err(DeckError::TooManyCopies { id, name: c.name, count: counts[id as usize], max });
            }
        }
        Ok(Deck { cards: out })
    }

    /// A preset deck by name (exact match, case-insensitive).
    pub fn preset(name: &str) -> Result<Deck, DeckError> {
        let lower = name.trim().to_ascii_lowercase();
        for (n, list) in cards::presets::PRESETS {
            if *n == lower {
                return Ok(Deck { cards: *list });
            }
        }
        Err(DeckError::UnknownPreset { name: name.to_string(), suggestion: closest(&lower) })
    }

    /// Resolves a name to a preset index (0..6).
    pub fn preset_index(name: &str) -> Option<usize> {
        cards::presets::PRESETS.iter().position(|(n, _)| n.eq_ignore_ascii_case(name.trim()))
    }
}

/// The preset name closest to `name` by edit distance, if any is reasonably close.
fn closest(name: &str) -> Option<&'static str> {
    preset_names()
        .map(|n| (edit_distance(name, n), n))
        .filter(|(d, n)| *d <= n.len() / 2 || n.contains(name) && name.len() >= 3)
        .min_by_key(|(d, _)| *d)
        .map(|(_, n)| n)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let sub = prev[j - 1] + (a[i - 1] != b[j - 1]) as usize;
            cur[j] = sub.min(prev[j] + 1).min(cur[j - 1] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_is_a_valid_deck() {
        for (name, list) in cards::presets::PRESETS {
            let ids: Vec<i64> = list.iter().map(|&c| c as i64).collect();
            Deck::from_ids(&ids).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(Deck::preset(name).unwrap().cards, *list);
        }
    }

    #[test]
    fn bad_decks_are_refused_with_a_reason() {
        let good: Vec<i64> = cards::presets::PRESETS[0].1.iter().map(|&c| c as i64).collect();
        assert_eq!(Deck::from_ids(&good[..29]), Err(DeckError::WrongSize { got: 29 }));
        let mut ids = good.clone();
        ids[3] = 99_999;
        assert_eq!(Deck::from_ids(&ids), Err(DeckError::UnknownCard { id: 99_999 }));
        ids[3] = -1;
        assert_eq!(Deck::from_ids(&ids), Err(DeckError::UnknownCard { id: -1 }));
        let token = cards::CARDS.iter().find(|c| c.rarity == Rarity::Token).unwrap();
        ids[3] = token.id as i64;
        assert!(matches!(Deck::from_ids(&ids), Err(DeckError::TokenInDeck { .. })));
        let mut ids = good.clone();
        ids[1] = ids[0];
        ids[2] = ids[0];
        let err = Deck::from_ids(&ids).unwrap_err();
        assert!(matches!(err, DeckError::TooManyCopies { count, .. } if count >= 3), "{err}");
        assert!(err.to_string().contains("at most"), "{err}");
        if let Some(leg) = cards::CARDS.iter().find(|c| c.rarity == Rarity::Legendary) {
            let mut ids = good.clone();
            ids[0] = leg.id as i64;
            ids[1] = leg.id as i64;
            assert!(matches!(Deck::from_ids(&ids), Err(DeckError::TooManyCopies { max: 1, .. })));
        }
        let err = Deck::preset("argentum_contrl").unwrap_err();
        assert!(err.to_string().contains("did you mean \"argentum_control\""), "{err}");
    }
}
