//! The game state: plain data in fixed-size arrays, so a clone is one memcpy
//! and never touches the heap.

use crate::cards::{self, CardId, Kind, When};
use crate::decks::{Deck, DECK_SIZE};
use crate::keywords::{Keyword, Keywords};
use crate::rng::Rng;

/// Creature slots (lanes) per player.
pub const LANES: usize = 5;
/// Support slots per player.
pub const SUPPORT_SLOTS: usize = 2;
/// Cards a hand can hold; a card drawn into a full hand is discarded.
pub const HAND_MAX: usize = 10;
/// Starting (and maximum) life.
pub const START_LIFE: i16 = 30;
/// Essence cap.
pub const MAX_ESSENCE: u8 = 10;
/// Action points at the start of each turn.
pub const AP_PER_TURN: u8 = 3;
/// The game ends when the turn counter would pass this (15 turns each).
pub const TURN_LIMIT: u16 = 30;
/// Victory points that win an `essence_duel` game.
pub const VP_TO_WIN: i16 = 50;
/// Cards each player draws at the start; player 1 draws `SECOND_PLAYER_BONUS` more.
pub const OPENING_HAND: usize = 4;
/// Extra opening cards for player 1, who moves second.
pub const SECOND_PLAYER_BONUS: usize = 2;

/// Marker for an empty creature or support slot.
pub const EMPTY: CardId = CardId::MAX;

/// Game mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Mode {
    /// Reduce the enemy to 0 life (the default).
    #[default]
    Attrition = 0,
    /// As attrition, and 50 victory points (1 per damage dealt to the enemy player) win at once.
    EssenceDuel = 1,
}

impl Mode {
    /// Parses `"attrition"` or `"essence_duel"`.
    pub fn parse(name: &str) -> Option<Mode> {
        match name.trim().to_ascii_lowercase().as_str() {
            "attrition" => Some(Mode::Attrition),
            "essence_duel" => Some(Mode::EssenceDuel),
            _ => None,
        }
    }

    /// The mode's name.
    pub const fn name(self) -> &'static str {
        match self {
            Mode::Attrition => "attrition",
            Mode::EssenceDuel => "essence_duel",
        }
    }
}

/// How the game stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Outcome {
    /// Still being played.
    #[default]
    Running,
    /// Player 0 or 1 won.
    Winner(u8),
    /// A draw (both at 0 life at once, or equal life at the turn limit).
    Draw,
}

/// Creature flag: entered play this turn (cannot attack without Rush).
pub const F_SUMMONED: u8 = 1;
/// Creature flag: its activated ability was used this turn.
pub const F_ABILITY_USED: u8 = 2;
/// Creature flag: silenced (no triggers, no ability, no keywords).
pub const F_SILENCED: u8 = 4;
/// Creature flag: destroyed, will be removed at the next death check.
pub const F_DOOMED: u8 = 8;
/// Creature flag: its card has an activated ability (cached for the mask).
pub const F_HAS_ABILITY: u8 = 16;

/// A creature on the board. Stats exclude support auras, which are kept per
/// player and added on read (see [`Player::attack_of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Creature {
    /// The card, or [`EMPTY`] for an empty slot.
    pub card: CardId,
    /// A per-game identity, so queued effects find their source after other changes.
    pub uid: u16,
    /// Attack, with buffs (without auras).
    pub attack: i16,
    /// Current health, with buffs and damage (without auras).
    pub health: i16,
    /// Maximum health, with buffs (without auras).
    pub max_health: i16,
    /// Own keywords (printed and granted).
    pub keywords: Keywords,
    /// Keywords taken away (used Shield and Ward, lost Stealth, removals, silence);
    /// they mask aura keywords too.
    pub suppressed: Keywords,
    /// `F_*` flags.
    pub flags: u8,
    /// Attacks made this turn.
    pub attacks: u8,
}

impl Creature {
    /// The empty slot.
    pub const NONE: Creature = Creature {
        card: EMPTY,
        uid: 0,
        attack: 0,
        health: 0,
        max_health: 0,
        keywords: Keywords::NONE,
        suppressed: Keywords::NONE,
        flags: 0,
        attacks: 0,
    };

    /// A fresh creature of `card` entering play this turn.
    pub fn new(card: CardId, uid: u16) -> Creature {
        match cards::card(card).kind {
            Kind::Creature { attack, health, keywords, ability } => Creature {
                card,
                uid,
                attack: attack as i16,
                health: health as i16,
                max_health: health as i16,
                keywords,
                suppressed: Keywords::NONE,
                flags: F_SUMMONED | if ability.is_some() { F_HAS_ABILITY } else { 0 },
                attacks: 0,
            },
            _ => panic!("card {card} is not a creature"),
        }
    }

    /// True when the slot holds a creature.
    #[inline(always)]
    pub const fn present(&self) -> bool {
        self.card != EMPTY
    }

    /// True when the flag is set.
    #[inline(always)]
    pub const fn has_flag(&self, f: u8) -> bool {
        self.flags & f != 0
    }
}

/// A support on the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Support {
    /// The card, or [`EMPTY`].
    pub card: CardId,
    /// Owner's turns left.
    pub durability: u8,
}

impl Support {
    /// The empty slot.
    pub const NONE: Support = Support { card: EMPTY, durability: 0 };

    /// True when the slot holds a support.
    #[inline(always)]
    pub const fn present(&self) -> bool {
        self.card != EMPTY
    }
}

/// Sets of one player's lanes (bit `s` = lane `s`), derived from the board
/// and the player's auras, so the legal mask and the turn, death and
/// keyword rules read a few bits instead of five creatures.
///
/// The rules engine keeps them up to date: an edit of an input of a lane
/// (its card, keywords, suppressed keywords, flags, attacks made, attack;
/// or the auras, which touch every lane) marks the lane, and each action
/// ends by recomputing the marked lanes; reads in the middle of an action
/// (`Player::lane_sets`) recompute marked lanes first. Code that edits a
/// board by hand calls [`Game::refresh`] afterwards. Derived data, not
/// state: equality ignores it.
#[derive(Clone, Copy, Debug, Default)]
pub struct LaneSets {
    /// Set `k` (`LaneSets::OCCUPIED` ...) in bits `5k..5k+5`, lane `s` at bit
    /// `5k + s`; in the same way, at `LaneSets::MARKED`, the lanes whose
    /// inputs changed since the sets were brought up to date (one word, so a
    /// `Game` grows by 8 bytes per player only).
    bits: u64,
}

impl PartialEq for LaneSets {
    fn eq(&self, _: &LaneSets) -> bool {
        true
    }
}

impl Eq for LaneSets {}

impl LaneSets {
    /// The lanes holding a creature.
    pub const OCCUPIED: u32 = 0;
    /// Creatures enemy attacks, spells and abilities may target (not stealthed).
    pub const TARGETABLE: u32 = 1;
    /// Targetable creatures with Guard.
    pub const GUARDS: u32 = 2;
    /// Creatures that may attack now (see [`crate::actions::can_attack`]).
    pub const READY: u32 = 3;
    /// Creatures with Ranged.
    pub const RANGED: u32 = 4;
    /// Creatures whose activated ability is usable this turn (before its cost).
    pub const ABILITY: u32 = 5;
    /// Creatures with Ephemeral.
    pub const EPHEMERAL: u32 = 6;
    /// Creatures with Regenerate.
    pub const REGENERATE: u32 = 7;
    /// Unsilenced creatures with a start-of-turn or end-of-turn trigger.
    pub const TURN_TRIGGERS: u32 = 8;
    /// Unsilenced creatures with an ally-dies trigger.
    pub const ALLY_TRIGGERS: u32 = 9;
    /// Creatures with attack above 0 (with auras): the ready ones once a
    /// turn start readies them (see `Player::ready_all`).
    pub const ARMED: u32 = 10;
    /// Bit of lane 0 in every set.
    const LANE_0: u64 = 0x4_2108_4210_8421;
    /// Not a set of the board: the marked lanes.
    const MARKED: u32 = 11;
    /// The marked lanes' bits.
    const MARKED_BITS: u64 = 0b11111 << (5 * LaneSets::MARKED);

    /// The 5-bit set `k` (one of the constants above).
    #[inline(always)]
    pub const fn get(self, k: u32) -> u32 {
        (self.bits >> (5 * k)) as u32 & 0b11111
    }

    /// The marked lanes.
    #[inline(always)]
    pub(crate) const fn marked(self) -> u32 {
        self.get(LaneSets::MARKED)
    }

    /// Marks the lanes in `lanes` (a 5-bit set).
    #[inline(always)]
    fn mark(&mut self, lanes: u32) {
        self.bits |= (lanes as u64) << (5 * LaneSets::MARKED);
    }
}

/// A creature's keywords -> its lane-0 bits of the [`LaneSets`] sets that
/// follow from keywords alone, as the union of a lookup per byte
/// (`KEYWORD_SETS[0][kw & 0xFF] | KEYWORD_SETS[1][kw >> 8]`), so
/// [`Player::lane_bits`] does not test them keyword by keyword. Ranged,
/// Ephemeral and Regenerate are their sets' bits; targetable (not
/// stealthed) and guards (Guard and targetable) are no unions, so the
/// tables hold Stealth in targetable's bit and Guard in guards' bit, and
/// [`keyword_sets`] turns those into the sets.
static KEYWORD_SETS: [[u64; 256]; 2] = {
    let mut t = [[0u64; 256]; 2];
    let mut v = 0;
    while v < 256 {
        t[0][v] = keyword_flags(v as u16);
        t[1][v] = keyword_flags((v as u16) << 8);
        v += 1;
    }
    t
};

/// The [`KEYWORD_SETS`] flags of keywords `kw`, computed keyword by keyword.
const fn keyword_flags(kw: u16) -> u64 {
    // Keyword `k` of `kw` as lane 0 of set `set`.
    const fn bit(kw: u16, k: Keyword, set: u32) -> u64 {
        ((kw >> k as u16 & 1) as u64) << (5 * set)
    }
    bit(kw, Keyword::Stealth, LaneSets::TARGETABLE)
        | bit(kw, Keyword::Guard, LaneSets::GUARDS)
        | bit(kw, Keyword::Ranged, LaneSets::RANGED)
        | bit(kw, Keyword::Ephemeral, LaneSets::EPHEMERAL)
        | bit(kw, Keyword::Regenerate, LaneSets::REGENERATE)
}

/// The lane-0 bits of the sets that follow from keywords `kw` (see [`KEYWORD_SETS`]).
#[inline(always)]
fn keyword_sets(kw: u16) -> u64 {
    sets_from_flags(KEYWORD_SETS[0][kw as usize & 0xFF] | KEYWORD_SETS[1][kw as usize >> 8])
}

/// [`KEYWORD_SETS`] flags -> the sets: targetable is not stealthed, and a
/// guard only counts when targetable.
#[inline(always)]
const fn sets_from_flags(flags: u64) -> u64 {
    const TARGETABLE: u64 = 1 << (5 * LaneSets::TARGETABLE);
    let stealth = flags & TARGETABLE;
    (flags ^ TARGETABLE) & !(stealth << (5 * (LaneSets::GUARDS - LaneSets::TARGETABLE)))
}

/// The lane-0 bits of the trigger sets (turn triggers, ally triggers) for
/// trigger kinds `kinds` (bit `When as u8`, as in [`cards::TRIGGER_KINDS`]).
const fn trigger_sets(kinds: u64) -> u64 {
    let turn = 1 << When::StartOfTurn as u64 | 1 << When::EndOfTurn as u64;
    ((kinds & turn != 0) as u64) << (5 * LaneSets::TURN_TRIGGERS)
        | (kinds >> When::AllyDies as u64 & 1) << (5 * LaneSets::ALLY_TRIGGERS)
}

/// Per card (index `id & 0xFF`, see [`cards::ID_ROWS`]): the lane-0 bits of
/// the trigger sets of an unsilenced creature of the card, so
/// [`Player::lane_bits`] looks them up rather than testing trigger kinds.
static TRIGGER_SETS: [u64; cards::ID_ROWS] = {
    let mut t = [0u64; cards::ID_ROWS];
    let mut i = 0;
    while i < cards::NUM_CARDS {
        let triggers = cards::CARD_TABLE[i].triggers;
        let (mut kinds, mut k) = (0u64, 0);
        while k < triggers.len() {
            kinds |= 1 << triggers[k].when as u64;
            k += 1;
        }
        t[i] = trigger_sets(kinds);
        i += 1;
    }
    t
};

/// Per creature card (index `id & 0xFF`; 0 for other rows): the lane-0 bits
/// of [`Player::lane_bits`] for a fresh creature of the card
/// ([`Creature::new`]) on a side without auras, so a creature entering play
/// there gets its lane sets by one lookup (see [`Player::summon`]) rather
/// than by a recompute. Checked against `lane_bits` by a unit test.
static FRESH_LANE_BITS: [u64; cards::ID_ROWS] = {
    let mut t = [0u64; cards::ID_ROWS];
    let mut i = 0;
    while i < cards::NUM_CARDS {
        let card = &cards::CARD_TABLE[i];
        if let Kind::Creature { attack, keywords, ability, .. } = card.kind {
            let (mut kinds, mut k) = (0u64, 0);
            while k < card.triggers.len() {
                kinds |= 1 << card.triggers[k].when as u64;
                k += 1;
            }
            // No attack made yet; played this turn, so ready only with Rush.
            let ready = (attack > 0 && keywords.has(Keyword::Rush)) as u64;
            t[i] = sets_from_flags(keyword_flags(keywords.0))
                | trigger_sets(kinds)
                | 1 << (5 * LaneSets::OCCUPIED)
                | ready << (5 * LaneSets::READY)
                | (ability.is_some() as u64) << (5 * LaneSets::ABILITY)
                | ((attack > 0) as u64) << (5 * LaneSets::ARMED);
        }
        i += 1;
    }
    t
};

/// One player's side of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Player {
    /// Life (30 at start, never healed above 30).
    pub life: i16,
    /// Victory points (`essence_duel` only).
    pub vp: i16,
    /// Essence available now.
    pub essence: u8,
    /// Essence refilled each turn (+1 per turn, cap 10).
    pub max_essence: u8,
    /// Action points left this turn.
    pub ap: u8,
    /// Cards in hand.
    pub hand_len: u8,
    /// Cards left in the deck.
    pub deck_len: u8,
    /// The hand, in order; the first `hand_len` entries are cards.
    pub hand: [CardId; HAND_MAX],
    /// The deck; the top card is `deck[deck_len - 1]`.
    pub deck: [CardId; DECK_SIZE],
    /// The lanes.
    pub board: [Creature; LANES],
    /// The support slots.
    pub supports: [Support; SUPPORT_SLOTS],
    /// Sum of the supports' attack auras.
    pub aura_attack: i16,
    /// Sum of the supports' health auras.
    pub aura_health: i16,
    /// Union of the supports' keyword auras.
    pub aura_keywords: Keywords,
    /// Lane sets for the legal mask, derived from `board` and the auras.
    pub(crate) lanes: LaneSets,
}

impl Player {
    fn new(deck: &[CardId; DECK_SIZE]) -> Player {
        Player {
            life: START_LIFE,
            vp: 0,
            essence: 0,
            max_essence: 0,
            ap: 0,
            hand_len: 0,
            deck_len: DECK_SIZE as u8,
            hand: [EMPTY; HAND_MAX],
            deck: *deck,
            board: [Creature::NONE; LANES],
            supports: [Support::NONE; SUPPORT_SLOTS],
            aura_attack: 0,
            aura_health: 0,
            aura_keywords: Keywords::NONE,
            lanes: LaneSets::default(),
        }
    }

    /// The lane's bit in every [`LaneSets`] set (lane `s` of each).
    /// Branch-free: the board changes with every action, so branches on it
    /// would mispredict. The sets that follow from keywords alone are two
    /// table lookups (see [`keyword_sets`]).
    #[inline(always)]
    fn lane_bits(&self, s: usize) -> u64 {
        let c = &self.board[s];
        let kw = self.keywords_of(c).0;
        let bit = |k: Keyword| (kw >> k as u16 & 1) as u64;
        let from_keywords = keyword_sets(kw);
        // As `actions::can_attack`: attacks left (two with Frenzy), attack
        // above 0, and not played this turn unless it has Rush.
        let attacks_left = (c.attacks as u64 <= bit(Keyword::Frenzy)) as u64;
        let fresh = (c.flags & F_SUMMONED == 0) as u64 | bit(Keyword::Rush);
        let armed = (self.attack_of(c) > 0) as u64;
        let ready = attacks_left & armed & fresh;
        let ability = (c.flags & (F_HAS_ABILITY | F_ABILITY_USED | F_SILENCED) == F_HAS_ABILITY) as u64;
        // A silenced creature's triggers do not fire.
        let triggers = TRIGGER_SETS[c.card as usize & (cards::ID_ROWS - 1)] * (c.flags & F_SILENCED == 0) as u64;
        let in_set = |k: u32, b: u64| b << (5 * k);
        let all = from_keywords
            | triggers
            | in_set(LaneSets::OCCUPIED, 1)
            | in_set(LaneSets::READY, ready)
            | in_set(LaneSets::ABILITY, ability)
            | in_set(LaneSets::ARMED, armed);
        // Nothing for an empty lane.
        (all & 0u64.wrapping_sub(c.present() as u64)) << s
    }

    /// The lane sets with every marked lane recomputed (the stored ones when
    /// none is marked, which is always so between actions).
    #[inline(always)]
    pub(crate) fn lane_sets(&self) -> LaneSets {
        let mut sets = self.lanes;
        if sets.marked() != 0 {
            sets = self.recompute_marked(sets);
        }
        sets
    }

    #[inline(never)]
    fn recompute_marked(&self, sets: LaneSets) -> LaneSets {
        self.recompute_marked_inline(sets)
    }

    #[inline(always)]
    fn recompute_marked_inline(&self, mut sets: LaneSets) -> LaneSets {
        let mut marked = sets.marked();
        sets.bits &= !LaneSets::MARKED_BITS;
        while marked != 0 {
            let s = marked.trailing_zeros() as usize;
            marked &= marked - 1;
            sets.bits = (sets.bits & !(LaneSets::LANE_0 << s)) | self.lane_bits(s);
        }
        sets
    }

    /// Recomputes the marked lanes' sets.
    #[inline(always)]
    pub(crate) fn refresh_lanes(&mut self) {
        if self.lanes.marked() != 0 {
            self.lanes = self.recompute_marked_inline(self.lanes);
        }
    }

    /// Empties lane `s` (its creature left play): an empty lane is in no set.
    #[inline(always)]
    pub(crate) fn clear_lane(&mut self, s: usize) {
        self.board[s] = Creature::NONE;
        self.lanes.bits &= !((LaneSets::LANE_0 | 1 << (5 * LaneSets::MARKED)) << s);
    }

    /// Readies every creature at its owner's turn start (attacks made and
    /// the summoned and ability-used flags reset; an empty lane is
    /// `Creature::NONE` and stays so) and updates the lane sets in place: a
    /// creature can attack iff its attack is above 0 (the armed set), its
    /// ability is usable iff it has one and is not silenced; no other set
    /// depends on what changed.
    #[inline(always)]
    pub(crate) fn ready_all(&mut self) {
        let mut ability = 0u64;
        for (s, c) in self.board.iter_mut().enumerate() {
            c.attacks = 0;
            c.flags &= !(F_SUMMONED | F_ABILITY_USED);
            ability |= ((c.flags & (F_HAS_ABILITY | F_SILENCED) == F_HAS_ABILITY) as u64) << s;
        }
        let ready = self.lanes.get(LaneSets::ARMED) as u64;
        let sets = 0b11111 << (5 * LaneSets::READY) | 0b11111 << (5 * LaneSets::ABILITY);
        self.lanes.bits =
            (self.lanes.bits & !sets) | ready << (5 * LaneSets::READY) | ability << (5 * LaneSets::ABILITY);
    }

    /// The creature in lane `s` attacks: one more attack made, and Stealth
    /// lost. Updates its lane sets in place: it is targetable now, a Guard
    /// if it has Guard, and ready only if it was and has an attack left (its
    /// attack, flags and other keywords are what its ready bit was set from;
    /// a lane marked since is recomputed anyway); no other set depends on
    /// what changed.
    #[inline(always)]
    pub(crate) fn attack_with(&mut self, s: usize) {
        let c = &mut self.board[s];
        c.attacks += 1;
        c.keywords = c.keywords.minus(Keyword::Stealth.set());
        c.suppressed = c.suppressed.union(Keyword::Stealth.set());
        let c = &self.board[s];
        let kw = self.keywords_of(c);
        let was_ready = self.lanes.get(LaneSets::READY) >> s & 1 != 0;
        let ready = was_ready & (c.attacks < 1 + kw.has(Keyword::Frenzy) as u8);
        let guard = c.present() & kw.has(Keyword::Guard);
        let sets = 1 << (5 * LaneSets::READY) | 1 << (5 * LaneSets::TARGETABLE) | 1 << (5 * LaneSets::GUARDS);
        let bits = (ready as u64) << (5 * LaneSets::READY)
            | (c.present() as u64) << (5 * LaneSets::TARGETABLE)
            | (guard as u64) << (5 * LaneSets::GUARDS);
        self.lanes.bits = (self.lanes.bits & !(sets << s)) | bits << s;
    }

    /// The creature in lane `s` uses its activated ability (once per turn):
    /// it leaves the ability set, in place; no other set reads that flag.
    #[inline(always)]
    pub(crate) fn spend_ability(&mut self, s: usize) {
        self.board[s].flags |= F_ABILITY_USED;
        self.lanes.bits &= !(1 << (5 * LaneSets::ABILITY + s as u32));
    }

    /// Marks lane `s`: one of its lane-set inputs is about to change.
    #[inline(always)]
    pub(crate) fn mark(&mut self, s: usize) {
        self.lanes.mark(1 << s);
    }

    /// The creature in lane `s`, to edit an input of its lane sets (marks the lane).
    #[inline(always)]
    pub(crate) fn lane_mut(&mut self, s: usize) -> &mut Creature {
        self.mark(s);
        &mut self.board[s]
    }

    /// A fresh creature of `card` ([`Creature::new`]) enters the empty lane
    /// `s`. Without auras its lane sets follow from the card alone and are
    /// looked up ([`FRESH_LANE_BITS`]); otherwise the lane is marked.
    #[inline(always)]
    pub(crate) fn summon(&mut self, s: usize, card: CardId, uid: u16) {
        self.board[s] = Creature::new(card, uid);
        if self.aura_attack == 0 && self.aura_keywords.is_empty() {
            let bits = FRESH_LANE_BITS[card as usize & (cards::ID_ROWS - 1)];
            self.lanes.bits = (self.lanes.bits & !(LaneSets::LANE_0 << s)) | bits << s;
        } else {
            self.mark(s);
        }
    }

    /// True when the lane sets (the stored ones, with the marked lanes
    /// recomputed) are what the board says. For tests and debug checks: false
    /// means an edit of the board or the auras that did not mark its lanes
    /// (by hand, without [`Game::refresh`]).
    pub fn lanes_fresh(&self) -> bool {
        let mut all = self.lanes;
        all.mark(0b11111);
        self.lane_sets().bits == self.recompute_marked(all).bits
    }

    /// The creature's attack with auras (never below 0).
    #[inline(always)]
    pub fn attack_of(&self, c: &Creature) -> i16 {
        (c.attack + self.aura_attack).max(0)
    }

    /// The creature's health with auras.
    #[inline(always)]
    pub fn health_of(&self, c: &Creature) -> i16 {
        c.health + self.aura_health
    }

    /// The creature's keywords with auras, less the suppressed ones.
    #[inline(always)]
    pub fn keywords_of(&self, c: &Creature) -> Keywords {
        c.keywords.union(self.aura_keywords).minus(c.suppressed)
    }

    /// True when the creature in `slot` has keyword `k` (false for an empty slot).
    #[inline(always)]
    pub fn slot_has(&self, slot: usize, k: Keyword) -> bool {
        let c = &self.board[slot];
        c.present() && self.keywords_of(c).has(k)
    }

    /// Recomputes the aura sums from the supports.
    pub fn recompute_auras(&mut self) {
        let (mut a, mut h, mut k) = (0, 0, Keywords::NONE);
        for s in self.supports.iter().filter(|s| s.present()) {
            if let Kind::Support { aura, .. } = cards::card(s.card).kind {
                a += aura.attack as i16;
                h += aura.health as i16;
                k = k.union(aura.keywords);
            }
        }
        // The attack and keyword auras are inputs of every creature's sets (an
        // empty lane is in no set); the health aura is none, and a support
        // without an attack or keyword aura changes neither.
        if (a, k) != (self.aura_attack, self.aura_keywords) {
            self.lanes.mark(self.lanes.get(LaneSets::OCCUPIED));
        }
        self.aura_attack = a;
        self.aura_health = h;
        self.aura_keywords = k;
    }

    /// Draws the top card; a full hand discards it, an empty deck does nothing.
    pub fn draw(&mut self) {
        if self.deck_len == 0 {
            return;
        }
        self.deck_len -= 1;
        let c = self.deck[self.deck_len as usize];
        self.deck[self.deck_len as usize] = EMPTY;
        if (self.hand_len as usize) < HAND_MAX {
            self.hand[self.hand_len as usize] = c;
            self.hand_len += 1;
        }
    }

    /// Adds a card to the hand if there is room; returns false when it was discarded.
    pub fn add_to_hand(&mut self, c: CardId) -> bool {
        if (self.hand_len as usize) < HAND_MAX {
            self.hand[self.hand_len as usize] = c;
            self.hand_len += 1;
            true
        } else {
            false
        }
    }

    /// Removes and returns the hand card at `i`, keeping the others in order.
    pub fn take_from_hand(&mut self, i: usize) -> CardId {
        let c = self.hand[i];
        let n = self.hand_len as usize;
        assert!(i < n, "hand position {i} of {n}");
        // Positions i..n-1 take their right neighbour's card: a fixed-length
        // select rather than a variable-length copy (a call to memmove).
        // `i <= j < n - 1` as one unsigned compare (it wraps below `i`), so
        // the compiler makes the loop a few vector instructions.
        let old = self.hand;
        let moved = (n - 1 - i) as u16;
        for j in 0..HAND_MAX - 1 {
            self.hand[j] = if (j as u16).wrapping_sub(i as u16) < moved { old[j + 1] } else { old[j] };
        }
        self.hand[n - 1] = EMPTY;
        self.hand_len -= 1;
        c
    }

    /// The cards in hand.
    pub fn hand(&self) -> &[CardId] {
        &self.hand[..self.hand_len as usize]
    }
}

/// A whole game: both players, whose move it is, the turn counter, the mode,
/// the outcome, and the two deck lists (kept so `reset` can deal again).
///
/// Plain data: `Clone` is a memcpy of a few hundred bytes, and a clone is
/// fully independent of its original. The fields are public to read; a
/// position edited by hand (a creature placed, a keyword or flag changed, a
/// support swapped) needs [`Game::refresh`] before the next legal mask,
/// which debug builds check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Game {
    /// Both players, by seat.
    pub players: [Player; 2],
    /// The seat to move (0 or 1).
    pub active: u8,
    /// Player-turns started so far (1 on player 0's first turn).
    pub turn: u16,
    /// Next creature identity.
    pub next_uid: u16,
    /// The mode.
    pub mode: Mode,
    /// How the game stands.
    pub outcome: Outcome,
    /// The seed of the current deal.
    pub seed: u64,
    /// Actions applied since the deal.
    pub actions: u32,
    /// The deck lists, by seat.
    pub decks: [Deck; 2],
}

impl Game {
    /// A new game: shuffles both decks from `seed`, deals the opening hands
    /// (player 1 gets two extra cards) and starts player 0's first turn.
    pub fn new(seed: u64, deck0: Deck, deck1: Deck, mode: Mode) -> Game {
        let mut g = Game {
            players: [Player::new(&deck0.cards), Player::new(&deck1.cards)],
            active: 0,
            turn: 0,
            next_uid: 1,
            mode,
            outcome: Outcome::Running,
            seed,
            actions: 0,
            decks: [deck0, deck1],
        };
        g.deal(seed);
        g
    }

    /// Deals a new game with the same decks and mode from `seed`.
    pub fn reset(&mut self, seed: u64) {
        *self = Game::new(seed, self.decks[0], self.decks[1], self.mode);
    }

    fn deal(&mut self, seed: u64) {
        let mut rng = Rng::new(seed);
        for p in 0..2 {
            rng.shuffle(&mut self.players[p].deck);
        }
        for _ in 0..OPENING_HAND {
            self.players[0].draw();
            self.players[1].draw();
        }
        for _ in 0..SECOND_PLAYER_BONUS {
            self.players[1].draw();
        }
        crate::rules::start_turn(self);
    }

    /// Brings the derived data (each player's [`LaneSets`]) up to date after
    /// the board, the supports or the auras were edited by hand. The rules
    /// engine keeps them up to date on its own; only hand-made positions
    /// (tests, puzzles) need this.
    pub fn refresh(&mut self) {
        for p in &mut self.players {
            p.lanes.mark(0b11111);
            p.refresh_lanes();
        }
    }

    /// The seat to move.
    #[inline(always)]
    pub fn current_player(&self) -> usize {
        self.active as usize
    }

    /// True once the game has ended.
    #[inline(always)]
    pub fn is_over(&self) -> bool {
        self.outcome != Outcome::Running
    }

    /// The winner's seat, or `None` for a draw or a running game.
    pub fn winner(&self) -> Option<usize> {
        match self.outcome {
            Outcome::Winner(p) => Some(p as usize),
            _ => None,
        }
    }

    /// The final reward for `seat`: +1 win, -1 loss, 0 draw or still running.
    pub fn reward(&self, seat: usize) -> f32 {
        match self.outcome {
            Outcome::Winner(p) if p as usize == seat => 1.0,
            Outcome::Winner(_) => -1.0,
            _ => 0.0,
        }
    }

    /// Finds a creature by identity: `(seat, slot)`.
    #[inline]
    pub fn find(&self, uid: u16) -> Option<(usize, usize)> {
        if uid == 0 {
            return None;
        }
        for p in 0..2 {
            for s in 0..LANES {
                let c = &self.players[p].board[s];
                if c.uid == uid && c.present() {
                    return Some((p, s));
                }
            }
        }
        None
    }
}
