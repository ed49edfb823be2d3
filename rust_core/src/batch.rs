//! A batch of N independent games stepped by one call, writing whole arrays
//! (observations `[N, 326]`, masks `[N, 256]`, rewards, flags) into the
//! caller's buffers. This is what a vector-env worker drives.
//!
//! # Semantics
//!
//! - **Seeds.** Game i is dealt from its own seed (`base + i` or an explicit
//!   array). Everything random about game i (its deal, its opponent bot, the
//!   seeds of the games that follow it under autoreset) derives from that seed
//!   alone, so a game's whole trajectory depends only on its seed and the
//!   actions given for it, never on the batch size or on which other games
//!   share the batch.
//! - **Opponents.** Per game: none (self-play: the caller plays both seats and
//!   reads `current_player`), or a bot ([`BotSpec`]: random, greedy, mcts-N)
//!   that plays the other seat inside the step until it is the agent's turn
//!   again or the game ends. The bot is seeded with [`opponent_seed`] of the
//!   episode's seed. Opponent and agent-seat settings take effect at the
//!   game's next reset.
//! - **Rewards.** With an opponent: from the agent's seat. In self-play: for
//!   the player who acted (as [`Game::apply`]). +1 win, -1 loss, else 0.
//! - **Autoreset.** When on and a game ends in a step, that step reports
//!   `terminated = 1` and the final reward, writes the final observation (from
//!   the rewarded seat's perspective) into `final_obs` if given, then deals the
//!   next game from [`next_episode_seed`] of the finished game's seed: the
//!   `obs`, `mask` and `current_player` rows written are the **new** game's
//!   first ones. When off, a finished game keeps its final state (its mask is
//!   all zeros) and stepping it again is a [`BatchError::GameOver`].
//! - **Illegal actions.** [`IllegalPolicy::Error`]: every action is validated
//!   before any is applied; the first offending game is named and no game
//!   changes. [`IllegalPolicy::Lose`]: that game ends at once as a loss for
//!   the agent (self-play: for the player to move), reward -1, terminated, and
//!   its `illegal` flag is set.
//! - **Truncation.** The turn limit ends a game as a terminal outcome (it is a
//!   rule, not a time limit), so `truncated` is always written as 0; the array
//!   exists so callers can share one layout with time-limited wrappers.

use crate::actions::NUM_ACTIONS;
use crate::bots::{Bot, BotSpec};
use crate::decks::Deck;
use crate::encoding::OBS_SIZE;
use crate::state::{Game, Mode, Outcome};
use std::fmt;

/// What to do with an illegal action in [`Batch::step`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IllegalPolicy {
    /// Refuse the whole step and change nothing.
    Error,
    /// The offending game ends as a loss for the agent.
    Lose,
}

/// Why a batch call was refused. Nothing changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BatchError {
    /// Game `index` received an action that is not legal now.
    Illegal { index: usize, action: i64, legal: u32 },
    /// Game `index` is over (autoreset is off); reset it first.
    GameOver { index: usize },
    /// A malformed argument (sizes, indices, seats).
    BadArgument(String),
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BatchError::Illegal { index, action, legal } => {
                let what = if (0..=255).contains(action) {
                    crate::rules::describe(*action as u16)
                } else {
                    "out of range 0..255".to_string()
                };
                write!(f, "game {index}: action {action} ({what}) is not legal now; {legal} action(s) are legal")
            }
            BatchError::GameOver { index } => {
                write!(f, "game {index} is over (autoreset is off); reset it before stepping it again")
            }
            BatchError::BadArgument(msg) => write!(f, "{msg}"),
        }
    }
}

impl std::error::Error for BatchError {}

/// SplitMix64's finaliser: a bijective mix of 64 bits.
#[inline]
pub const fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The seed of the game dealt after the game dealt from `seed` ends (autoreset).
#[inline]
pub const fn next_episode_seed(seed: u64) -> u64 {
    mix64(seed ^ 0x6E65_7874_5F65_7069) // "next_epi"
}

/// The seed of the opponent bot in the game dealt from `seed`.
#[inline]
pub const fn opponent_seed(seed: u64) -> u64 {
    mix64(seed ^ 0x6F70_706F_6E65_6E74) // "opponent"
}

/// Caller-owned output arrays. Every array has one row per game of the batch;
/// a step writes only the rows of the games it steps.
pub struct Outputs<'a> {
    /// `[N * 326]` observations of the player to move (the agent, with an opponent).
    pub obs: &'a mut [f32],
    /// `[N * 256]` legal-action masks (1 legal, 0 not).
    pub masks: &'a mut [u8],
    /// `[N]` rewards.
    pub rewards: Option<&'a mut [f32]>,
    /// `[N]` 1 when the game ended in this step.
    pub terminated: Option<&'a mut [u8]>,
    /// `[N]` always 0 (see the module docs).
    pub truncated: Option<&'a mut [u8]>,
    /// `[N]` the seat to move after the step.
    pub current_player: Option<&'a mut [u8]>,
    /// `[N]` 1 when the action was illegal and the game was forfeited.
    pub illegal: Option<&'a mut [u8]>,
    /// `[N * 326]` the final observation of games that ended (autoreset only writes it; rows of
    /// games that did not end are left untouched).
    pub final_obs: Option<&'a mut [f32]>,
}

impl Outputs<'_> {
    fn check(&self, n: usize) -> Result<(), BatchError> {
        let bad = |what: &str, len: usize, need: usize| {
            Err(BatchError::BadArgument(format!("{what} holds {len} values, needs {need} ({n} games)")))
        };
        if self.obs.len() < n * OBS_SIZE {
            return bad("obs", self.obs.len(), n * OBS_SIZE);
        }
        if self.masks.len() < n * NUM_ACTIONS {
            return bad("masks", self.masks.len(), n * NUM_ACTIONS);
        }
        let rows: [(&str, Option<usize>); 5] = [
            ("rewards", self.rewards.as_ref().map(|s| s.len())),
            ("terminated", self.terminated.as_ref().map(|s| s.len())),
            ("truncated", self.truncated.as_ref().map(|s| s.len())),
            ("current_player", self.current_player.as_ref().map(|s| s.len())),
            ("illegal", self.illegal.as_ref().map(|s| s.len())),
        ];
        for (what, len) in rows {
            if let Some(len) = len {
                if len < n {
                    return bad(what, len, n);
                }
            }
        }
        if let Some(f) = &self.final_obs {
            if f.len() < n * OBS_SIZE {
                return bad("final_obs", f.len(), n * OBS_SIZE);
            }
        }
        Ok(())
    }

    #[inline]
    fn write_state(&mut self, i: usize, g: &Game) {
        let row: &mut [f32; OBS_SIZE] = (&mut self.obs[i * OBS_SIZE..(i + 1) * OBS_SIZE]).try_into().expect("row");
        g.observe(row);
        let mrow: &mut [u8; NUM_ACTIONS] =
            (&mut self.masks[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS]).try_into().expect("row");
        g.legal_mask().write_bytes(mrow);
        if let Some(cp) = self.current_player.as_deref_mut() {
            cp[i] = g.active;
        }
    }

    #[inline]
    fn write_step(&mut self, i: usize, reward: f32, terminated: bool, illegal: bool) {
        if let Some(r) = self.rewards.as_deref_mut() {
            r[i] = reward;
        }
        if let Some(t) = self.terminated.as_deref_mut() {
            t[i] = terminated as u8;
        }
        if let Some(t) = self.truncated.as_deref_mut() {
            t[i] = 0;
        }
        if let Some(f) = self.illegal.as_deref_mut() {
            f[i] = illegal as u8;
        }
    }
}

/// One game of the batch and its settings.
struct Slot {
    game: Game,
    /// Seed of the current deal.
    seed: u64,
    /// Decks and mode for the next deal.
    decks: [Deck; 2],
    mode: Mode,
    /// Settings for the next deal.
    opponent: Option<BotSpec>,
    agent_seat: u8,
    /// Settings of the current episode.
    bot: Option<Box<dyn Bot + Send>>,
    episode_seat: u8,
}

impl Slot {
    /// The seat whose reward the step reports: the agent's with an opponent,
    /// otherwise the player to move.
    #[inline]
    fn reward_seat(&self) -> usize {
        if self.bot.is_some() {
            self.episode_seat as usize
        } else {
            self.game.current_player()
        }
    }

    fn deal(&mut self, seed: u64) {
        self.seed = seed;
        self.game = Game::new(seed, self.decks[0], self.decks[1], self.mode);
        self.episode_seat = self.agent_seat;
        self.bot = self.opponent.map(|spec| spec.build(opponent_seed(seed)));
        self.play_opponent();
    }

    /// Lets the opponent move until it is the agent's turn or the game ends.
    fn play_opponent(&mut self) {
        let Some(bot) = self.bot.as_mut() else { return };
        while !self.game.is_over() && self.game.active != self.episode_seat {
            let a = bot.choose(&self.game);
            if let Err(e) = self.game.apply(a as u16) {
                panic!("opponent {} chose an illegal action: {e}", bot.name());
            }
        }
    }
}

/// N games stepped together. See the module docs for the semantics.
pub struct Batch {
    slots: Vec<Slot>,
    autoreset: bool,
    illegal: IllegalPolicy,
    /// Scratch: a mark per game, for duplicate-index checks.
    seen: Vec<u32>,
    stamp: u32,
}

impl Batch {
    /// `n` self-play games with these decks and mode, dealt from seeds `0..n`.
    pub fn new(n: usize, deck0: Deck, deck1: Deck, mode: Mode, autoreset: bool, illegal: IllegalPolicy) -> Batch {
        let slots = (0..n)
            .map(|i| {
                let mut s = Slot {
                    game: Game::new(i as u64, deck0, deck1, mode),
                    seed: i as u64,
                    decks: [deck0, deck1],
                    mode,
                    opponent: None,
                    agent_seat: 0,
                    bot: None,
                    episode_seat: 0,
                };
                s.deal(i as u64);
                s
            })
            .collect();
        Batch { slots, autoreset, illegal, seen: vec![0; n], stamp: 0 }
    }

    /// Number of games.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True for a batch of zero games.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Game `i` as it stands.
    pub fn game(&self, i: usize) -> &Game {
        &self.slots[i].game
    }

    /// The seed game `i` was dealt from.
    pub fn seed(&self, i: usize) -> u64 {
        self.slots[i].seed
    }

    /// Whether autoreset is on.
    pub fn autoreset(&self) -> bool {
        self.autoreset
    }

    /// The illegal-action policy.
    pub fn illegal_policy(&self) -> IllegalPolicy {
        self.illegal
    }

    fn check_index(&self, i: usize) -> Result<(), BatchError> {
        if i >= self.slots.len() {
            return Err(BatchError::BadArgument(format!(
                "game index {i} out of range (the batch has {} games)",
                self.slots.len()
            )));
        }
        Ok(())
    }

    /// Sets game `i`'s opponent (`None` = self-play) from its next reset on.
    pub fn set_opponent(&mut self, i: usize, opponent: Option<BotSpec>) -> Result<(), BatchError> {
        self.check_index(i)?;
        self.slots[i].opponent = opponent;
        Ok(())
    }

    /// Sets the agent's seat (0 or 1) in game `i` from its next reset on.
    pub fn set_agent_seat(&mut self, i: usize, seat: u8) -> Result<(), BatchError> {
        self.check_index(i)?;
        if seat > 1 {
            return Err(BatchError::BadArgument(format!("agent seat must be 0 or 1, got {seat}")));
        }
        self.slots[i].agent_seat = seat;
        Ok(())
    }

    /// Sets game `i`'s decks and mode from its next reset on.
    pub fn set_decks(&mut self, i: usize, deck0: Deck, deck1: Deck, mode: Mode) -> Result<(), BatchError> {
        self.check_index(i)?;
        self.slots[i].decks = [deck0, deck1];
        self.slots[i].mode = mode;
        Ok(())
    }

    /// Checks that `indices` are in range and distinct (as the subset calls
    /// require).
    pub fn check_indices(&mut self, indices: &[u32]) -> Result<(), BatchError> {
        self.stamp = self.stamp.wrapping_add(1);
        if self.stamp == 0 {
            self.seen.iter_mut().for_each(|s| *s = 0);
            self.stamp = 1;
        }
        for &i in indices {
            self.check_index(i as usize)?;
            if self.seen[i as usize] == self.stamp {
                return Err(BatchError::BadArgument(format!("game index {i} appears twice")));
            }
            self.seen[i as usize] = self.stamp;
        }
        Ok(())
    }

    /// Deals every game again: game i from `seeds[i]`, or from `base_seed + i`
    /// (wrapping) when `seeds` is `None`. Writes every row of `out`; rewards,
    /// terminated, truncated and illegal rows are zeroed.
    pub fn reset(&mut self, base_seed: u64, seeds: Option<&[u64]>, out: &mut Outputs) -> Result<(), BatchError> {
        let n = self.slots.len();
        out.check(n)?;
        if let Some(s) = seeds {
            if s.len() < n {
                return Err(BatchError::BadArgument(format!("seeds holds {} values, needs {n}", s.len())));
            }
        }
        for i in 0..n {
            let seed = seeds.map_or(base_seed.wrapping_add(i as u64), |s| s[i]);
            self.slots[i].deal(seed);
            out.write_state(i, &self.slots[i].game);
            out.write_step(i, 0.0, false, false);
        }
        Ok(())
    }

    /// Deals the games in `indices` again, game `indices[k]` from `seeds[k]`,
    /// and writes their rows of `out`.
    pub fn reset_subset(&mut self, indices: &[u32], seeds: &[u64], out: &mut Outputs) -> Result<(), BatchError> {
        out.check(self.slots.len())?;
        if seeds.len() < indices.len() {
            return Err(BatchError::BadArgument(format!(
                "seeds holds {} values for {} indices",
                seeds.len(),
                indices.len()
            )));
        }
        self.check_indices(indices)?;
        for (k, &i) in indices.iter().enumerate() {
            let i = i as usize;
            self.slots[i].deal(seeds[k]);
            out.write_state(i, &self.slots[i].game);
            out.write_step(i, 0.0, false, false);
        }
        Ok(())
    }

    /// Writes the current observation, mask and player to move of every game.
    pub fn observe(&self, out: &mut Outputs) -> Result<(), BatchError> {
        out.check(self.slots.len())?;
        for (i, s) in self.slots.iter().enumerate() {
            out.write_state(i, &s.game);
        }
        Ok(())
    }

    /// Steps every game with `actions[i]` and writes every row of `out`.
    pub fn step(&mut self, actions: &[i64], out: &mut Outputs) -> Result<(), BatchError> {
        let n = self.slots.len();
        out.check(n)?;
        if actions.len() < n {
            return Err(BatchError::BadArgument(format!("actions holds {} values, needs {n}", actions.len())));
        }
        for (i, &a) in actions[..n].iter().enumerate() {
            self.validate(i, a)?;
        }
        for (i, &a) in actions[..n].iter().enumerate() {
            self.apply(i, a, out);
        }
        Ok(())
    }

    /// Steps only the games in `indices` (distinct), game `indices[k]` with
    /// `actions[k]`, and writes only their rows of `out`.
    pub fn step_subset(&mut self, indices: &[u32], actions: &[i64], out: &mut Outputs) -> Result<(), BatchError> {
        out.check(self.slots.len())?;
        if actions.len() < indices.len() {
            return Err(BatchError::BadArgument(format!(
                "actions holds {} values for {} indices",
                actions.len(),
                indices.len()
            )));
        }
        self.check_indices(indices)?;
        for (&i, &a) in indices.iter().zip(actions) {
            self.validate(i as usize, a)?;
        }
        for (&i, &a) in indices.iter().zip(actions) {
            self.apply(i as usize, a, out);
        }
        Ok(())
    }

    fn validate(&self, i: usize, action: i64) -> Result<(), BatchError> {
        let g = &self.slots[i].game;
        if g.is_over() {
            return Err(BatchError::GameOver { index: i });
        }
        if self.illegal == IllegalPolicy::Error && !((0..=255).contains(&action) && g.is_legal(action as u16)) {
            return Err(BatchError::Illegal { index: i, action, legal: g.legal_mask().count() });
        }
        Ok(())
    }

    fn apply(&mut self, i: usize, action: i64, out: &mut Outputs) {
        let slot = &mut self.slots[i];
        let seat = slot.reward_seat();
        let legal = (0..=255).contains(&action) && slot.game.is_legal(action as u16);
        if legal {
            slot.game.apply_unchecked(action as u8);
            slot.play_opponent();
        } else {
            // IllegalPolicy::Lose (validate refused it under Error).
            slot.game.outcome = Outcome::Winner(1 - seat as u8);
        }
        let over = slot.game.is_over();
        let reward = if over { slot.game.reward(seat) } else { 0.0 };
        out.write_step(i, reward, over, !legal);
        if over && self.autoreset {
            if let Some(f) = out.final_obs.as_deref_mut() {
                let row: &mut [f32; OBS_SIZE] = (&mut f[i * OBS_SIZE..(i + 1) * OBS_SIZE]).try_into().expect("row");
                slot.game.observe_as(seat, row);
            }
            let next = next_episode_seed(slot.seed);
            slot.deal(next);
        }
        out.write_state(i, &slot.game);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bots::RandomBot;

    fn deck(k: usize) -> Deck {
        let ids: Vec<u16> = crate::cards::CARDS
            .iter()
            .filter(|c| c.is_creature() && c.rarity != crate::cards::Rarity::Token)
            .map(|c| c.id)
            .collect();
        let mut cards = [0u16; 30];
        for (j, c) in cards.iter_mut().enumerate() {
            *c = ids[(j + k) % ids.len()];
        }
        Deck { cards }
    }

    struct Bufs {
        obs: Vec<f32>,
        masks: Vec<u8>,
        rewards: Vec<f32>,
        term: Vec<u8>,
        trunc: Vec<u8>,
        cp: Vec<u8>,
        illegal: Vec<u8>,
        final_obs: Vec<f32>,
    }

    impl Bufs {
        fn new(n: usize) -> Bufs {
            Bufs {
                obs: vec![0.0; n * OBS_SIZE],
                masks: vec![0; n * NUM_ACTIONS],
                rewards: vec![0.0; n],
                term: vec![0; n],
                trunc: vec![0; n],
                cp: vec![0; n],
                illegal: vec![0; n],
                final_obs: vec![0.0; n * OBS_SIZE],
            }
        }
        fn out(&mut self) -> Outputs<'_> {
            Outputs {
                obs: &mut self.obs,
                masks: &mut self.masks,
                rewards: Some(&mut self.rewards),
                terminated: Some(&mut self.term),
                truncated: Some(&mut self.trunc),
                current_player: Some(&mut self.cp),
                illegal: Some(&mut self.illegal),
                final_obs: Some(&mut self.final_obs),
            }
        }
    }

    #[test]
    fn batch_matches_single_games() {
        let n = 6;
        let mut b = Batch::new(n, deck(0), deck(2), Mode::Attrition, false, IllegalPolicy::Error);
        let mut bufs = Bufs::new(n);
        b.reset(100, None, &mut bufs.out()).unwrap();
        let mut singles: Vec<Game> =
            (0..n).map(|i| Game::new(100 + i as u64, deck(0), deck(2), Mode::Attrition)).collect();
        let mut pickers: Vec<RandomBot> = (0..n).map(|i| RandomBot::new(i as u64)).collect();
        for _ in 0..3000 {
            if singles.iter().all(|g| g.is_over()) {
                break;
            }
            let live: Vec<u32> = (0..n as u32).filter(|&i| !singles[i as usize].is_over()).collect();
            let actions: Vec<i64> =
                live.iter().map(|&i| pickers[i as usize].choose(&singles[i as usize]) as i64).collect();
            b.step_subset(&live, &actions, &mut bufs.out()).unwrap();
            for (k, &i) in live.iter().enumerate() {
                let i = i as usize;
                let r = singles[i].apply(actions[k] as u16).unwrap();
                let mut o = [0f32; OBS_SIZE];
                singles[i].observe(&mut o);
                assert_eq!(&bufs.obs[i * OBS_SIZE..(i + 1) * OBS_SIZE], &o[..]);
                assert_eq!(bufs.rewards[i], r.reward);
                assert_eq!(bufs.term[i] != 0, r.done);
                assert_eq!(bufs.cp[i] as usize, singles[i].current_player());
                assert_eq!(*b.game(i), singles[i]);
            }
        }
        assert!(singles.iter().all(|g| g.is_over()));
    }

    #[test]
    fn illegal_error_changes_nothing_and_lose_forfeits() {
        let n = 3;
        let mut b = Batch::new(n, deck(0), deck(1), Mode::Attrition, false, IllegalPolicy::Error);
        let mut bufs = Bufs::new(n);
        b.reset(7, None, &mut bufs.out()).unwrap();
        let before: Vec<Game> = (0..n).map(|i| *b.game(i)).collect();
        let err = b.step(&[255, 255, 200], &mut bufs.out()).unwrap_err();
        assert!(matches!(err, BatchError::Illegal { index: 2, action: 200, .. }), "{err:?}");
        assert!(err.to_string().contains("game 2"), "{err}");
        for (i, game) in before.iter().enumerate() {
            assert_eq!(b.game(i), game);
        }
        let mut b = Batch::new(n, deck(0), deck(1), Mode::Attrition, false, IllegalPolicy::Lose);
        b.reset(7, None, &mut bufs.out()).unwrap();
        b.step(&[255, -4, 255], &mut bufs.out()).unwrap();
        assert_eq!(bufs.illegal, vec![0, 1, 0]);
        assert_eq!(bufs.term, vec![0, 1, 0]);
        assert_eq!(bufs.rewards, vec![0.0, -1.0, 0.0]);
        assert_eq!(b.game(1).winner(), Some(1));
        assert!(matches!(b.step(&[255, 255, 255], &mut bufs.out()), Err(BatchError::GameOver { index: 1 })));
    }

    #[test]
    fn opponents_play_inside_the_step_and_autoreset_deals_the_next_seed() {
        let n = 4;
        let mut b = Batch::new(n, deck(0), deck(1), Mode::Attrition, true, IllegalPolicy::Error);
        for i in 0..n {
            b.set_opponent(i, Some(BotSpec::Random)).unwrap();
            b.set_agent_seat(i, (i % 2) as u8).unwrap();
        }
        let mut bufs = Bufs::new(n);
        b.reset(11, None, &mut bufs.out()).unwrap();
        let mut pickers: Vec<RandomBot> = (0..n).map(|i| RandomBot::new(50 + i as u64)).collect();
        let mut ended = 0;
        for _ in 0..5000 {
            for i in 0..n {
                assert_eq!(bufs.cp[i] as usize, i % 2, "agent to move");
            }
            let seeds: Vec<u64> = (0..n).map(|i| b.seed(i)).collect();
            let actions: Vec<i64> = (0..n).map(|i| pickers[i].choose(b.game(i)) as i64).collect();
            b.step(&actions, &mut bufs.out()).unwrap();
            for (i, &seed) in seeds.iter().enumerate() {
                if bufs.term[i] != 0 {
                    ended += 1;
                    assert_eq!(b.seed(i), next_episode_seed(seed));
                    assert_eq!(b.game(i).turn, if i % 2 == 0 { 1 } else { 2 });
                }
            }
        }
        assert!(ended > 0);
    }

    #[test]
    fn trajectories_do_not_depend_on_the_batch_split() {
        // Game with seed 42 stepped alone and inside a batch of 5 gives the same observations.
        let specs = [Some(BotSpec::Random), None];
        for spec in specs {
            let mut whole = Batch::new(5, deck(0), deck(1), Mode::Attrition, true, IllegalPolicy::Lose);
            let mut alone = Batch::new(1, deck(0), deck(1), Mode::Attrition, true, IllegalPolicy::Lose);
            for i in 0..5 {
                whole.set_opponent(i, spec).unwrap();
            }
            alone.set_opponent(0, spec).unwrap();
            let (mut bw, mut ba) = (Bufs::new(5), Bufs::new(1));
            let seeds = [40, 41, 42, 43, 44];
            whole.reset(0, Some(&seeds), &mut bw.out()).unwrap();
            alone.reset(42, None, &mut ba.out()).unwrap();
            let mut picker = RandomBot::new(3);
            for _ in 0..400 {
                let a = picker.choose(alone.game(0)) as i64;
                let mut acts = [255i64; 5];
                acts[2] = a;
                alone.step(&[a], &mut ba.out()).unwrap();
                whole.step(&acts, &mut bw.out()).unwrap();
                assert_eq!(&bw.obs[2 * OBS_SIZE..3 * OBS_SIZE], &ba.obs[..]);
                assert_eq!(bw.rewards[2], ba.rewards[0]);
                assert_eq!(bw.term[2], ba.term[0]);
            }
        }
    }
}
