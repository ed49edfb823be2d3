//! The 326-float observation, from the perspective of the player to move.
//! Layout, offset by offset: `docs/OBSERVATION.md`. Bump [`OBS_VERSION`]
//! whenever it changes.

use crate::actions::can_attack;
use crate::cards::{self, Kind};
use crate::keywords::Keyword;
use crate::state::{Game, Player, HAND_MAX, LANES, SUPPORT_SLOTS};

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

/// Writes the observation of the player to move into `out`.
pub fn observe(g: &Game, out: &mut [f32; OBS_SIZE]) {
    let me = g.active as usize;
    let seats = [me, 1 - me];
    out[0] = g.turn as f32 / 30.0;
    out[1] = me as f32;
    out[2] = g.mode as u8 as f32;
    let mine = &g.players[me];
    let o = &mut out[3..10];
    o[0] = mine.life as f32 / 30.0;
    o[1] = mine.essence as f32 / 10.0;
    o[2] = mine.max_essence as f32 / 10.0;
    o[3] = mine.ap as f32 / 3.0;
    o[4] = mine.deck_len as f32 / 30.0;
    o[5] = mine.hand_len as f32 / 10.0;
    o[6] = mine.vp as f32 / 50.0;
    // The opponent's action points are left over from its last turn and say
    // nothing, so they are not encoded.
    let foe = &g.players[1 - me];
    let o = &mut out[10..16];
    o[0] = foe.life as f32 / 30.0;
    o[1] = foe.essence as f32 / 10.0;
    o[2] = foe.max_essence as f32 / 10.0;
    o[3] = foe.deck_len as f32 / 30.0;
    o[4] = foe.hand_len as f32 / 10.0;
    o[5] = foe.vp as f32 / 50.0;
    for (i, &seat) in seats.iter().enumerate() {
        write_hand(&g.players[seat], &mut out[HAND_OFFSET + i * HAND_MAX * HAND_FEATURES..][..HAND_MAX * HAND_FEATURES]);
        write_board(&g.players[seat], i == 0, &mut out[BOARD_OFFSET + i * LANES * SLOT_FEATURES..][..LANES * SLOT_FEATURES]);
        write_supports(&g.players[seat], &mut out[SUPPORT_OFFSET + i * SUPPORT_SLOTS * SUPPORT_FEATURES..][..SUPPORT_SLOTS * SUPPORT_FEATURES]);
    }
}

#[inline(always)]
fn write_hand(p: &Player, out: &mut [f32]) {
    for h in 0..HAND_MAX {
        let o = &mut out[h * HAND_FEATURES..(h + 1) * HAND_FEATURES];
        if h >= p.hand_len as usize {
            o.fill(0.0);
            continue;
        }
        let c = cards::card(p.hand[h]);
        o[0] = c.cost as f32 / 10.0;
        match c.kind {
            Kind::Creature { attack, health, .. } => {
                o[1] = attack as f32 / 10.0;
                o[2] = health as f32 / 10.0;
                o[3] = 0.0;
                o[4] = 0.0;
            }
            Kind::Spell { .. } => {
                o[1] = 0.0;
                o[2] = 0.0;
                o[3] = 1.0;
                o[4] = 0.0;
            }
            Kind::Support { durability, .. } => {
                o[1] = 0.0;
                o[2] = durability as f32 / 5.0;
                o[3] = 0.0;
                o[4] = 1.0;
            }
        }
    }
}

#[inline(always)]
fn write_board(p: &Player, mine: bool, out: &mut [f32]) {
    for s in 0..LANES {
        let o = &mut out[s * SLOT_FEATURES..(s + 1) * SLOT_FEATURES];
        let c = &p.board[s];
        if !c.present() {
            o.fill(0.0);
            continue;
        }
        o[0] = p.attack_of(c) as f32 / 10.0;
        o[1] = p.health_of(c) as f32 / 10.0;
        o[2] = if mine { can_attack(p, s) as u8 as f32 } else { 1.0 };
        let kw = p.keywords_of(c);
        for k in Keyword::ALL {
            o[3 + k as usize] = kw.has(k) as u8 as f32;
        }
    }
}

#[inline(always)]
fn write_supports(p: &Player, out: &mut [f32]) {
    for s in 0..SUPPORT_SLOTS {
        let o = &mut out[s * SUPPORT_FEATURES..(s + 1) * SUPPORT_FEATURES];
        let sup = &p.supports[s];
        match (sup.present(), sup.present().then(|| cards::card(sup.card).kind)) {
            (true, Some(Kind::Support { aura, .. })) => {
                o[0] = 1.0;
                o[1] = sup.durability as f32 / 5.0;
                o[2] = aura.attack as f32 / 3.0;
                o[3] = aura.health as f32 / 3.0;
                o[4] = (!aura.keywords.is_empty()) as u8 as f32;
            }
            _ => o.fill(0.0),
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
