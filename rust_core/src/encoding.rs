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

    /// The afterstates of the player to move: for each legal action, in
    /// ascending action order, the position after that action (applied to a
    /// copy; `self` is unchanged) as the mover sees it ([`observe_as`] of
    /// the mover's seat), and the mover's result: +1.0 if the action ends
    /// the game with the mover winning, -1.0 with the mover losing, 0.0
    /// otherwise (a draw, or the game goes on).
    ///
    /// Row k is written to `obs_out[k * OBS_SIZE..(k + 1) * OBS_SIZE]` and
    /// `result_out[k]`; nothing past the rows is touched. Returns the number
    /// of rows: the number of legal actions, so 0 once the game is over.
    /// One copy of the game per row, no allocation.
    ///
    /// # Panics
    ///
    /// When `obs_out` holds fewer than `rows * OBS_SIZE` floats or
    /// `result_out` fewer than `rows` (size them from
    /// `legal_mask().count()`).
    ///
    /// [`observe_as`]: Game::observe_as
    pub fn afterstates(&self, obs_out: &mut [f32], result_out: &mut [f32]) -> usize {
        let mask = self.legal_mask();
        let rows = mask.count() as usize;
        assert!(
            obs_out.len() >= rows * OBS_SIZE && result_out.len() >= rows,
            "afterstates: {rows} rows need {} observation floats and {rows} results, got {} and {}",
            rows * OBS_SIZE,
            obs_out.len(),
            result_out.len()
        );
        let mover = self.active;
        let rows_out = obs_out.chunks_exact_mut(OBS_SIZE).zip(result_out.iter_mut());
        for (action, (row, result)) in mask.iter().zip(rows_out) {
            let mut after = *self;
            after.apply_unchecked(action);
            *result = after.reward(mover as usize);
            // The copy is ours: view it from the mover's seat in place
            // (what observe_as does on a second copy).
            after.active = mover;
            observe(&after, row.try_into().expect("OBS_SIZE floats"));
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::NUM_ACTIONS;
    use crate::cards::{Kind, CARDS};
    use crate::decks::Deck;
    use crate::keywords::{Keyword, Keywords};
    use crate::state::{Creature, Mode, Outcome, Support};

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

    /// Row k is `observe_as(mover)` of a copy after the k-th legal action and
    /// the result is the mover's reward there, at every position of random
    /// games over every test deck; the game itself is unchanged.
    #[test]
    fn afterstates_are_the_positions_after_each_legal_action() {
        use crate::bots::testutil::all_decks;
        use crate::bots::{Bot, RandomBot};
        let decks = all_decks();
        let mut obs = vec![0f32; NUM_ACTIONS * OBS_SIZE];
        let mut res = vec![0f32; NUM_ACTIONS];
        let mut positions = 0;
        for seed in 0..6u64 {
            let mode = if seed % 2 == 0 { Mode::Attrition } else { Mode::EssenceDuel };
            let (d0, d1) = (decks[seed as usize % decks.len()], decks[(seed as usize + 1) % decks.len()]);
            let mut g = Game::new(seed, d0, d1, mode);
            let mut bot = RandomBot::new(seed);
            while !g.is_over() {
                let before = g;
                let mover = g.current_player();
                let rows = g.afterstates(&mut obs, &mut res);
                assert_eq!(g, before, "afterstates changed the game");
                let legal = g.legal_actions();
                assert_eq!(rows, legal.len());
                for (k, &a) in legal.iter().enumerate() {
                    let mut after = g;
                    let step = after.apply(a as u16).expect("legal");
                    let mut want = [0f32; OBS_SIZE];
                    after.observe_as(mover, &mut want);
                    assert_eq!(&obs[k * OBS_SIZE..(k + 1) * OBS_SIZE], &want[..], "seed {seed}, action {a}");
                    assert_eq!(res[k], after.reward(mover));
                    assert_eq!(res[k], step.reward, "the result is the reward of the player who acted");
                }
                positions += 1;
                g.apply(bot.choose(&g) as u16).unwrap();
            }
        }
        assert!(positions > 100, "{positions}");
    }

    /// Nothing is written past the rows, and a finished game has none.
    #[test]
    fn afterstates_write_only_their_rows_and_none_once_over() {
        let mut g = Game::new(3, Deck { cards: [0; 30] }, Deck { cards: [0; 30] }, Mode::Attrition);
        let n = g.legal_mask().count() as usize;
        let mut obs = vec![-9f32; (n + 1) * OBS_SIZE];
        let mut res = vec![-9f32; n + 1];
        assert_eq!(g.afterstates(&mut obs, &mut res), n);
        assert!(obs[n * OBS_SIZE..].iter().all(|&x| x == -9.0) && res[n] == -9.0);
        assert!(obs[..n * OBS_SIZE].iter().any(|&x| x != -9.0));
        // Exactly-sized buffers are enough.
        assert_eq!(g.afterstates(&mut obs[..n * OBS_SIZE], &mut res[..n]), n);
        g.outcome = Outcome::Draw;
        let (mut obs, mut res) = (vec![-9f32; OBS_SIZE], vec![-9f32; 1]);
        assert_eq!(g.afterstates(&mut obs, &mut res), 0);
        assert_eq!(g.afterstates(&mut [], &mut []), 0);
        assert!(obs.iter().all(|&x| x == -9.0) && res[0] == -9.0);
    }

    #[test]
    #[should_panic(expected = "afterstates")]
    fn afterstates_refuse_short_buffers() {
        let g = Game::new(3, Deck { cards: [0; 30] }, Deck { cards: [0; 30] }, Mode::Attrition);
        let n = g.legal_mask().count() as usize;
        g.afterstates(&mut vec![0f32; n * OBS_SIZE - 1], &mut vec![0f32; n]);
    }

    /// A lethal attack gives +1, the other actions 0; ending the last turn
    /// behind on life gives -1, level on life 0 (a draw).
    #[test]
    fn afterstate_results_are_the_movers() {
        use crate::actions::{ATTACK_BASE, END_TURN};
        use crate::bots::testutil::{bare_game, place};
        let mut obs = vec![0f32; NUM_ACTIONS * OBS_SIZE];
        let mut res = vec![0f32; NUM_ACTIONS];
        for seed in 0..5 {
            let mut g = bare_game(seed);
            let me = g.current_player();
            g.players[1 - me].life = 1;
            place(&mut g, me, 2, 1, 5);
            place(&mut g, 1 - me, 1, 1, 1);
            let legal = g.legal_actions();
            let rows = g.afterstates(&mut obs, &mut res);
            assert_eq!(rows, legal.len());
            assert!(rows > 2, "{legal:?}");
            // Lane 2 into an empty enemy lane (2 or 3) hits the face; into lane 1, the 1/1.
            let lethal = |a: u8| (ATTACK_BASE + 5 * 2..ATTACK_BASE + 5 * 3).contains(&a) && a != ATTACK_BASE + 11;
            for (k, &a) in legal.iter().enumerate() {
                assert_eq!(res[k], if lethal(a) { 1.0 } else { 0.0 }, "seed {seed}, action {a}");
            }
            let lethal = ATTACK_BASE + 5 * 2 + 2;
            let k = legal.iter().position(|&a| a == lethal).expect("the lethal attack is legal");
            assert_eq!(obs[k * OBS_SIZE + 10], 0.0, "the opponent's life after it, from my seat");
            assert_eq!(obs[k * OBS_SIZE + 1], me as f32, "seen from the mover's seat");

            // The turn limit decides on life: ahead, behind, level.
            for (my_life, foe_life, want) in [(5, 1, 1.0), (1, 5, -1.0), (3, 3, 0.0)] {
                let mut g = bare_game(seed);
                let me = g.current_player();
                g.turn = crate::state::TURN_LIMIT;
                g.players[me].life = my_life;
                g.players[1 - me].life = foe_life;
                assert_eq!(g.legal_actions(), [END_TURN], "bare game: only end turn");
                assert_eq!(g.afterstates(&mut obs, &mut res), 1);
                assert_eq!(res[0], want, "life {my_life} vs {foe_life}");
                let mut after = g;
                after.apply(END_TURN as u16).unwrap();
                assert!(after.is_over());
            }
        }
    }
}
