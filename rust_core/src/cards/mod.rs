//! Card definitions: the vocabulary (this file) and the card table (`data.rs`).
//!
//! Cards are data, not control flow: a card is a row of cost, stats, keywords,
//! triggers and effects, and the rules engine interprets the rows. A designer
//! adds a card by adding a row to `data.rs`; nothing in the engine changes.

mod data;
pub mod presets;

use crate::keywords::Keywords;

pub use data::CARDS;
pub(crate) use data::CARD_TABLE;

/// Number of cards (tokens included).
pub const NUM_CARDS: usize = data::CARD_TABLE.len();

/// What the argument of a play action means for a card: the legal-mask's hot
/// loop reads this compact table instead of the full card row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum PlayArg {
    /// An own empty lane (creatures).
    EmptyLane,
    /// An empty support slot (supports).
    SupportSlot,
    /// A targetable enemy creature's lane (spells aimed at enemy creatures).
    EnemyLane,
    /// An own creature's lane (spells aimed at own creatures).
    OwnLane,
    /// Argument 0 only (untargeted spells and spells aimed at a player).
    Zero,
}

/// Per card: essence cost and what its play argument means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlayInfo {
    /// Essence cost.
    pub cost: u8,
    /// Meaning of the play argument.
    pub arg: PlayArg,
}

/// What the target argument of a creature's activated ability may be, for
/// the legal mask's compact table (see [`ABILITY_INFO`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum AbilityArg {
    /// Argument 0 (no target, the creature itself, or the own player).
    Zero,
    /// A targetable enemy creature's lane (arguments 1..=5).
    EnemyLane,
    /// An own creature's lane (arguments 6..=10).
    OwnLane,
    /// The enemy player (argument 11).
    EnemyPlayer,
    /// The card has no activated ability.
    NoAbility,
}

/// Per card: its activated ability's essence cost and target argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AbilityInfo {
    /// Essence cost (0 when there is no ability).
    pub cost: u8,
    /// Meaning of the target argument.
    pub arg: AbilityArg,
}

/// Rows of the per-card tables the legal mask reads ([`PLAY_INFO`],
/// [`ABILITY_INFO`]): a power of two above every id, so `id & 0xFF` indexes
/// them without a bounds check; the rows past the last card are inert.
pub const ID_ROWS: usize = 256;
const _: () = assert!(NUM_CARDS < ID_ROWS);

/// [`AbilityInfo`] for every card (index `id & 0xFF`, see [`ID_ROWS`]),
/// derived from the card table at compile time.
pub static ABILITY_INFO: [AbilityInfo; ID_ROWS] = {
    let mut out = [AbilityInfo { cost: 0, arg: AbilityArg::NoAbility }; ID_ROWS];
    let mut i = 0;
    while i < NUM_CARDS {
        if let Kind::Creature { ability: Some(a), .. } = data::CARD_TABLE[i].kind {
            let arg = match a.target {
                TargetRule::None | TargetRule::OwnPlayer => AbilityArg::Zero,
                TargetRule::EnemyCreature => AbilityArg::EnemyLane,
                TargetRule::OwnCreature => AbilityArg::OwnLane,
                TargetRule::EnemyPlayer => AbilityArg::EnemyPlayer,
            };
            out[i] = AbilityInfo { cost: a.cost, arg };
        }
        i += 1;
    }
    out
};

/// Per card (index `id & 0xFF`, see [`ID_ROWS`]; no trigger past the last
/// card): bit `When as u8` is set when the card has a trigger of that kind.
pub static TRIGGER_KINDS: [u8; ID_ROWS] = {
    let mut out = [0u8; ID_ROWS];
    let mut i = 0;
    while i < NUM_CARDS {
        let triggers = data::CARD_TABLE[i].triggers;
        let mut t = 0;
        while t < triggers.len() {
            out[i] |= 1 << triggers[t].when as u8;
            t += 1;
        }
        i += 1;
    }
    out
};

/// True when every creature card has at least 1 health and no support aura
/// lowers health: a creature then enters play alive and only damage, a
/// health debuff, a destroy or an aura leaving can leave it due to die. The
/// rules engine's death check relies on this (it looks for deaths only after
/// those events), so the card table is checked at compile time.
pub const CREATURES_ENTER_ALIVE: bool = {
    let mut ok = true;
    let mut i = 0;
    while i < NUM_CARDS {
        match data::CARD_TABLE[i].kind {
            Kind::Creature { health, .. } => ok &= health >= 1,
            Kind::Support { aura, .. } => ok &= aura.health >= 0,
            Kind::Spell { .. } => {}
        }
        i += 1;
    }
    ok
};
const _: () = assert!(CREATURES_ENTER_ALIVE, "a creature card with health below 1 or an aura lowering health");

/// [`PlayInfo`] for every card (index `id & 0xFF`, see [`ID_ROWS`]; the rows
/// past the last card cost more than any essence), derived from the card
/// table at compile time.
pub static PLAY_INFO: [PlayInfo; ID_ROWS] = {
    let mut out = [PlayInfo { cost: u8::MAX, arg: PlayArg::Zero }; ID_ROWS];
    let mut i = 0;
    while i < NUM_CARDS {
        let c = &data::CARD_TABLE[i];
        let arg = match c.kind {
            Kind::Creature { .. } => PlayArg::EmptyLane,
            Kind::Support { .. } => PlayArg::SupportSlot,
            Kind::Spell { target: TargetRule::EnemyCreature, .. } => PlayArg::EnemyLane,
            Kind::Spell { target: TargetRule::OwnCreature, .. } => PlayArg::OwnLane,
            Kind::Spell { .. } => PlayArg::Zero,
        };
        out[i] = PlayInfo { cost: c.cost, arg };
        i += 1;
    }
    out
};

/// A card's index in [`CARDS`]. Stable across releases: new cards are appended.
pub type CardId = u16;

/// The card's faction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Faction {
    /// Defence: Guard, Fortify, Shield, Piercing.
    Argentum,
    /// Swarm tempo: Rush, Lethal, Regenerate, Frenzy, Volatile.
    Symbiote,
    /// Burst and drain: Lifesteal, Quick, Stealth, Ephemeral.
    Obsidion,
    /// Utility, usable by every deck: Ranged, Charge, Ward.
    Neutral,
}

impl Faction {
    /// The faction's name.
    pub const fn name(self) -> &'static str {
        match self {
            Faction::Argentum => "Argentum",
            Faction::Symbiote => "Symbiote",
            Faction::Obsidion => "Obsidion",
            Faction::Neutral => "Neutral",
        }
    }
}

/// How many copies a deck may hold, and whether the card can be in a deck at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rarity {
    /// Up to 2 copies per deck.
    Common,
    /// At most 1 copy per deck.
    Legendary,
    /// Made by effects only (`Effect::Summon`); never allowed in a deck.
    Token,
}

/// Who a spell or an activated ability may target. The target is the action's
/// argument (see GAME.md, "Actions").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetRule {
    /// No target (spell argument 0; ability argument 0 = "none or self").
    None,
    /// A non-stealthed enemy creature.
    EnemyCreature,
    /// One of the caster's own creatures.
    OwnCreature,
    /// The enemy player (spell argument 0, ability argument 11).
    EnemyPlayer,
    /// The caster (spell argument 0, ability argument 0).
    OwnPlayer,
}

/// A filter for area effects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Every creature of the side.
    Any,
    /// Creatures whose current health is at most N.
    HealthAtMost(i8),
    /// Creatures that have the keyword (bit index, see [`crate::keywords::Keyword`]).
    HasKeyword(crate::keywords::Keyword),
}

/// What an effect acts on, relative to the effect's owner and source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The target chosen by the action (spells and activated abilities).
    Chosen,
    /// The source creature itself (fizzles if it has left the board).
    This,
    /// The enemy creature in the source creature's lane, if any.
    Opposite,
    /// The source creature's own neighbours (lanes s-1 and s+1).
    Adjacent,
    /// The other creature of a combat event: the defender for `OnAttack`,
    /// the victim for `OnKill`. Fizzles when there is none.
    Other,
    /// Every enemy creature that passes the filter.
    AllEnemies(Filter),
    /// Every own creature that passes the filter (the source included).
    AllAllies(Filter),
    /// Every creature on both boards that passes the filter.
    AllCreatures(Filter),
    /// The owner's opponent.
    EnemyPlayer,
    /// The owner.
    OwnPlayer,
}

/// One effect. Effects resolve one at a time through a first-in first-out queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Deal damage to creatures or a player.
    Damage(Target, i8),
    /// Heal creatures (up to their max health) or a player (up to 30).
    Heal(Target, i8),
    /// Change attack and health (negative values debuff; health buffs raise max health).
    Buff(Target, i8, i8),
    /// The owner draws N cards.
    Draw(u8),
    /// Destroy creatures (death triggers fire).
    Destroy(Target),
    /// Summon N copies of a token into the owner's leftmost empty lanes.
    Summon(CardId, u8),
    /// Grant keywords.
    Grant(Target, Keywords),
    /// Remove keywords.
    Remove(Target, Keywords),
    /// Remove every keyword, trigger and ability (stat changes stay).
    Silence(Target),
    /// The owner gains N essence this turn (above max, up to 10).
    GainEssence(u8),
    /// Return creatures to their owner's hand as fresh cards (a full hand discards them;
    /// tokens vanish).
    ReturnToHand(Target),
}

/// When a triggered ability fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum When {
    /// The card is played from hand.
    OnPlay,
    /// The creature dies.
    OnDeath,
    /// The creature attacks (resolves before combat damage).
    OnAttack,
    /// The creature kills a creature in combat (and survives).
    OnKill,
    /// The creature takes damage and survives.
    OnDamaged,
    /// The owner's turn starts.
    StartOfTurn,
    /// The owner's turn ends.
    EndOfTurn,
    /// Another creature of the same owner dies.
    AllyDies,
}

/// A triggered ability: when it fires, its effects are queued in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    /// The event.
    pub when: When,
    /// The effects, queued in order.
    pub effects: &'static [Effect],
}

/// An activated ability: pay the essence cost (no AP), once per turn per creature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ability {
    /// Essence cost (at least 1).
    pub cost: u8,
    /// Who it may target.
    pub target: TargetRule,
    /// The effects; `Target::Chosen` refers to the chosen target.
    pub effects: &'static [Effect],
}

/// A support's passive aura on its owner's creatures. It leaves with the support.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Aura {
    /// Added to attack.
    pub attack: i8,
    /// Added to health (and max health).
    pub health: i8,
    /// Granted keywords.
    pub keywords: Keywords,
}

/// The card's type and type-specific numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A creature that occupies a lane.
    Creature {
        /// Attack.
        attack: i8,
        /// Health.
        health: i8,
        /// Printed keywords.
        keywords: Keywords,
        /// Optional activated ability.
        ability: Option<Ability>,
    },
    /// A spell: resolves and goes away.
    Spell {
        /// Who it may target.
        target: TargetRule,
        /// The effects.
        effects: &'static [Effect],
    },
    /// A support: occupies a support slot for `durability` of its owner's turns.
    Support {
        /// Loses 1 at each of its owner's end of turn; leaves at 0.
        durability: u8,
        /// Passive aura.
        aura: Aura,
    },
}

/// One card, as a row of data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardDef {
    /// Index in [`CARDS`].
    pub id: CardId,
    /// Unique name.
    pub name: &'static str,
    /// Faction.
    pub faction: Faction,
    /// Deck-building rarity.
    pub rarity: Rarity,
    /// Essence cost (0..=10).
    pub cost: u8,
    /// Type and numbers.
    pub kind: Kind,
    /// Triggered abilities (creatures and supports).
    pub triggers: &'static [Trigger],
    /// Rules text shown to players.
    pub text: &'static str,
}

impl CardDef {
    /// The creature's activated ability, if any.
    pub fn ability(&self) -> Option<&'static Ability> {
        match &CARDS[self.id as usize].kind {
            Kind::Creature { ability: Some(a), .. } => Some(a),
            _ => None,
        }
    }

    /// True for creature cards.
    pub const fn is_creature(&self) -> bool {
        matches!(self.kind, Kind::Creature { .. })
    }
}

/// The card with this id, or `None` for an unknown id.
#[inline]
pub fn get(id: CardId) -> Option<&'static CardDef> {
    CARDS.get(id as usize)
}

/// The card with this id. Panics on an unknown id: engine-internal ids are always valid.
#[inline(always)]
pub fn card(id: CardId) -> &'static CardDef {
    &CARDS[id as usize]
}

/// The card with this exact name.
pub fn by_name(name: &str) -> Option<&'static CardDef> {
    CARDS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests;
