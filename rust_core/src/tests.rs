//! Property tests over thousands of seeded random games (no external crates:
//! the cases come from our own seeded generator, so a failure prints the seed
//! that reproduces it).

use crate::actions::NUM_ACTIONS;
use crate::decks::{preset_names, Deck};
use crate::encoding::OBS_SIZE;
use crate::rng::Rng;
use crate::state::{Game, Mode, TURN_LIMIT};

fn decks() -> Vec<Deck> {
    preset_names().map(|n| Deck::preset(n).unwrap()).collect()
}

fn random_game(seed: u64, decks: &[Deck]) -> Game {
    let mut rng = Rng::new(seed ^ 0xDEC0);
    let d0 = decks[rng.below(decks.len() as u32) as usize];
    let d1 = decks[rng.below(decks.len() as u32) as usize];
    let mode = if rng.below(4) == 0 { Mode::EssenceDuel } else { Mode::Attrition };
    Game::new(seed, d0, d1, mode)
}

/// Plays a random game to the end, calling `check` before every action.
fn play_out(mut g: Game, seed: u64, mut check: impl FnMut(&Game, u8)) -> Game {
    let mut rng = Rng::new(seed);
    let mut steps = 0;
    while !g.is_over() {
        let m = g.legal_mask();
        assert!(m.count() >= 1, "seed {seed}: a running game has no legal action");
        assert!(m.has(255), "seed {seed}: end turn must always be legal");
        let a = m.nth(rng.below(m.count()));
        check(&g, a);
        g.apply(a as u16).unwrap_or_else(|e| panic!("seed {seed}: masked action {a} refused: {e}"));
        steps += 1;
        assert!(steps < 5_000, "seed {seed}: game does not end");
    }
    g
}

#[test]
fn random_games_end_within_the_turn_limit() {
    let decks = decks();
    let mut outcomes = [0u32; 3];
    for seed in 0..3_000u64 {
        let g = play_out(random_game(seed, &decks), seed, |_, _| {});
        assert!(g.turn <= TURN_LIMIT, "seed {seed}: turn {}", g.turn);
        outcomes[g.winner().map_or(2, |w| w)] += 1;
    }
    assert!(outcomes[0] > 0 && outcomes[1] > 0, "{outcomes:?}");
}

#[test]
fn masked_actions_apply_and_unmasked_ones_are_refused_without_change() {
    let decks = decks();
    for seed in 0..400u64 {
        let mut probe = Rng::new(seed * 7 + 1);
        play_out(random_game(seed, &decks), seed, |g, _| {
            let m = g.legal_mask();
            for _ in 0..8 {
                let a = probe.below(300) as u16;
                let mut copy = *g;
                match copy.apply(a) {
                    Ok(_) => assert!(a <= 255 && m.has(a as u8), "seed {seed}: {a} applied but not masked"),
                    Err(_) => {
                        assert!(a > 255 || !m.has(a as u8), "seed {seed}: masked {a} refused");
                        assert_eq!(copy, *g, "seed {seed}: a refused action changed the state");
                    }
                }
            }
        });
    }
}

#[test]
fn every_masked_action_applies_from_sampled_states() {
    let decks = decks();
    for seed in 0..200u64 {
        play_out(random_game(seed, &decks), seed, |g, _| {
            for a in g.legal_mask().iter() {
                let mut copy = *g;
                copy.apply(a as u16).unwrap_or_else(|e| panic!("seed {seed}: {a}: {e}"));
            }
        });
    }
}

#[test]
fn same_seed_and_actions_give_identical_observation_streams() {
    let decks = decks();
    for seed in 0..200u64 {
        let mut a_obs = Vec::new();
        let mut buf = [0f32; OBS_SIZE];
        play_out(random_game(seed, &decks), seed, |g, _| {
            g.observe(&mut buf);
            a_obs.extend(buf.iter().map(|x| x.to_bits()));
        });
        let mut b_obs = Vec::new();
        play_out(random_game(seed, &decks), seed, |g, _| {
            g.observe(&mut buf);
            b_obs.extend(buf.iter().map(|x| x.to_bits()));
        });
        assert_eq!(a_obs, b_obs, "seed {seed}");
    }
}

#[test]
fn a_clone_evolves_independently_of_its_original() {
    let decks = decks();
    for seed in 0..200u64 {
        let mut rng = Rng::new(seed);
        let mut g = random_game(seed, &decks);
        for _ in 0..rng.below(60) {
            if g.is_over() {
                break;
            }
            let m = g.legal_mask();
            g.apply(m.nth(rng.below(m.count())) as u16).unwrap();
        }
        let snapshot = g;
        // Game is Copy: passing it by value hands play_out its own clone.
        let fork = play_out(g, seed + 1, |_, _| {});
        assert!(fork.is_over());
        assert_eq!(g, snapshot, "seed {seed}: playing the clone changed the original");
    }
}

#[test]
fn observations_are_scaled_and_masks_match_legal_actions() {
    let decks = decks();
    let mut buf = [0f32; OBS_SIZE];
    let mut bytes = [0u8; NUM_ACTIONS];
    for seed in 0..300u64 {
        play_out(random_game(seed, &decks), seed, |g, _| {
            g.observe(&mut buf);
            for (i, x) in buf.iter().enumerate() {
                assert!(x.is_finite() && (-1.5..=1.5).contains(x), "seed {seed}: obs[{i}] = {x}");
            }
            g.legal_mask().write_bytes(&mut bytes);
            let from_bytes: Vec<u8> = (0..=255u8).filter(|&i| bytes[i as usize] == 1).collect();
            assert_eq!(from_bytes, g.legal_actions());
            assert!(bytes[135..255].iter().all(|&b| b == 0), "reserved actions are never legal");
        });
    }
}

#[test]
fn the_observation_is_from_the_movers_perspective() {
    let decks = decks();
    let mut g = Game::new(5, decks[0], decks[1], Mode::Attrition);
    let mut a = [0f32; OBS_SIZE];
    let mut b = [0f32; OBS_SIZE];
    g.players[1].life = 17;
    g.observe(&mut a);
    g.apply(255).unwrap();
    g.observe(&mut b);
    assert_eq!((a[1], b[1]), (0.0, 1.0), "seat flag");
    assert_eq!(a[3 + 7], 17.0 / 30.0, "opponent life for player 0");
    assert_eq!(b[3], 17.0 / 30.0, "own life for player 1");
}

/// FNV-1a over 64-bit words: a hash that is the same on every platform and
/// Rust release (std's hashers promise neither), for the fingerprint below.
struct Fingerprint(u64);

impl Fingerprint {
    fn new() -> Fingerprint {
        Fingerprint(0xCBF2_9CE4_8422_2325)
    }

    fn word(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x0000_0100_0000_01B3);
    }

    /// Everything the rules define about a position: the counters, both
    /// players' fields, hands, decks, boards and supports, and the outcome.
    /// (Field by field rather than the bytes of `Game`, so a cache added to
    /// the state for speed does not change the fingerprint.)
    fn game(&mut self, g: &Game) {
        use crate::state::Outcome;
        self.word(g.active as u64 | (g.turn as u64) << 8 | (g.next_uid as u64) << 24 | (g.actions as u64) << 40);
        self.word(
            match g.outcome {
                Outcome::Running => 0,
                Outcome::Winner(p) => 1 + p as u64,
                Outcome::Draw => 3,
            } | (g.mode as u64) << 8,
        );
        for p in &g.players {
            self.word(
                p.life as u16 as u64
                    | (p.vp as u16 as u64) << 16
                    | (p.essence as u64) << 32
                    | (p.max_essence as u64) << 40
                    | (p.ap as u64) << 48
                    | (p.hand_len as u64) << 56,
            );
            self.word(
                p.deck_len as u64
                    | (p.aura_attack as u16 as u64) << 8
                    | (p.aura_health as u16 as u64) << 24
                    | (p.aura_keywords.0 as u64) << 40,
            );
            for &c in p.hand.iter().chain(p.deck.iter()) {
                self.word(c as u64);
            }
            for c in &p.board {
                self.word(
                    c.card as u64
                        | (c.uid as u64) << 16
                        | (c.attack as u16 as u64) << 32
                        | (c.health as u16 as u64) << 48,
                );
                self.word(
                    c.max_health as u16 as u64
                        | (c.keywords.0 as u64) << 16
                        | (c.suppressed.0 as u64) << 32
                        | (c.flags as u64) << 48
                        | (c.attacks as u64) << 56,
                );
            }
            for s in &p.supports {
                self.word(s.card as u64 | (s.durability as u64) << 16);
            }
        }
    }

    /// The position as the agent sees it: observation, mask, and the state.
    fn position(&mut self, g: &Game, obs: &mut [f32; OBS_SIZE]) {
        g.observe(obs);
        for pair in obs.chunks(2) {
            self.word(pair[0].to_bits() as u64 | (pair.get(1).map_or(0, |x| x.to_bits()) as u64) << 32);
        }
        let m = g.legal_mask();
        self.word(m.lo as u64);
        self.word((m.lo >> 64) as u64);
        self.word(m.hi as u64);
        self.word((m.hi >> 64) as u64);
        self.game(g);
    }
}

/// The engine's behaviour, pinned: every observation, mask, state and reward
/// of 2000 seeded random games and 150 greedy games (all deck pairings, both
/// modes), plus MCTS decisions and root visit counts with both rollout
/// policies. A speed-up must leave this hash unchanged; a deliberate rules
/// change updates the constant and says why in its commit.
#[test]
fn behaviour_fingerprint_is_unchanged() {
    use crate::bots::{greedy_action, random_action, MctsBot, Rollout};
    let decks = decks();
    let mut fp = Fingerprint::new();
    let mut obs = [0f32; OBS_SIZE];
    let mut positions = Vec::new();
    for seed in 0..2_150u64 {
        let greedy = seed >= 2_000;
        let mut g = random_game(seed, &decks);
        let mut rng = Rng::new(seed ^ 0xF1A9);
        let mut step = 0;
        while !g.is_over() {
            fp.position(&g, &mut obs);
            let a = if greedy { greedy_action(&g, &mut rng) } else { random_action(&g, &mut rng) };
            if seed % 97 == 0 && step % 8 == 0 && g.legal_mask().count() > 1 {
                positions.push(g);
            }
            step += 1;
            let r = g.apply(a as u16).unwrap();
            fp.word(a as u64 | (r.reward.to_bits() as u64) << 8 | (r.done as u64) << 40);
        }
        fp.position(&g, &mut obs);
    }
    for (i, g) in positions.iter().enumerate() {
        let (sims, rollout) = if i % 4 == 3 { (16, Rollout::Greedy) } else { (150, Rollout::Random) };
        let mut bot = MctsBot::new(sims, i as u64).with_rollout(rollout);
        fp.word(bot.search(g) as u64);
        for (a, &v) in bot.visit_counts().iter().enumerate() {
            if v > 0 {
                fp.word(a as u64 | (v as u64) << 8);
            }
        }
        fp.word(bot.tree_size() as u64);
    }
    assert!(positions.len() > 150, "{} MCTS positions", positions.len());
    assert_eq!(fp.0, 11_476_822_454_627_189_801, "behaviour fingerprint changed ({} MCTS positions)", positions.len());
}
