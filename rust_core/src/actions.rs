//! The 256-action layout and the legal-action mask (GAME.md, "Actions").
//!
//! | index    | action                                                |
//! |----------|-------------------------------------------------------|
//! | 0..49    | play hand card h with argument t: `5h + t`            |
//! | 50..74   | attack: `50 + 5a + d`                                 |
//! | 75..134  | ability of slot s with target u: `75 + 12s + u`       |
//! | 135..254 | reserved, never legal                                 |
//! | 255      | end turn                                              |

use crate::cards;
use crate::keywords::Keyword;
use crate::state::{Game, LaneSets, Player, F_SUMMONED, HAND_MAX, LANES};

/// Number of action indices.
pub const NUM_ACTIONS: usize = 256;
/// First attack index.
pub const ATTACK_BASE: u8 = 50;
/// First ability index.
pub const ABILITY_BASE: u8 = 75;
/// The end-turn action.
pub const END_TURN: u8 = 255;

/// Ability target argument: none, or the creature itself.
pub const ABILITY_NONE: u8 = 0;
/// Ability target argument of enemy slot 0 (1..=5 are enemy slots 0..4).
pub const ABILITY_ENEMY_SLOT: u8 = 1;
/// Ability target argument of own slot 0 (6..=10 are own slots 0..4).
pub const ABILITY_OWN_SLOT: u8 = 6;
/// Ability target argument of the enemy player.
pub const ABILITY_ENEMY_PLAYER: u8 = 11;

/// A decoded action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Play hand card `hand` with argument `arg` (lane, support slot, or target slot).
    Play { hand: u8, arg: u8 },
    /// Attack with own slot `attacker` into enemy slot `defender` (empty = the enemy player).
    Attack { attacker: u8, defender: u8 },
    /// Use the ability of the creature in `slot` with target argument `target` (0..=11).
    Ability { slot: u8, target: u8 },
    /// End the turn.
    EndTurn,
}

impl Action {
    /// Decodes an index; `None` for the reserved indices 135..=254.
    #[inline]
    pub const fn decode(index: u8) -> Option<Action> {
        match index {
            0..=49 => Some(Action::Play { hand: index / 5, arg: index % 5 }),
            50..=74 => {
                let i = index - ATTACK_BASE;
                Some(Action::Attack { attacker: i / 5, defender: i % 5 })
            }
            75..=134 => {
                let i = index - ABILITY_BASE;
                Some(Action::Ability { slot: i / 12, target: i % 12 })
            }
            255 => Some(Action::EndTurn),
            _ => None,
        }
    }

    /// The action's index.
    pub const fn index(self) -> u8 {
        match self {
            Action::Play { hand, arg } => hand * 5 + arg,
            Action::Attack { attacker, defender } => ATTACK_BASE + attacker * 5 + defender,
            Action::Ability { slot, target } => ABILITY_BASE + slot * 12 + target,
            Action::EndTurn => END_TURN,
        }
    }
}

/// The legal actions as a 256-bit set (bit i = action i).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ActionMask {
    /// Bits 0..127.
    pub lo: u128,
    /// Bits 128..255.
    pub hi: u128,
}

impl ActionMask {
    /// True when action `i` is legal.
    #[inline(always)]
    pub const fn has(&self, i: u8) -> bool {
        if i < 128 {
            self.lo >> i & 1 != 0
        } else {
            self.hi >> (i - 128) & 1 != 0
        }
    }

    /// Number of legal actions.
    #[inline(always)]
    pub const fn count(&self) -> u32 {
        let c = word_counts(self.word_sums());
        c[0] + c[1] + c[2] + c[3]
    }

    /// The four 64-bit words, low first.
    #[inline(always)]
    const fn words(&self) -> [u64; 4] {
        [self.lo as u64, (self.lo >> 64) as u64, self.hi as u64, (self.hi >> 64) as u64]
    }

    /// Per 64-bit word, the running sums of its byte popcounts (byte `i`:
    /// set bits in bytes `0..=i`; so byte 7 is the word's popcount): a
    /// software popcount (this target has no popcount instruction) that
    /// stops one shift short, so that [`nth`](Self::nth) finds its bit in
    /// the chosen word without counting it again. The top two words of a
    /// legal mask hold only lane 4's abilities (128..=134, mostly none) and
    /// end turn (255), so they are summed by a test instead when that is all
    /// they hold (bit 63 alone: one bit, in byte 7).
    #[inline(always)]
    const fn word_sums(&self) -> [u64; 4] {
        let w = self.words();
        let [s0, s1] = byte_sums(self.lo);
        let [s2, s3] = if w[2] == 0 && w[3] & !(1 << 63) == 0 { [0, (w[3] >> 63) << 56] } else { byte_sums(self.hi) };
        [s0, s1, s2, s3]
    }

    /// The `k`-th legal action in index order (`k` < `count()`).
    #[inline]
    pub fn nth(&self, k: u32) -> u8 {
        self.nth_summed(k, self.word_sums())
    }

    /// [`nth`](Self::nth) given the word sums. Branch-free: which word and
    /// which bit depend on `k`, and a random `k` would mispredict branches.
    #[inline(always)]
    fn nth_summed(&self, k: u32, s: [u64; 4]) -> u8 {
        let c = word_counts(s);
        let total = c[0] + c[1] + c[2] + c[3];
        assert!(k < total, "nth({k}) past the {total} legal actions");
        let ends = [c[0], c[0] + c[1], c[0] + c[1] + c[2]];
        let word = (k >= ends[0]) as usize + (k >= ends[1]) as usize + (k >= ends[2]) as usize;
        let before = [0, ends[0], ends[1], ends[2]][word];
        64 * word as u8 + select_bit(self.words()[word], s[word], k - before)
    }

    /// A uniformly random legal action: `nth(rng.below(count()))`, counting once.
    #[inline(always)]
    pub fn random(&self, rng: &mut crate::rng::Rng) -> u8 {
        let s = self.word_sums();
        let c = word_counts(s);
        let k = rng.below(c[0] + c[1] + c[2] + c[3]);
        self.nth_summed(k, s)
    }

    /// The legal actions in index order.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        let mut lo = self.lo;
        let mut hi = self.hi;
        std::iter::from_fn(move || {
            if lo != 0 {
                let i = lo.trailing_zeros() as u8;
                lo &= lo - 1;
                Some(i)
            } else if hi != 0 {
                let i = hi.trailing_zeros() as u8;
                hi &= hi - 1;
                Some(128 + i)
            } else {
                None
            }
        })
    }

    /// Writes 1 for legal and 0 for illegal actions into a 256-byte buffer.
    #[inline]
    pub fn write_bytes(&self, out: &mut [u8; NUM_ACTIONS]) {
        *out = [0; NUM_ACTIONS];
        let mut lo = self.lo;
        while lo != 0 {
            out[lo.trailing_zeros() as usize] = 1;
            lo &= lo - 1;
        }
        let mut hi = self.hi;
        while hi != 0 {
            out[128 + hi.trailing_zeros() as usize] = 1;
            hi &= hi - 1;
        }
    }
}

/// Byte -> position of its `r`-th set bit (`SELECT_IN_BYTE[byte][r]`).
static SELECT_IN_BYTE: [[u8; 8]; 256] = {
    let mut t = [[0u8; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let (mut r, mut i) = (0, 0);
        while i < 8 {
            if b >> i & 1 != 0 {
                t[b][r] = i as u8;
                r += 1;
            }
            i += 1;
        }
        b += 1;
    }
    t
};

/// Both 64-bit words of `x` -> the running sums of their byte popcounts
/// (see [`ActionMask::word_sums`]), low word first. The bit-parallel steps
/// run on the u128: no step carries or borrows across a bit field, and the
/// bits a shift moves from the high word into the low one land outside the
/// step's mask, so this is two independent 64-bit popcounts' steps (and, as
/// 128-bit arithmetic, it stays scalar: split into 64-bit lanes, the
/// compiler vectorises it with a 64-bit multiply the target lacks).
#[inline(always)]
const fn byte_sums(x: u128) -> [u64; 2] {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const fn rep(byte: u128) -> u128 {
        byte * 0x0101_0101_0101_0101_0101_0101_0101_0101
    }
    let b = x - ((x >> 1) & rep(0x55));
    let b = (b & rep(0x33)) + ((b >> 2) & rep(0x33));
    let b = (b + (b >> 4)) & rep(0x0F);
    [(b as u64).wrapping_mul(ONES), ((b >> 64) as u64).wrapping_mul(ONES)]
}

/// The popcount of each word, from its running sums (the top byte).
#[inline(always)]
const fn word_counts(s: [u64; 4]) -> [u32; 4] {
    [(s[0] >> 56) as u32, (s[1] >> 56) as u32, (s[2] >> 56) as u32, (s[3] >> 56) as u32]
}

/// Position of the `k`-th set bit of `w` (`k` < its popcount), given the
/// running sums of its byte popcounts, without a branch or a loop: the first
/// byte whose sum passes `k` (a bytewise compare), then a table lookup in that byte.
#[inline(always)]
fn select_bit(w: u64, sums: u64, k: u32) -> u8 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    // Byte i: set bits in bytes 0..=i (at most 64, so the compare below cannot borrow).
    let passed = ((sums | 0x8080_8080_8080_8080) - (k as u64 + 1) * ONES) & 0x8080_8080_8080_8080;
    let byte = passed.trailing_zeros() >> 3;
    let before = ((sums << 8) >> (8 * byte)) as u32 & 0xFF;
    let bits = (w >> (8 * byte)) as usize & 0xFF;
    (8 * byte) as u8 + SELECT_IN_BYTE[bits][(k - before) as usize & 7]
}

/// True when the creature in `slot` may attack now.
#[inline(always)]
pub fn can_attack(p: &Player, slot: usize) -> bool {
    let c = &p.board[slot];
    let kw = p.keywords_of(c);
    c.present()
        && c.attacks < 1 + kw.has(Keyword::Frenzy) as u8
        && p.attack_of(c) > 0
        && (c.flags & F_SUMMONED == 0 || kw.has(Keyword::Rush))
}

/// Lane set -> each member lane `a` widened to the five bits `5a..5a+4`
/// (attacks and play arguments are five wide per attacker or hand card).
static SPREAD5: [u32; 32] = {
    let mut t = [0u32; 32];
    let mut set = 0;
    while set < 32 {
        let mut a = 0;
        while a < LANES {
            if set >> a & 1 != 0 {
                t[set] |= 0b11111 << (5 * a);
            }
            a += 1;
        }
        set += 1;
    }
    t
};

/// Open enemy lanes -> for every attacker lane `a`, the open lanes in its
/// lane range a-1..=a+1, in bits `5a..5a+4` (attacks `50 + 5a + d` less the base).
static IN_RANGE: [u32; 32] = {
    let mut t = [0u32; 32];
    let mut open = 0;
    while open < 32 {
        let mut a = 0;
        while a < LANES {
            t[open] |= ((open as u32) & (0b111 << a >> 1) & 0b11111) << (5 * a);
            a += 1;
        }
        open += 1;
    }
    t
};

/// The row of argument sets of an unaffordable card or ability.
static NONE_8: [u64; 8] = [0; 8];

/// A 5-bit lane set copied into each attacker's five bits (Ranged reaches every lane).
const EVERY_ATTACKER: u32 = 0b00001_00001_00001_00001_00001;

/// Both players' lane sets with their marked lanes recomputed.
#[cold]
#[inline(never)]
fn marked_sets(me: &Player, foe: &Player) -> (LaneSets, LaneSets) {
    (me.lane_sets(), foe.lane_sets())
}

/// Builds the legal-action set of the player to move. Empty once the game is over.
///
/// Few instructions on any position, with no branch on the board: the lane
/// conditions come from each player's [`LaneSets`] (kept up to date by the
/// rules engine, see there), the attacks are two table lookups on those sets
/// and each hand card is one lookup.
///
/// Always inlined: every caller uses the mask at once (a random or a search
/// step, an env step), and inlined it skips the call, the saved registers
/// and the mask's trip through memory (about 25 instructions of ~170; the
/// compiler does not inline it on its own). There are a dozen call sites.
#[inline(always)]
pub fn legal_mask(g: &Game) -> ActionMask {
    if g.is_over() {
        return ActionMask::default();
    }
    let me = &g.players[g.active as usize];
    let foe = &g.players[1 - g.active as usize];
    // Every unit test (release builds included) and every debug build checks
    // that the engine kept the lane sets up to date.
    #[cfg(any(test, debug_assertions))]
    assert!(me.lanes_fresh() && foe.lanes_fresh(), "a board was edited by hand without Game::refresh");
    // Marked lanes exist only in the middle of an action (or after a panic in one).
    let (mine, theirs) =
        if (me.lanes.marked() | foe.lanes.marked()) == 0 { (me.lanes, foe.lanes) } else { marked_sets(me, foe) };
    let foe_occupied = theirs.get(LaneSets::OCCUPIED);
    let foe_targetable = theirs.get(LaneSets::TARGETABLE);
    let guards = theirs.get(LaneSets::GUARDS);
    let own_occupied = mine.get(LaneSets::OCCUPIED);
    let ready = mine.get(LaneSets::READY);
    let ranged = mine.get(LaneSets::RANGED);
    let mut ability_slots = mine.get(LaneSets::ABILITY);

    // Guard must be attacked first; otherwise any targetable creature or empty lane.
    let foe_open = if guards != 0 { guards } else { foe_targetable | (!foe_occupied & 0b11111) };
    let attacks = (SPREAD5[(ready & !ranged) as usize & 31] & IN_RANGE[foe_open as usize & 31])
        | (SPREAD5[(ready & ranged) as usize & 31] & foe_open.wrapping_mul(EVERY_ATTACKER));
    let mut lo = (attacks as u128) << ATTACK_BASE;
    let mut hi = 1u128 << (END_TURN - 128);

    // Play a card: 1 AP plus its essence cost. The argument set is looked up
    // by the card's play kind and kept if the card is affordable, with no
    // branch per card.
    if me.ap >= 1 {
        let own_empty = !own_occupied & 0b11111;
        let support_empty = (!me.supports[0].present() as u64) | (!me.supports[1].present() as u64) << 1;
        // By `PlayArg as usize`.
        let args = [own_empty as u64, support_empty, foe_targetable as u64, own_occupied as u64, 1, 0, 0, 0];
        let mut plays = 0u64;
        let n = (me.hand_len as usize).min(HAND_MAX);
        // Last card first, each shifting the earlier ones' bits up by five:
        // card h ends at bits 5h..5h+4 with a constant shift per card.
        for &card in me.hand[..n].iter().rev() {
            debug_assert!((card as usize) < cards::NUM_CARDS, "hand card {card}");
            let info = cards::PLAY_INFO[card as usize & (cards::ID_ROWS - 1)];
            // All of the row or nothing, by a mask from the borrow of
            // `essence - cost`: the compiler turns a compare (or a choice of
            // rows) into a branch per card here, which mispredicts.
            let affordable = ((me.essence as u64 | 0x100) - info.cost as u64) >> 8 & 1;
            plays = plays << 5 | (args[info.arg as usize & 7] & 0u64.wrapping_sub(affordable));
        }
        lo |= plays as u128;
    }

    // Activated abilities: essence cost, once per turn, not silenced. Bits
    // 75..=134, 12 per lane, gathered from bit 0 of a u64 and shifted once.
    if ability_slots != 0 {
        // Row `affordable`, column `AbilityArg as usize` (NoAbility: empty).
        let targets = [
            1 << ABILITY_NONE,
            (foe_targetable as u64) << ABILITY_ENEMY_SLOT,
            (own_occupied as u64) << ABILITY_OWN_SLOT,
            1 << ABILITY_ENEMY_PLAYER,
            0,
            0,
            0,
            0,
        ];
        let by_arg: [&[u64; 8]; 2] = [&NONE_8, &targets];
        let mut abilities = 0u64;
        while ability_slots != 0 {
            let s = ability_slots.trailing_zeros() as usize;
            ability_slots &= ability_slots - 1;
            let info = cards::ABILITY_INFO[me.board[s].card as usize & (cards::ID_ROWS - 1)];
            abilities |= by_arg[(info.cost <= me.essence) as usize][info.arg as usize & 7] << (12 * s);
        }
        lo |= (abilities as u128) << ABILITY_BASE;
        hi |= (abilities >> (128 - ABILITY_BASE as u32)) as u128;
    }
    ActionMask { lo, hi }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_and_index_round_trip() {
        for i in 0..=255u8 {
            match Action::decode(i) {
                Some(a) => assert_eq!(a.index(), i),
                None => assert!((135..=254).contains(&i)),
            }
        }
        assert_eq!(Action::decode(0), Some(Action::Play { hand: 0, arg: 0 }));
        assert_eq!(Action::decode(49), Some(Action::Play { hand: 9, arg: 4 }));
        assert_eq!(Action::decode(50 + 5 * 2 + 3), Some(Action::Attack { attacker: 2, defender: 3 }));
        assert_eq!(Action::decode(75 + 12 * 4 + 11), Some(Action::Ability { slot: 4, target: 11 }));
        assert_eq!(Action::decode(255), Some(Action::EndTurn));
    }

    #[test]
    fn nth_and_random_agree_with_iteration_on_any_bits() {
        let mut rng = crate::rng::Rng::new(11);
        for case in 0..20_000u32 {
            // Dense, sparse and typical masks, with bits anywhere (also 135..=254).
            let density = case % 4;
            let mut word = || {
                let mut w = rng.next_u64();
                for _ in 0..density {
                    w &= rng.next_u64();
                }
                w
            };
            let (w0, w1, w2, w3) = (word(), word(), word(), word());
            let m = ActionMask { lo: w0 as u128 | (w1 as u128) << 64, hi: w2 as u128 | (w3 as u128) << 64 };
            let all: Vec<u8> = m.iter().collect();
            assert_eq!(m.count() as usize, all.len());
            for (k, &a) in all.iter().enumerate() {
                assert_eq!(m.nth(k as u32), a, "case {case}, k {k}");
            }
            if !all.is_empty() {
                let (mut r1, mut r2) = (crate::rng::Rng::new(case as u64), crate::rng::Rng::new(case as u64));
                assert_eq!(m.random(&mut r1), m.nth(r2.below(m.count())));
            }
        }
    }

    #[test]
    fn mask_bits_iterate_and_expand() {
        let m = ActionMask { lo: (1 << 3) | (1 << 127), hi: 1 << 127 };
        assert_eq!(m.iter().collect::<Vec<_>>(), vec![3, 127, 255]);
        assert_eq!((m.nth(0), m.nth(1), m.nth(2)), (3, 127, 255));
        let mut bytes = [7u8; 256];
        m.write_bytes(&mut bytes);
        assert_eq!(bytes.iter().map(|&b| b as u32).sum::<u32>(), 3);
        assert_eq!((bytes[3], bytes[127], bytes[255]), (1, 1, 1));
    }
}
