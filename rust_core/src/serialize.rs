//! A compact, versioned binary snapshot of a whole [`Game`], and a text
//! rendering of the table.
//!
//! # Binary format (version 1)
//!
//! Every integer is little-endian; there is no padding. Field by field:
//!
//! | bytes | field |
//! |---|---|
//! | 4 | magic `b"EWGS"` |
//! | 2 | format version (`u16`, = [`FORMAT_VERSION`]) |
//! | 4 | total length in bytes (`u32`, = [`STATE_BYTES`]) |
//! | 1 | mode (0 attrition, 1 essence_duel) |
//! | 1 | outcome (0 running, 1 player 0 won, 2 player 1 won, 3 draw) |
//! | 1 | seat to move (0 or 1) |
//! | 2 | turn counter (`u16`) |
//! | 2 | next creature uid (`u16`) |
//! | 8 | seed of the deal (`u64`) |
//! | 4 | actions applied since the deal (`u32`) |
//! | 2 x 30 x 2 | the two deck lists (card ids, `u16`) |
//! | 2 x 181 | the two players, seat 0 first (below) |
//! | 8 | FNV-1a 64 checksum of every byte before it |
//!
//! A player: life `i16`, victory points `i16`, essence `u8`, max essence `u8`,
//! AP `u8`, hand length `u8`, deck length `u8`, hand 10 x `u16`, deck 30 x `u16`,
//! 5 creatures, 2 supports (card `u16`, durability `u8`), aura attack `i16`,
//! aura health `i16`, aura keywords `u16`.
//!
//! A creature (16 bytes): card `u16` (`0xFFFF` = empty), uid `u16`, attack `i16`,
//! health `i16`, max health `i16`, keywords `u16`, suppressed keywords `u16`,
//! flags `u8`, attacks this turn `u8`.
//!
//! [`decode`] checks the length, magic, version, checksum, every enum and
//! count, every card id (known, and of the right type for where it sits), the
//! empty padding of hands, decks and slots, unique creature uids, and the
//! aura sums; it never returns a state the engine could panic on.

use crate::cards::{self, CardId, Kind};
use crate::decks::{Deck, DECK_SIZE};
use crate::keywords::{Keyword, Keywords};
use crate::state::*;
use std::fmt;
use std::fmt::Write as _;

/// The first four bytes of every snapshot.
pub const MAGIC: [u8; 4] = *b"EWGS";
/// The format version written by [`encode`] and the only one [`decode`] reads.
pub const FORMAT_VERSION: u16 = 1;

const HEADER_BYTES: usize = 4 + 2 + 4;
const CREATURE_BYTES: usize = 16;
const SUPPORT_BYTES: usize = 3;
const PLAYER_BYTES: usize =
    2 + 2 + 5 + 2 * HAND_MAX + 2 * DECK_SIZE + CREATURE_BYTES * LANES + SUPPORT_BYTES * SUPPORT_SLOTS + 6;
const BODY_BYTES: usize = 3 + 2 + 2 + 8 + 4 + 2 * 2 * DECK_SIZE + 2 * PLAYER_BYTES;
/// The exact length of a version-1 snapshot.
pub const STATE_BYTES: usize = HEADER_BYTES + BODY_BYTES + 8;

/// All flag bits a creature may carry.
const KNOWN_FLAGS: u8 = F_SUMMONED | F_ABILITY_USED | F_SILENCED | F_DOOMED | F_HAS_ABILITY;

/// Why a snapshot was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer does not have the expected length.
    WrongLength { expected: usize, got: usize },
    /// The buffer does not start with `EWGS`.
    BadMagic,
    /// A format version this build cannot read.
    UnsupportedVersion { got: u16, supported: u16 },
    /// The checksum does not match: the bytes were changed or truncated.
    Checksum,
    /// A field holds a value outside its range.
    BadField { field: &'static str, value: i64 },
    /// A card id not in the catalogue, or of the wrong type for where it sits.
    BadCard { field: &'static str, id: u16 },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::WrongLength { expected, got } => {
                write!(f, "a game snapshot is {expected} bytes, got {got}")
            }
            DecodeError::BadMagic => write!(f, "not an Essence Wars game snapshot (bad magic; expected \"EWGS\")"),
            DecodeError::UnsupportedVersion { got, supported } => write!(
                f,
                "snapshot format version {got} is not supported (this build reads version {supported})"
            ),
            DecodeError::Checksum => write!(f, "snapshot checksum mismatch: the bytes are corrupt"),
            DecodeError::BadField { field, value } => {
                write!(f, "snapshot field {field} has an invalid value {value}")
            }
            DecodeError::BadCard { field, id } => write!(
                f,
                "snapshot field {field} holds card id {id}, which is unknown or of the wrong type (catalogue has {} cards)",
                cards::CARDS.len()
            ),
        }
    }
}

impl std::error::Error for DecodeError {}

/// FNV-1a, 64 bits: tiny, dependency-free, good enough to catch corruption.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

// ---------------------------------------------------------------------------
// Encoding.

struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn i16(&mut self, v: i16) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
}

fn outcome_code(o: Outcome) -> u8 {
    match o {
        Outcome::Running => 0,
        Outcome::Winner(0) => 1,
        Outcome::Winner(_) => 2,
        Outcome::Draw => 3,
    }
}

/// The snapshot of a game: exactly [`STATE_BYTES`] bytes.
pub fn encode(g: &Game) -> Vec<u8> {
    let mut w = Writer { buf: Vec::with_capacity(STATE_BYTES) };
    w.buf.extend_from_slice(&MAGIC);
    w.u16(FORMAT_VERSION);
    w.u32(STATE_BYTES as u32);
    w.u8(g.mode as u8);
    w.u8(outcome_code(g.outcome));
    w.u8(g.active);
    w.u16(g.turn);
    w.u16(g.next_uid);
    w.u64(g.seed);
    w.u32(g.actions);
    for d in &g.decks {
        for &c in &d.cards {
            w.u16(c);
        }
    }
    for p in &g.players {
        w.i16(p.life);
        w.i16(p.vp);
        w.u8(p.essence);
        w.u8(p.max_essence);
        w.u8(p.ap);
        w.u8(p.hand_len);
        w.u8(p.deck_len);
        for &c in &p.hand {
            w.u16(c);
        }
        for &c in &p.deck {
            w.u16(c);
        }
        for c in &p.board {
            w.u16(c.card);
            w.u16(c.uid);
            w.i16(c.attack);
            w.i16(c.health);
            w.i16(c.max_health);
            w.u16(c.keywords.0);
            w.u16(c.suppressed.0);
            w.u8(c.flags);
            w.u8(c.attacks);
        }
        for s in &p.supports {
            w.u16(s.card);
            w.u8(s.durability);
        }
        w.i16(p.aura_attack);
        w.i16(p.aura_health);
        w.u16(p.aura_keywords.0);
    }
    let sum = fnv1a64(&w.buf);
    w.u64(sum);
    debug_assert_eq!(w.buf.len(), STATE_BYTES);
    w.buf
}

// ---------------------------------------------------------------------------
// Decoding.

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        // The caller checked the total length first, so this never runs past the end.
        let mut out = [0u8; N];
        out.copy_from_slice(&self.buf[self.pos..self.pos + N]);
        self.pos += N;
        out
    }
    fn u8(&mut self) -> u8 {
        self.take::<1>()[0]
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }
    fn i16(&mut self) -> i16 {
        i16::from_le_bytes(self.take())
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }
    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

fn check(ok: bool, field: &'static str, value: i64) -> Result<(), DecodeError> {
    if ok {
        Ok(())
    } else {
        Err(DecodeError::BadField { field, value })
    }
}

fn known_card(field: &'static str, id: CardId) -> Result<&'static cards::CardDef, DecodeError> {
    cards::get(id).ok_or(DecodeError::BadCard { field, id })
}

/// Reads a snapshot written by [`encode`], validating everything (see the module docs).
pub fn decode(bytes: &[u8]) -> Result<Game, DecodeError> {
    if bytes.len() >= 6 && bytes[..4] == MAGIC {
        let version = u16::from_le_bytes([bytes[4], bytes[5]]);
        if version != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion { got: version, supported: FORMAT_VERSION });
        }
    }
    if bytes.len() != STATE_BYTES {
        if bytes.len() >= 4 && bytes[..4] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        return Err(DecodeError::WrongLength { expected: STATE_BYTES, got: bytes.len() });
    }
    let mut r = Reader { buf: bytes, pos: 0 };
    if r.take::<4>() != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let _version = r.u16();
    let declared = r.u32();
    check(declared as usize == STATE_BYTES, "length", declared as i64)?;
    let body_end = STATE_BYTES - 8;
    let stored_sum = u64::from_le_bytes(bytes[body_end..].try_into().expect("8 bytes"));
    if fnv1a64(&bytes[..body_end]) != stored_sum {
        return Err(DecodeError::Checksum);
    }

    let mode = match r.u8() {
        0 => Mode::Attrition,
        1 => Mode::EssenceDuel,
        v => return Err(DecodeError::BadField { field: "mode", value: v as i64 }),
    };
    let outcome = match r.u8() {
        0 => Outcome::Running,
        1 => Outcome::Winner(0),
        2 => Outcome::Winner(1),
        3 => Outcome::Draw,
        v => return Err(DecodeError::BadField { field: "outcome", value: v as i64 }),
    };
    let active = r.u8();
    check(active <= 1, "active", active as i64)?;
    let turn = r.u16();
    check(turn <= TURN_LIMIT + 1, "turn", turn as i64)?;
    let next_uid = r.u16();
    check(next_uid != 0, "next_uid", 0)?;
    let seed = r.u64();
    let actions = r.u32();

    let mut decks = [Deck { cards: [0; DECK_SIZE] }; 2];
    for d in &mut decks {
        for c in &mut d.cards {
            *c = r.u16();
            let card = known_card("deck list", *c)?;
            if card.rarity == cards::Rarity::Token {
                return Err(DecodeError::BadCard { field: "deck list", id: *c });
            }
        }
    }

    let mut players = [Player {
        life: 0,
        vp: 0,
        essence: 0,
        max_essence: 0,
        ap: 0,
        hand_len: 0,
        deck_len: 0,
        hand: [EMPTY; HAND_MAX],
        deck: [EMPTY; DECK_SIZE],
        board: [Creature::NONE; LANES],
        supports: [Support::NONE; SUPPORT_SLOTS],
        aura_attack: 0,
        aura_health: 0,
        aura_keywords: Keywords::NONE,
        lanes: Default::default(),
    }; 2];
    let mut uids: Vec<u16> = Vec::with_capacity(2 * LANES);
    for p in &mut players {
        p.life = r.i16();
        check(p.life <= START_LIFE, "life", p.life as i64)?;
        p.vp = r.i16();
        check(p.vp >= 0, "vp", p.vp as i64)?;
        p.essence = r.u8();
        check(p.essence <= MAX_ESSENCE, "essence", p.essence as i64)?;
        p.max_essence = r.u8();
        check(p.max_essence <= MAX_ESSENCE, "max_essence", p.max_essence as i64)?;
        p.ap = r.u8();
        check(p.ap <= AP_PER_TURN, "ap", p.ap as i64)?;
        p.hand_len = r.u8();
        check(p.hand_len as usize <= HAND_MAX, "hand_len", p.hand_len as i64)?;
        p.deck_len = r.u8();
        check(p.deck_len as usize <= DECK_SIZE, "deck_len", p.deck_len as i64)?;
        for (i, c) in p.hand.iter_mut().enumerate() {
            *c = r.u16();
            if i < p.hand_len as usize {
                known_card("hand", *c)?;
            } else {
                check(*c == EMPTY, "hand padding", *c as i64)?;
            }
        }
        for (i, c) in p.deck.iter_mut().enumerate() {
            *c = r.u16();
            if i < p.deck_len as usize {
                known_card("deck", *c)?;
            } else {
                check(*c == EMPTY, "deck padding", *c as i64)?;
            }
        }
        for c in &mut p.board {
            c.card = r.u16();
            c.uid = r.u16();
            c.attack = r.i16();
            c.health = r.i16();
            c.max_health = r.i16();
            c.keywords = Keywords(r.u16());
            c.suppressed = Keywords(r.u16());
            c.flags = r.u8();
            c.attacks = r.u8();
            if c.card == EMPTY {
                check(*c == Creature::NONE, "empty creature slot", c.uid as i64)?;
                continue;
            }
            let def = known_card("board", c.card)?;
            if !def.is_creature() {
                return Err(DecodeError::BadCard { field: "board", id: c.card });
            }
            // The cached has-ability flag must agree with the card.
            let has = if def.ability().is_some() { F_HAS_ABILITY } else { 0 };
            check(c.flags & F_HAS_ABILITY == has, "creature ability flag", c.flags as i64)?;
            check(c.uid != 0 && !uids.contains(&c.uid), "creature uid", c.uid as i64)?;
            uids.push(c.uid);
            check(c.attack >= 0, "creature attack", c.attack as i64)?;
            check(c.flags & !KNOWN_FLAGS == 0, "creature flags", c.flags as i64)?;
            check(c.attacks <= 2, "creature attacks", c.attacks as i64)?;
        }
        for s in &mut p.supports {
            s.card = r.u16();
            s.durability = r.u8();
            if s.card == EMPTY {
                check(s.durability == 0, "empty support durability", s.durability as i64)?;
                continue;
            }
            match known_card("support", s.card)?.kind {
                Kind::Support { .. } => {}
                _ => return Err(DecodeError::BadCard { field: "support", id: s.card }),
            }
            check(s.durability >= 1, "support durability", s.durability as i64)?;
        }
        p.aura_attack = r.i16();
        p.aura_health = r.i16();
        p.aura_keywords = Keywords(r.u16());
        let mut expected = *p;
        expected.recompute_auras();
        check(
            (expected.aura_attack, expected.aura_health, expected.aura_keywords)
                == (p.aura_attack, p.aura_health, p.aura_keywords),
            "aura sums",
            p.aura_attack as i64,
        )?;
    }
    debug_assert_eq!(r.pos, body_end);
    let mut g = Game { players, active, turn, next_uid, mode, outcome, seed, actions, decks };
    g.refresh();
    Ok(g)
}

// ---------------------------------------------------------------------------
// Text rendering.

fn keyword_list(k: Keywords) -> String {
    k.iter().map(Keyword::name).collect::<Vec<_>>().join(",")
}

/// A human-readable picture of the table: status line, then each player's
/// counters, supports, lanes and hand (both hands are public in this game).
pub fn render(g: &Game) -> String {
    let mut s = String::new();
    let status = match g.outcome {
        Outcome::Running => format!("player {} to move", g.active),
        Outcome::Winner(p) => format!("game over: player {p} wins"),
        Outcome::Draw => "game over: draw".to_string(),
    };
    let _ = writeln!(s, "Essence Wars | {} | turn {}/{} | {}", g.mode.name(), g.turn, TURN_LIMIT, status);
    for seat in 0..2 {
        let p = &g.players[seat];
        let marker = if g.active as usize == seat && !g.is_over() { '>' } else { ' ' };
        let _ = write!(
            s,
            "{marker} P{seat}: life {:>2}  essence {}/{}  AP {}  deck {:>2}  hand {}",
            p.life, p.essence, p.max_essence, p.ap, p.deck_len, p.hand_len
        );
        if g.mode == Mode::EssenceDuel {
            let _ = write!(s, "  VP {}", p.vp);
        }
        s.push('\n');
        let supports: Vec<String> = p
            .supports
            .iter()
            .map(|sup| {
                if sup.present() {
                    format!("{} ({} left)", cards::card(sup.card).name, sup.durability)
                } else {
                    "-".to_string()
                }
            })
            .collect();
        let _ = writeln!(s, "    supports: {}", supports.join(" | "));
        for lane in 0..LANES {
            let c = &p.board[lane];
            if !c.present() {
                let _ = writeln!(s, "    lane {lane}: -");
                continue;
            }
            let kw = keyword_list(p.keywords_of(c));
            let mut state = Vec::new();
            if c.has_flag(F_SUMMONED) {
                state.push("new");
            }
            if c.attacks > 0 {
                state.push("attacked");
            }
            if c.has_flag(F_SILENCED) {
                state.push("silenced");
            }
            let _ = writeln!(
                s,
                "    lane {lane}: {} {}/{}{}{}",
                cards::card(c.card).name,
                p.attack_of(c),
                p.health_of(c),
                if kw.is_empty() { String::new() } else { format!(" [{kw}]") },
                if state.is_empty() { String::new() } else { format!(" ({})", state.join(", ")) },
            );
        }
        let hand: Vec<String> = p
            .hand()
            .iter()
            .map(|&id| {
                let c = cards::card(id);
                match c.kind {
                    Kind::Creature { attack, health, .. } => format!("{} ({}: {}/{})", c.name, c.cost, attack, health),
                    Kind::Spell { .. } => format!("{} ({}: spell)", c.name, c.cost),
                    Kind::Support { durability, .. } => format!("{} ({}: support {})", c.name, c.cost, durability),
                }
            })
            .collect();
        let _ = writeln!(s, "    hand: {}", if hand.is_empty() { "-".to_string() } else { hand.join(", ") });
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bots::{Bot, RandomBot};

    fn deck() -> Deck {
        let presets = crate::cards::presets::PRESETS;
        Deck { cards: presets[0].1 }
    }

    fn played(seed: u64, steps: usize) -> Game {
        let mut g = Game::new(seed, deck(), deck(), Mode::EssenceDuel);
        let mut bot = RandomBot::new(seed ^ 77);
        for _ in 0..steps {
            if g.is_over() {
                break;
            }
            let a = bot.choose(&g);
            g.apply(a as u16).unwrap();
        }
        g
    }

    #[test]
    fn round_trip_is_exact_at_every_step() {
        for seed in 0..20 {
            for steps in [0, 1, 5, 20, 60, 400] {
                let g = played(seed, steps);
                let bytes = encode(&g);
                assert_eq!(bytes.len(), STATE_BYTES);
                assert_eq!(&bytes[..4], b"EWGS");
                assert_eq!(decode(&bytes).unwrap(), g);
            }
        }
    }

    #[test]
    fn garbage_is_rejected_with_a_reason() {
        let g = played(3, 30);
        let bytes = encode(&g);
        assert_eq!(decode(&bytes[..10]), Err(DecodeError::WrongLength { expected: STATE_BYTES, got: 10 }));
        assert_eq!(decode(&[0u8; STATE_BYTES]), Err(DecodeError::BadMagic));
        assert_eq!(decode(b"hello"), Err(DecodeError::BadMagic));
        assert_eq!(decode(b"EW"), Err(DecodeError::WrongLength { expected: STATE_BYTES, got: 2 }));
        let mut v = bytes.clone();
        v[4] = 9;
        assert_eq!(decode(&v), Err(DecodeError::UnsupportedVersion { got: 9, supported: 1 }));
        // Flipping any single body byte breaks the checksum.
        for i in HEADER_BYTES..STATE_BYTES {
            let mut v = bytes.clone();
            v[i] ^= 0x5a;
            assert!(decode(&v).is_err(), "byte {i}");
        }
        // A consistent checksum over an out-of-range field is still refused.
        let mut v = bytes.clone();
        v[HEADER_BYTES] = 7; // mode
        let sum = fnv1a64(&v[..STATE_BYTES - 8]);
        v[STATE_BYTES - 8..].copy_from_slice(&sum.to_le_bytes());
        assert_eq!(decode(&v), Err(DecodeError::BadField { field: "mode", value: 7 }));
        let msg = decode(&v).unwrap_err().to_string();
        assert!(msg.contains("mode"), "{msg}");
    }

    #[test]
    fn render_names_both_players() {
        let g = played(5, 25);
        let text = render(&g);
        assert!(text.contains("P0:") && text.contains("P1:"), "{text}");
        assert!(text.contains("turn"), "{text}");
    }
}
