//! Which card sits in every slot of the observation, as small integers, for
//! networks that learn one embedding per card.
//!
//! The 326-float observation describes a card by its numbers and keywords
//! only (`docs/OBSERVATION.md`): two spells of the same cost look the same.
//! This companion view names each card: 34 `u16` values in the same order
//! and from the same perspective (the player to move first) as the
//! observation's hand, lane and support blocks. `0` is an empty position;
//! otherwise the value is the card's id + 1, so it indexes an embedding table
//! of [`CARD_ID_VOCAB`] rows directly. Card ids are stable across releases
//! (new cards are appended), so a trained embedding stays valid.
//!
//! | offset | what |
//! |---|---|
//! | 0..10 | my hand, card h at h (the index of the play actions) |
//! | 10..20 | the opponent's hand |
//! | 20..25 | my lanes 0..4 |
//! | 25..30 | the opponent's lanes |
//! | 30..32 | my support slots |
//! | 32..34 | the opponent's support slots |

use crate::cards::NUM_CARDS;
use crate::state::{Game, HAND_MAX, LANES, SUPPORT_SLOTS};

/// Values per game.
pub const CARD_ID_SLOTS: usize = 2 * (HAND_MAX + LANES + SUPPORT_SLOTS);
/// Rows an embedding table needs: every card id + 1, and 0 for empty.
pub const CARD_ID_VOCAB: usize = NUM_CARDS + 1;

const _: () = assert!(CARD_ID_SLOTS == 34);
const _: () = assert!(CARD_ID_VOCAB <= u16::MAX as usize);

/// Writes the card ids (+1, 0 = empty) of the table as `seat` sees it: `seat`'s
/// hand, lanes and supports first, then the opponent's.
pub fn card_ids_as(g: &Game, seat: usize, out: &mut [u16; CARD_ID_SLOTS]) {
    let seats = [seat & 1, 1 - (seat & 1)];
    for (i, &s) in seats.iter().enumerate() {
        let p = &g.players[s];
        let hand = &mut out[i * HAND_MAX..(i + 1) * HAND_MAX];
        for (h, slot) in hand.iter_mut().enumerate() {
            *slot = if h < p.hand_len as usize { p.hand[h] + 1 } else { 0 };
        }
        let lanes = &mut out[2 * HAND_MAX + i * LANES..2 * HAND_MAX + (i + 1) * LANES];
        for (l, slot) in lanes.iter_mut().enumerate() {
            let c = &p.board[l];
            *slot = if !c.present() { 0 } else { c.card + 1 };
        }
        let base = 2 * (HAND_MAX + LANES);
        let sups = &mut out[base + i * SUPPORT_SLOTS..base + (i + 1) * SUPPORT_SLOTS];
        for (k, slot) in sups.iter_mut().enumerate() {
            let sup = &p.supports[k];
            *slot = if sup.present() { sup.card + 1 } else { 0 };
        }
    }
}

impl Game {
    /// The card ids of the table from the perspective of the player to move
    /// (see the module documentation for the layout).
    pub fn card_ids(&self, out: &mut [u16; CARD_ID_SLOTS]) {
        card_ids_as(self, self.active as usize, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cards::{self, Kind};
    use crate::decks::Deck;
    use crate::encoding::{BOARD_OFFSET, HAND_FEATURES, HAND_OFFSET, SLOT_FEATURES, SUPPORT_FEATURES, SUPPORT_OFFSET};
    use crate::rng::Rng;
    use crate::state::Mode;
    use crate::OBS_SIZE;

    /// Every named card agrees with what the observation says about the same
    /// slot (cost of hand cards, stats on the board, presence of supports),
    /// and every empty slot is empty in both, over many random positions.
    #[test]
    fn ids_agree_with_the_observation_slot_by_slot() {
        let decks: Vec<Deck> = crate::decks::preset_names().map(|n| Deck::preset(n).unwrap()).collect();
        let mut rng = Rng::new(7);
        let mut checked = 0;
        for seed in 0..300u64 {
            let (d0, d1) = (decks[seed as usize % decks.len()], decks[(seed as usize / 6) % decks.len()]);
            let mut g = Game::new(seed, d0, d1, Mode::Attrition);
            let steps = rng.below(120);
            for _ in 0..steps {
                if g.is_over() {
                    break;
                }
                let mask = g.legal_mask();
                let a = mask.nth(rng.below(mask.count()));
                g.apply(a as u16).unwrap();
            }
            if g.is_over() {
                continue;
            }
            let mut obs = [0f32; OBS_SIZE];
            let mut ids = [0u16; CARD_ID_SLOTS];
            g.observe(&mut obs);
            g.card_ids(&mut ids);
            for side in 0..2 {
                for h in 0..HAND_MAX {
                    let id = ids[side * HAND_MAX + h];
                    let o = HAND_OFFSET + (side * HAND_MAX + h) * HAND_FEATURES;
                    if id == 0 {
                        assert!(obs[o..o + HAND_FEATURES].iter().all(|&x| x == 0.0));
                    } else {
                        assert_eq!(obs[o], cards::card(id - 1).cost as f32 / 10.0);
                    }
                }
                for l in 0..LANES {
                    let id = ids[2 * HAND_MAX + side * LANES + l];
                    let o = BOARD_OFFSET + (side * LANES + l) * SLOT_FEATURES;
                    assert_eq!(id == 0, obs[o..o + SLOT_FEATURES].iter().all(|&x| x == 0.0), "seed {seed} lane {l}");
                    if id != 0 {
                        assert!(matches!(cards::card(id - 1).kind, Kind::Creature { .. }));
                    }
                }
                for k in 0..SUPPORT_SLOTS {
                    let id = ids[2 * (HAND_MAX + LANES) + side * SUPPORT_SLOTS + k];
                    let o = SUPPORT_OFFSET + (side * SUPPORT_SLOTS + k) * SUPPORT_FEATURES;
                    assert_eq!(id != 0, obs[o] == 1.0);
                    if id != 0 {
                        assert!(matches!(cards::card(id - 1).kind, Kind::Support { .. }));
                    }
                }
            }
            checked += 1;
        }
        assert!(checked > 200);
    }

    /// The view as the other seat swaps the two halves of every block.
    #[test]
    fn the_other_seat_sees_the_halves_swapped() {
        let d = |n: &str| Deck::preset(n).unwrap();
        let mut g = Game::new(3, d("argentum_control"), d("symbiote_aggro"), Mode::Attrition);
        for _ in 0..9 {
            let a = g.legal_mask().nth(0);
            g.apply(a as u16).unwrap();
        }
        let (mut mine, mut theirs) = ([0u16; CARD_ID_SLOTS], [0u16; CARD_ID_SLOTS]);
        card_ids_as(&g, 0, &mut mine);
        card_ids_as(&g, 1, &mut theirs);
        for (a, b) in [(0, 10), (20, 25), (30, 32)] {
            let n = b - a;
            assert_eq!(mine[a..b], theirs[b..b + n]);
            assert_eq!(mine[b..b + n], theirs[a..b]);
        }
        assert!(mine[..10].iter().any(|&x| x != 0));
    }
}
