//! The card table. Placeholder while the full set is written.

use super::*;
use crate::keywords::{Keyword::*, Keywords};

/// Every card, indexed by id.
pub static CARDS: &[CardDef] = &[
    CardDef {
        id: 0,
        name: "Spark",
        faction: Faction::Neutral,
        rarity: Rarity::Token,
        cost: 1,
        kind: Kind::Creature { attack: 1, health: 1, keywords: Keywords::NONE, ability: None },
        triggers: &[],
        text: "",
    },
    CardDef {
        id: 1,
        name: "Test Guard",
        faction: Faction::Argentum,
        rarity: Rarity::Common,
        cost: 2,
        kind: Kind::Creature { attack: 1, health: 3, keywords: Keywords::of(&[Guard]), ability: None },
        triggers: &[],
        text: "Guard",
    },
];
