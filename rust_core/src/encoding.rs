//! The 326-float observation, from the perspective of the player to move.
//! Layout, offset by offset: `docs/OBSERVATION.md`. Bump [`OBS_VERSION`]
//! whenever it changes.

use crate::cards::{self, Kind, NUM_CARDS};
use crate::state::{Game, LaneSets, HAND_MAX, LANES, SUPPORT_SLOTS};

const _: () = assert!(3 + 7 + 6 == HAND_OFFSET);

/// Floats in an observation.
pub const OBS_SIZE: usize = 326;
/// Version of the layout below.
pub const OBS_VERSION: u32 = 1;

/// Global features (turn, seat, mode, both players' counters).
pub const GLOBAL_OFFSET: usize = 0;
/// Both hands: mine then the opponent's, 10 cards x 5 features.
pub const HAND_OFFSET: usize = 16;
/// Features per hand card.
pub const HAND_FEATURES: usize = 5;
/// Both boards: mine then the opponent's, 5 lanes x 19 features.
pub const BOARD_OFFSET: usize = HAND_OFFSET + 2 * HAND_MAX * HAND_FEATURES;
/// Features per lane.
pub const SLOT_FEATURES: usize = 3 + 16;
/// Both support rows: mine then the opponent's, 2 slots x 5 features.
pub const SUPPORT_OFFSET: usize = BOARD_OFFSET + 2 * LANES * SLOT_FEATURES;
/// Features per support slot.
pub const SUPPORT_FEATURES: usize = 5;

const _: () = assert!(SUPPORT_OFFSET + 2 * SUPPORT_SLOTS * SUPPORT_FEATURES == OBS_SIZE);

/// A hand card's five features, by card id; the last row (index
/// [`NUM_CARDS`]) is an empty position. Derived from the card table at
/// compile time with the same float operations as a runtime encoder.
static HAND_ROWS: [[f32; HAND_FEATURES]; NUM_CARDS + 1] = {
    let mut t = [[0f32; HAND_FEATURES]; NUM_CARDS + 1];
    let mut i = 0;
    while i < NUM_CARDS {
        let c = &cards::CARD_TABLE[i];
        let cost = c.cost as f32 / 10.0;
        t[i] = match c.kind {
            Kind::Creature { attack, health, .. } => [cost, attack as f32 / 10.0, health as f32 / 10.0, 0.0, 0.0],
            Kind::Spell { .. } => [cost, 0.0, 0.0, 1.0, 0.0],
            Kind::Support { durability, .. } => [cost, 0.0, durability as f32 / 5.0, 0.0, 1.0],
        };
        i += 1;
    }
    t
};

/// A support slot's features but the durability (+1), by card id; all zeros
/// for a card that is not a support and for the last row (an empty slot).
static SUPPORT_ROWS: [[f32; SUPPORT_FEATURES]; NUM_CARDS + 1] = {
    let mut t = [[0f32; SUPPORT_FEATURES]; NUM_CARDS + 1];
    let mut i = 0;
    while i < NUM_CARDS {
        if let Kind::Support { aura, .. } = cards::CARD_TABLE[i].kind {
            let kw = (aura.keywords.0 != 0) as u8 as f32;
            t[i] = [1.0, 0.0, aura.attack as f32 / 3.0, aura.health as f32 / 3.0, kw];
        }
        i += 1;
    }
    t
};

/// Eight keyword bits -> eight floats (1.0 for a set bit, 0.0 otherwise),
/// low bit first (8 KB; only the few keyword sets in play stay in cache).
static KEYWORD_BYTE: [[f32; 8]; 256] = {
    let mut t = [[0f32; 8]; 256];
    let mut n = 0;
    while n < 256 {
        let mut b = 0;
        while b < 8 {
            t[n][b] = (n >> b & 1) as f32;
            b += 1;
        }
        n += 1;
    }
    t
};

/// Denominators of the 16 global features (1 for the seat and the mode).
const GLOBAL_SCALE: [f32; 16] =
    [30.0, 1.0, 1.0, 30.0, 10.0, 10.0, 3.0, 30.0, 10.0, 50.0, 30.0, 10.0, 10.0, 30.0, 10.0, 50.0];

/// Writes the observation of the player to move into `out`.
///
/// Table-driven and branch-free: hand cards and supports are rows looked up
/// by card id (empty positions look up a zero row), keywords are written eight
/// at a time from a byte table, and the divisions are done side by side.
/// The old per-field branches (present or not, which card kind, 16 keyword
/// tests per lane) mispredicted about 18 times per call, which cost more
/// than the work itself.
pub fn observe(g: &Game, out: &mut [f32; OBS_SIZE]) {
    let me = g.active as usize;
    let (mine, foe) = (&g.players[me], &g.players[1 - me]);
    #[cfg(test)]
    assert!(mine.lanes_fresh() && foe.lanes_fresh(), "a board was edited by hand without Game::refresh");

    // The opponent's action points are left over from its last turn and say
    // nothing, so they are not encoded.
    let globals: [f32; 16] = [
        g.turn as f32,
        me as f32,
        g.mode as u8 as f32,
        mine.life as f32,
        mine.essence as f32,
        mine.max_essence as f32,
        mine.ap as f32,
        mine.deck_len as f32,
        mine.hand_len as f32,
        mine.vp as f32,
        foe.life as f32,
        foe.essence as f32,
        foe.max_essence as f32,
        foe.deck_len as f32,
        foe.hand_len as f32,
        foe.vp as f32,
    ];
    for i in 0..16 {
        out[GLOBAL_OFFSET + i] = globals[i] / GLOBAL_SCALE[i];
    }

    // Board stats of both sides (mine first), 0 for an empty lane, divided together.
    let mut stats = [0f32; 4 * LANES];
    for (i, p) in [mine, foe].into_iter().enumerate() {
        for s in 0..LANES {
            let c = &p.board[s];
            let present = c.present() as i16;
            stats[2 * (i * LANES + s)] = (p.attack_of(c) * present) as f32;
            stats[2 * (i * LANES + s) + 1] = (p.health_of(c) * present) as f32;
        }
    }
    for x in &mut stats {
        *x /= 10.0;
    }

    for (i, p) in [mine, foe].into_iter().enumerate() {
        let hand = &mut out[HAND_OFFSET + i * HAND_MAX * HAND_FEATURES..][..HAND_MAX * HAND_FEATURES];
        for (h, o) in hand.chunks_exact_mut(HAND_FEATURES).enumerate() {
            let row = if h < p.hand_len as usize { p.hand[h] as usize } else { NUM_CARDS };
            o.copy_from_slice(&HAND_ROWS[row]);
        }

        // Ready: for my creatures, can attack now; the opponent's are all 1.
        let occupied = p.lane_sets().get(LaneSets::OCCUPIED);
        let ready = if i == 0 { p.lane_sets().get(LaneSets::READY) } else { occupied };
        let board = &mut out[BOARD_OFFSET + i * LANES * SLOT_FEATURES..][..LANES * SLOT_FEATURES];
        for (s, o) in board.chunks_exact_mut(SLOT_FEATURES).enumerate() {
            let c = &p.board[s];
            let kw = p.keywords_of(c).0 as usize & (0usize.wrapping_sub(c.present() as usize));
            o[0] = stats[2 * (i * LANES + s)];
            o[1] = stats[2 * (i * LANES + s) + 1];
            o[2] = (ready >> s & 1) as f32;
            o[3..11].copy_from_slice(&KEYWORD_BYTE[kw & 0xFF]);
            o[11..19].copy_from_slice(&KEYWORD_BYTE[kw >> 8 & 0xFF]);
        }

        let sup = &mut out[SUPPORT_OFFSET + i * SUPPORT_SLOTS * SUPPORT_FEATURES..][..SUPPORT_SLOTS * SUPPORT_FEATURES];
        for (k, o) in sup.chunks_exact_mut(SUPPORT_FEATURES).enumerate() {
            let slot = &p.supports[k];
            let row = if slot.present() { slot.card as usize } else { NUM_CARDS };
            let r = &SUPPORT_ROWS[row];
            o.copy_from_slice(r);
            // Durability only for a support (row present flag 1.0).
            o[1] = (slot.durability as f32 * r[0]) / 5.0;
        }
    }
}

impl Game {
    /// The observation of the player to move.
    pub fn observe(&self, out: &mut [f32; OBS_SIZE]) {
        observe(self, out)
    }

    /// The observation as `seat` (0 or 1) sees the table, whoever is to move:
    /// "me" is `seat`. Used for the final observation of a seat whose
    /// opponent ended the game.
    pub fn observe_as(&self, seat: usize, out: &mut [f32; OBS_SIZE]) {
        let mut view = *self;
        view.active = (seat & 1) as u8;
        observe(&view, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::{Kind, CARDS};
    use crate::decks::Deck;
    use crate::keywords::{Keyword, Keywords};
    use crate::state::{Creature, Mode, Support};

    /// Checks the documented offsets (docs/OBSERVATION.md) on a hand-built table.
    #[test]
    fn offsets_match_the_documentation() {
        let mut g = Game::new(9, Deck { cards: [0; 30] }, Deck { cards: [0; 30] }, Mode::EssenceDuel);
        g.apply(255).unwrap(); // player 1 to move, turn 2
        let me = 1;
        g.players[me].life = 21;
        g.players[0].life = 12;
        g.players[0].vp = 25;
        let mut c = Creature::new(0, 77);
        c.attack = 4;
        c.health = 3;
        c.keywords = Keywords::of(&[Keyword::Guard, Keyword::Ward]);
        c.flags = 0;
        g.players[me].board[2] = c;
        g.players[0].board[4] = c;
        let spell = CARDS.iter().find(|c| matches!(c.kind, Kind::Spell { .. })).unwrap();
        g.players[0].hand[1] = spell.id;
        g.players[0].hand_len = g.players[0].hand_len.max(2);
        let sup = CARDS.iter().find(|c| matches!(c.kind, Kind::Support { .. })).unwrap();
        g.players[0].supports[1] = Support { card: sup.id, durability: 2 };
        g.refresh();

        let mut o = [0f32; OBS_SIZE];
        g.observe(&mut o);
        assert_eq!(o[0], 2.0 / 30.0);
        assert_eq!((o[1], o[2]), (1.0, 1.0));
        assert_eq!(o[3], 21.0 / 30.0);
        assert_eq!((o[10], o[15]), (12.0 / 30.0, 25.0 / 50.0));
        // My lane 2 and the opponent's lane 4.
        let mine = BOARD_OFFSET + 2 * SLOT_FEATURES;
        assert_eq!(&o[mine..mine + 3], &[0.4, 0.3, 1.0]);
        assert_eq!(o[mine + 3 + Keyword::Guard as usize], 1.0);
        assert_eq!(o[mine + 3 + Keyword::Ward as usize], 1.0);
        assert_eq!(o[mine + 3 + Keyword::Rush as usize], 0.0);
        let theirs = BOARD_OFFSET + LANES * SLOT_FEATURES + 4 * SLOT_FEATURES;
        assert_eq!(theirs, 211 + 76);
        assert_eq!(&o[theirs..theirs + 2], &[0.4, 0.3]);
        // The opponent's hand card 1 is a spell.
        let h = HAND_OFFSET + HAND_MAX * HAND_FEATURES + HAND_FEATURES;
        assert_eq!(h, 66 + 5);
        assert_eq!(o[h], spell.cost as f32 / 10.0);
        assert_eq!((o[h + 3], o[h + 4]), (1.0, 0.0));
        // The opponent's support slot 1.
        let s = SUPPORT_OFFSET + SUPPORT_SLOTS * SUPPORT_FEATURES + SUPPORT_FEATURES;
        assert_eq!(s, 316 + 5);
        assert_eq!((o[s], o[s + 1]), (1.0, 2.0 / 5.0));
        assert_eq!((BOARD_OFFSET, SUPPORT_OFFSET), (116, 306));
    }
}
