//! Tests of the C ABI, called from Rust the way a C caller would.

use super::*;
use std::ptr::{null, null_mut};

/// The tests of this file run one at a time: the quarantine test needs to know
/// every handle that is freed while it runs.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn last_error() -> String {
    // SAFETY: ew_last_error always returns a valid NUL-terminated string owned
    // by this thread's error slot, which nothing changes during this read.
    unsafe { CStr::from_ptr(ew_last_error()) }.to_string_lossy().into_owned()
}

fn cstr(s: &str) -> CString {
    CString::new(s).unwrap()
}

fn deck_name(i: u32) -> CString {
    let mut p: *const c_char = null();
    assert_eq!(ew_deck_name(i, &mut p), EW_OK);
    // SAFETY: ew_deck_name returned EW_OK, so `p` is a static NUL-terminated string.
    unsafe { CStr::from_ptr(p) }.to_owned()
}

fn new_game(seed: u64) -> *mut EwGame {
    let d = deck_name(0);
    let mut g = null_mut();
    assert_eq!(ew_game_new(seed, d.as_ptr(), d.as_ptr(), null(), &mut g), EW_OK, "{}", last_error());
    assert!(!g.is_null());
    g
}

/// A batch of `n` games of the first preset deck on both sides, no opponent, illegal actions refused.
fn new_batch(n: usize, autoreset: u8) -> *mut EwBatch {
    let d = deck_name(0);
    let mut b = null_mut();
    assert_eq!(ew_batch_new(n as u32, d.as_ptr(), d.as_ptr(), null(), autoreset, EW_ILLEGAL_ERROR, &mut b), EW_OK);
    b
}

fn snapshot(g: *const EwGame) -> Vec<u8> {
    let mut buf = vec![0u8; EW_STATE_BYTES as usize];
    let mut needed = 0usize;
    assert_eq!(ew_game_serialize(g, buf.as_mut_ptr(), buf.len(), &mut needed), EW_OK, "{}", last_error());
    assert_eq!(needed, buf.len());
    buf
}

fn observe(g: *const EwGame) -> Vec<f32> {
    let mut obs = vec![0f32; OBS_SIZE];
    assert_eq!(ew_game_observe(g, obs.as_mut_ptr(), obs.len()), EW_OK);
    obs
}

#[test]
fn null_handles_are_reported() {
    let _serial = serial();
    let mut f = 0f32;
    let mut b = 0u8;
    let mut obs = [0f32; OBS_SIZE];
    assert_eq!(ew_game_observe(null(), obs.as_mut_ptr(), OBS_SIZE), EW_ERR_NULL_HANDLE);
    assert!(last_error().contains("NULL"), "{}", last_error());
    assert_eq!(ew_game_step(null_mut(), 255, &mut f, &mut b), EW_ERR_NULL_HANDLE);
    assert_eq!(ew_game_current_player(null(), &mut b), EW_ERR_NULL_HANDLE);
    assert_eq!(ew_game_reset(null_mut(), 1), EW_ERR_NULL_HANDLE);
    let mut clone = null_mut();
    assert_eq!(ew_game_clone(null(), &mut clone), EW_ERR_NULL_HANDLE);
    assert_eq!(ew_batch_step(null_mut(), null(), null(), null_mut()), EW_ERR_NULL_HANDLE);
    let mut n = 0u32;
    assert_eq!(ew_batch_num_games(null_mut(), &mut n), EW_ERR_NULL_HANDLE);
    // Freeing NULL is a no-op, as with free().
    assert_eq!(ew_game_free(null_mut()), EW_OK);
    assert_eq!(ew_batch_free(null_mut()), EW_OK);
}

#[test]
fn use_after_free_double_free_and_foreign_pointers_are_caught() {
    let _serial = serial();
    let g = new_game(1);
    assert_eq!(ew_game_free(g), EW_OK);
    let mut obs = [0f32; OBS_SIZE];
    assert_eq!(ew_game_observe(g, obs.as_mut_ptr(), OBS_SIZE), EW_ERR_INVALID_HANDLE);
    assert!(last_error().contains("use after free"), "{}", last_error());
    let (mut r, mut d) = (0f32, 0u8);
    assert_eq!(ew_game_step(g, 255, &mut r, &mut d), EW_ERR_INVALID_HANDLE);
    assert_eq!(ew_game_free(g), EW_ERR_INVALID_HANDLE, "double free");

    // A pointer the library never made is refused without being dereferenced.
    let mut junk = [0u64; 128];
    let fake = junk.as_mut_ptr() as *mut EwGame;
    assert_eq!(ew_game_step(fake, 255, &mut r, &mut d), EW_ERR_INVALID_HANDLE);
    assert!(last_error().contains("not a live game handle"), "{}", last_error());
    assert_eq!(ew_game_free(fake), EW_ERR_INVALID_HANDLE);
    assert!(junk.iter().all(|&x| x == 0), "nothing was written through the fake handle");
    let misaligned = (junk.as_mut_ptr() as usize + 1) as *mut EwGame;
    assert_eq!(ew_game_reset(misaligned, 3), EW_ERR_INVALID_HANDLE);

    // A batch handle is not a game handle, and the other way round.
    let d0 = deck_name(0);
    let mut b = null_mut();
    assert_eq!(ew_batch_new(2, d0.as_ptr(), d0.as_ptr(), null(), 0, EW_ILLEGAL_ERROR, &mut b), EW_OK);
    assert_eq!(ew_game_reset(b as *mut EwGame, 1), EW_ERR_INVALID_HANDLE);
    assert!(last_error().contains("batch handle"), "{}", last_error());
    let g2 = new_game(2);
    let mut n = 0u32;
    assert_eq!(ew_batch_num_games(g2 as *mut EwBatch, &mut n), EW_ERR_INVALID_HANDLE);
    assert_eq!(ew_batch_num_games(b, &mut n), EW_OK);
    assert_eq!(n, 2);
    assert_eq!(ew_batch_free(b), EW_OK);
    assert_eq!(ew_batch_num_games(b, &mut n), EW_ERR_INVALID_HANDLE);
    assert_eq!(ew_batch_free(b), EW_ERR_INVALID_HANDLE);
    assert_eq!(ew_game_free(g2), EW_OK);
}

#[test]
fn quarantine_keeps_stale_handles_detectable_then_releases_memory() {
    let _serial = serial();
    let first = new_game(5);
    assert_eq!(ew_game_free(first), EW_OK);
    // Churn: while `first` is quarantined no new handle can take its address.
    for k in 0..(QUARANTINE as u64 + 10) {
        let g = new_game(k);
        if k < QUARANTINE as u64 {
            assert_ne!(g, first, "a quarantined address was handed out again");
        }
        assert_eq!(ew_game_free(g), EW_OK);
    }
    // `first` left the quarantine and its memory went back to the allocator; it
    // is refused as unknown (or, if the address was recycled for a handle that is
    // now itself freed, as freed), and never dereferenced either way.
    let mut b = 0u8;
    assert_eq!(ew_game_current_player(first, &mut b), EW_ERR_INVALID_HANDLE);
}

#[test]
fn buffers_are_checked() {
    let _serial = serial();
    let g = new_game(3);
    let mut small = [0f32; 10];
    assert_eq!(ew_game_observe(g, small.as_mut_ptr(), small.len()), EW_ERR_BUFFER_TOO_SMALL);
    assert!(last_error().contains("326"), "{}", last_error());
    assert!(small.iter().all(|&x| x == 0.0), "nothing written to a short buffer");
    assert_eq!(ew_game_observe(g, null_mut(), 326), EW_ERR_BAD_ARGUMENT);
    let mut raw = [0u8; 4 * 330];
    let misaligned = (raw.as_mut_ptr() as usize | 1) as *mut f32;
    assert_eq!(ew_game_observe(g, misaligned, 326), EW_ERR_BAD_ARGUMENT);
    assert!(last_error().contains("misaligned"), "{}", last_error());
    let mut mask = [0u8; 255];
    assert_eq!(ew_game_action_mask(g, mask.as_mut_ptr(), mask.len()), EW_ERR_BUFFER_TOO_SMALL);
    let mut out = 0u8;
    assert_eq!(ew_game_current_player(g, null_mut()), EW_ERR_BAD_ARGUMENT);
    assert_eq!(ew_game_current_player(g, &mut out), EW_OK);

    // Legal actions: the count comes back even when the buffer is short.
    let mut count = 0usize;
    assert_eq!(ew_game_legal_actions(g, null_mut(), 0, &mut count), EW_ERR_BUFFER_TOO_SMALL);
    assert!(count >= 1);
    let mut acts = vec![0u8; count];
    assert_eq!(ew_game_legal_actions(g, acts.as_mut_ptr(), acts.len(), &mut count), EW_OK);
    assert_eq!(*acts.last().unwrap(), 255);

    // Render: two-call pattern.
    let mut needed = 0usize;
    assert_eq!(ew_game_render(g, null_mut(), 0, &mut needed), EW_ERR_BUFFER_TOO_SMALL);
    assert!(needed > 10);
    let mut text = vec![0 as c_char; needed];
    assert_eq!(ew_game_render(g, text.as_mut_ptr(), text.len(), &mut needed), EW_OK);
    // SAFETY: ew_game_render wrote a NUL-terminated string of `needed` bytes.
    let s = unsafe { CStr::from_ptr(text.as_ptr()) }.to_string_lossy().into_owned();
    assert_eq!(s.len() + 1, needed);
    assert!(s.contains("P0:"), "{s}");
    assert_eq!(ew_game_free(g), EW_OK);
}

#[test]
fn illegal_actions_change_nothing() {
    let _serial = serial();
    let g = new_game(4);
    let before = snapshot(g);
    let (mut r, mut d) = (7f32, 7u8);
    for bad in [-1i64, 256, 1_000_000, 200, 134 + 1] {
        assert_eq!(ew_game_step(g, bad, &mut r, &mut d), EW_ERR_ILLEGAL_ACTION, "{bad}");
        let msg = last_error();
        assert!(msg.contains(&bad.to_string()) && msg.contains("legal"), "{msg}");
    }
    // An attack from an empty lane on turn 1.
    assert_eq!(ew_game_step(g, 50 + 5 * 2 + 3, &mut r, &mut d), EW_ERR_ILLEGAL_ACTION);
    assert!(last_error().contains("attack from lane 2 into enemy lane 3"), "{}", last_error());
    assert_eq!((r, d), (7.0, 7), "outputs untouched on error");
    assert_eq!(snapshot(g), before);
    assert_eq!(ew_game_free(g), EW_OK);
}

#[test]
fn game_over_is_reported() {
    let _serial = serial();
    let g = new_game(9);
    let (mut r, mut d) = (0f32, 0u8);
    let mut steps = 0;
    while d == 0 {
        let mut a = 0u8;
        assert_eq!(ew_game_random_action(g, steps, &mut a), EW_OK);
        assert_eq!(ew_game_step(g, a as i64, &mut r, &mut d), EW_OK);
        steps += 1;
        assert!(steps < 5000);
    }
    let mut over = 0u8;
    assert_eq!(ew_game_is_over(g, &mut over), EW_OK);
    assert_eq!(over, 1);
    let mut w = 9i32;
    assert_eq!(ew_game_winner(g, &mut w), EW_OK);
    let mut rw = [0f32; 2];
    assert_eq!(ew_game_reward(g, 0, &mut rw[0]), EW_OK);
    assert_eq!(ew_game_reward(g, 1, &mut rw[1]), EW_OK);
    assert_eq!(ew_game_reward(g, 2, &mut rw[1]), EW_ERR_BAD_ARGUMENT);
    match w {
        -1 => assert_eq!(rw, [0.0, 0.0]),
        0 => assert_eq!(rw, [1.0, -1.0]),
        1 => assert_eq!(rw, [-1.0, 1.0]),
        _ => panic!("winner {w}"),
    }
    assert_eq!(ew_game_step(g, 255, &mut r, &mut d), EW_ERR_GAME_OVER);
    let mut a = 0u8;
    assert_eq!(ew_game_greedy_action(g, 0, &mut a), EW_ERR_GAME_OVER);
    let mut mask = [1u8; 256];
    assert_eq!(ew_game_action_mask(g, mask.as_mut_ptr(), 256), EW_OK);
    assert!(mask.iter().all(|&m| m == 0));
    assert_eq!(ew_game_reset(g, 9), EW_OK);
    assert_eq!(ew_game_is_over(g, &mut over), EW_OK);
    assert_eq!(over, 0);
    assert_eq!(ew_game_free(g), EW_OK);
}

#[test]
fn panics_are_caught() {
    let _serial = serial();
    assert_eq!(ew_debug_panic(), EW_ERR_PANIC);
    assert!(last_error().contains("internal panic") && last_error().contains("ew_debug_panic"), "{}", last_error());
    // The library still works afterwards.
    let g = new_game(1);
    assert_eq!(ew_game_free(g), EW_OK);
}

#[test]
fn decks_cards_and_modes_are_validated() {
    let _serial = serial();
    let d0 = deck_name(0);
    let mut g = null_mut();
    let typo = cstr("argentum_contrl");
    assert_eq!(ew_game_new(1, typo.as_ptr(), d0.as_ptr(), null(), &mut g), EW_ERR_UNKNOWN_DECK);
    assert!(last_error().contains("did you mean") && last_error().contains("valid decks"), "{}", last_error());
    assert!(g.is_null());
    let bad_mode = cstr("chess");
    assert_eq!(ew_game_new(1, d0.as_ptr(), d0.as_ptr(), bad_mode.as_ptr(), &mut g), EW_ERR_BAD_ARGUMENT);
    assert!(last_error().contains("essence_duel"), "{}", last_error());
    let mut ids = [0i64; 30];
    let mut count = 0usize;
    let mut list = [0u16; 30];
    assert_eq!(ew_deck_cards(0, list.as_mut_ptr(), 30, &mut count), EW_OK);
    for (a, b) in ids.iter_mut().zip(list) {
        *a = b as i64;
    }
    let mut bad = ids;
    bad[7] = 1_000_000;
    assert_eq!(ew_game_new_custom(1, bad.as_ptr(), 30, ids.as_ptr(), 30, null(), &mut g), EW_ERR_UNKNOWN_CARD);
    assert!(last_error().contains("1000000"), "{}", last_error());
    assert_eq!(ew_game_new_custom(1, ids.as_ptr(), 29, ids.as_ptr(), 30, null(), &mut g), EW_ERR_INVALID_DECK);
    assert_eq!(ew_deck_validate(bad.as_ptr(), 30), EW_ERR_UNKNOWN_CARD);
    let mut idx = 0u32;
    assert_eq!(ew_deck_find(d0.as_ptr(), &mut idx), EW_OK);
    assert_eq!(idx, 0);
    let mut info = std::mem::MaybeUninit::<EwCardInfo>::uninit();
    assert_eq!(ew_card_info(ew_card_count(), info.as_mut_ptr()), EW_ERR_UNKNOWN_CARD);
    assert_eq!(ew_card_info(0, info.as_mut_ptr()), EW_OK);
    let mut name: *const c_char = null();
    assert_eq!(ew_keyword_name(0, &mut name), EW_OK);
    // SAFETY: EW_OK means `name` is a static NUL-terminated string.
    assert_eq!(unsafe { CStr::from_ptr(name) }.to_str().unwrap(), "Guard");
    assert_eq!(ew_keyword_name(16, &mut name), EW_ERR_BAD_ARGUMENT);
}

#[test]
fn snapshots_round_trip_and_garbage_is_rejected() {
    let _serial = serial();
    let g = new_game(12);
    let (mut r, mut d) = (0f32, 0u8);
    for t in 0..40 {
        let mut a = 0u8;
        assert_eq!(ew_game_random_action(g, t, &mut a), EW_OK);
        assert_eq!(ew_game_step(g, a as i64, &mut r, &mut d), EW_OK);
        if d != 0 {
            break;
        }
    }
    let bytes = snapshot(g);
    let mut copy = null_mut();
    assert_eq!(ew_game_deserialize(bytes.as_ptr(), bytes.len(), &mut copy), EW_OK, "{}", last_error());
    assert_eq!(snapshot(copy), bytes);
    assert_eq!(observe(copy), observe(g));
    // Both continue identically.
    for t in 0..30 {
        let mut a = 0u8;
        if ew_game_random_action(g, 1000 + t, &mut a) != EW_OK {
            break;
        }
        let (mut r2, mut d2) = (0f32, 0u8);
        assert_eq!(ew_game_step(g, a as i64, &mut r, &mut d), EW_OK);
        assert_eq!(ew_game_step(copy, a as i64, &mut r2, &mut d2), EW_OK);
        assert_eq!((r, d), (r2, d2));
        assert_eq!(observe(copy), observe(g));
    }
    // Garbage.
    let mut out = null_mut();
    assert_eq!(ew_game_deserialize(bytes.as_ptr(), 100, &mut out), EW_ERR_BAD_DATA);
    assert!(last_error().contains("519"), "{}", last_error());
    let zeros = vec![0u8; bytes.len()];
    assert_eq!(ew_game_deserialize(zeros.as_ptr(), zeros.len(), &mut out), EW_ERR_BAD_DATA);
    assert!(last_error().contains("magic"), "{}", last_error());
    let mut flipped = bytes.clone();
    flipped[200] ^= 1;
    assert_eq!(ew_game_deserialize(flipped.as_ptr(), flipped.len(), &mut out), EW_ERR_BAD_DATA);
    assert!(last_error().contains("checksum"), "{}", last_error());
    assert!(out.is_null());
    assert_eq!(ew_game_deserialize(null(), 5, &mut out), EW_ERR_BAD_ARGUMENT);
    // Short buffer for serialize reports the size.
    let mut needed = 0usize;
    let mut tiny = [0u8; 8];
    assert_eq!(ew_game_serialize(g, tiny.as_mut_ptr(), tiny.len(), &mut needed), EW_ERR_BUFFER_TOO_SMALL);
    assert_eq!(needed, EW_STATE_BYTES as usize);
    assert_eq!(ew_game_free(copy), EW_OK);
    assert_eq!(ew_game_free(g), EW_OK);
}

#[test]
fn clone_is_independent() {
    let _serial = serial();
    let g = new_game(21);
    let mut c = null_mut();
    assert_eq!(ew_game_clone(g, &mut c), EW_OK);
    let before = snapshot(g);
    let (mut r, mut d) = (0f32, 0u8);
    assert_eq!(ew_game_step(c, 255, &mut r, &mut d), EW_OK);
    assert_eq!(snapshot(g), before);
    assert_ne!(snapshot(c), before);
    assert_eq!(ew_game_free(g), EW_OK);
    let mut p = 0u8;
    assert_eq!(ew_game_current_player(c, &mut p), EW_OK, "the clone outlives its original");
    assert_eq!(p, 1);
    assert_eq!(ew_game_free(c), EW_OK);
}

struct BatchBufs {
    obs: Vec<f32>,
    masks: Vec<u8>,
    rewards: Vec<f32>,
    term: Vec<u8>,
    trunc: Vec<u8>,
    cp: Vec<u8>,
    illegal: Vec<u8>,
    final_obs: Vec<f32>,
}

impl BatchBufs {
    fn new(n: usize) -> BatchBufs {
        BatchBufs {
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
    fn out(&mut self) -> EwBatchOutput {
        EwBatchOutput {
            num_games: self.rewards.len() as u32,
            obs: self.obs.as_mut_ptr(),
            masks: self.masks.as_mut_ptr(),
            rewards: self.rewards.as_mut_ptr(),
            terminated: self.term.as_mut_ptr(),
            truncated: self.trunc.as_mut_ptr(),
            current_player: self.cp.as_mut_ptr(),
            illegal: self.illegal.as_mut_ptr(),
            final_obs: self.final_obs.as_mut_ptr(),
        }
    }
}

#[test]
fn batch_equals_single_games_through_the_abi() {
    let _serial = serial();
    let n = 5usize;
    let b = new_batch(n, 0);
    let mut bufs = BatchBufs::new(n);
    let out = bufs.out();
    assert_eq!(ew_batch_reset(b, 500, null(), &out), EW_OK, "{}", last_error());
    let games: Vec<*mut EwGame> = (0..n).map(|i| new_game(500 + i as u64)).collect();
    let mut live = vec![true; n];
    for t in 0..4000u64 {
        if !live.iter().any(|&l| l) {
            break;
        }
        let idx: Vec<u32> = (0..n as u32).filter(|&i| live[i as usize]).collect();
        let mut acts = Vec::new();
        for &i in &idx {
            let mut a = 0u8;
            assert_eq!(ew_game_random_action(games[i as usize], t * 31 + i as u64, &mut a), EW_OK);
            acts.push(a as i64);
        }
        let mut bad = 0i64;
        assert_eq!(
            ew_batch_step_subset(b, idx.as_ptr(), acts.as_ptr(), idx.len(), &out, &mut bad),
            EW_OK,
            "{}",
            last_error()
        );
        for (k, &i) in idx.iter().enumerate() {
            let i = i as usize;
            let (mut r, mut dn) = (0f32, 0u8);
            assert_eq!(ew_game_step(games[i], acts[k], &mut r, &mut dn), EW_OK);
            let o = observe(games[i]);
            assert_eq!(&bufs.obs[i * OBS_SIZE..(i + 1) * OBS_SIZE], &o[..]);
            assert_eq!(bufs.rewards[i], r);
            assert_eq!(bufs.term[i], dn);
            let mut m = [0u8; 256];
            assert_eq!(ew_game_action_mask(games[i], m.as_mut_ptr(), 256), EW_OK);
            assert_eq!(&bufs.masks[i * 256..(i + 1) * 256], &m[..]);
            live[i] = dn == 0;
        }
    }
    assert!(live.iter().all(|&l| !l));
    // Stepping a finished game without autoreset is refused, naming it.
    let mut bad = 0i64;
    let acts = vec![255i64; n];
    assert_eq!(ew_batch_step(b, acts.as_ptr(), &out, &mut bad), EW_ERR_GAME_OVER);
    assert_eq!(bad, 0);
    for g in games {
        assert_eq!(ew_game_free(g), EW_OK);
    }
    assert_eq!(ew_batch_free(b), EW_OK);
}

#[test]
fn batch_errors_name_the_game_and_change_nothing() {
    let _serial = serial();
    let n = 4usize;
    let b = new_batch(n, 1);
    let mut bufs = BatchBufs::new(n);
    let out = bufs.out();
    assert_eq!(ew_batch_reset(b, 0, null(), &out), EW_OK);
    let snap = |b: *mut EwBatch| -> Vec<Vec<u8>> {
        (0..n as u32)
            .map(|i| {
                let mut g = null_mut();
                assert_eq!(ew_batch_get_game(b, i, &mut g), EW_OK);
                let s = snapshot(g);
                assert_eq!(ew_game_free(g), EW_OK);
                s
            })
            .collect()
    };
    let before = snap(b);
    let obs_before = bufs.obs.clone();
    let mut bad = 0i64;
    let acts = [255i64, 255, 77, 255];
    assert_eq!(ew_batch_step(b, acts.as_ptr(), &out, &mut bad), EW_ERR_ILLEGAL_ACTION);
    assert_eq!(bad, 2);
    assert!(last_error().contains("game 2"), "{}", last_error());
    assert_eq!(snap(b), before);
    assert_eq!(bufs.obs, obs_before);
    // Wrong row count, NULL required arrays, overlapping arrays, duplicate indices.
    let mut wrong = out;
    wrong.num_games = 3;
    assert_eq!(ew_batch_step(b, [255i64; 4].as_ptr(), &wrong, &mut bad), EW_ERR_BUFFER_TOO_SMALL);
    let mut wrong = out;
    wrong.obs = null_mut();
    assert_eq!(ew_batch_step(b, [255i64; 4].as_ptr(), &wrong, &mut bad), EW_ERR_BAD_ARGUMENT);
    let mut wrong = out;
    wrong.truncated = wrong.terminated;
    assert_eq!(ew_batch_step(b, [255i64; 4].as_ptr(), &wrong, &mut bad), EW_ERR_BAD_ARGUMENT);
    assert!(last_error().contains("overlap"), "{}", last_error());
    let idx = [1u32, 1];
    assert_eq!(ew_batch_step_subset(b, idx.as_ptr(), [255i64; 2].as_ptr(), 2, &out, &mut bad), EW_ERR_BAD_ARGUMENT);
    let idx = [9u32];
    assert_eq!(ew_batch_step_subset(b, idx.as_ptr(), [255i64].as_ptr(), 1, &out, &mut bad), EW_ERR_BAD_ARGUMENT);
    assert_eq!(snap(b), before);
    let bad_opp = cstr("minimax");
    assert_eq!(ew_batch_set_opponent(b, EW_ALL_GAMES, bad_opp.as_ptr()), EW_ERR_BAD_ARGUMENT);
    assert_eq!(ew_batch_set_agent_seat(b, 0, 2), EW_ERR_BAD_ARGUMENT);
    assert_eq!(ew_batch_set_agent_seat(b, 7, 1), EW_ERR_BAD_ARGUMENT);
    assert_eq!(ew_batch_free(b), EW_OK);
}

#[test]
fn batch_with_opponents_and_autoreset() {
    let _serial = serial();
    let n = 3usize;
    let d = deck_name(0);
    let mut b = null_mut();
    assert_eq!(ew_batch_new(n as u32, d.as_ptr(), d.as_ptr(), null(), 1, EW_ILLEGAL_LOSE, &mut b), EW_OK);
    let greedy = cstr("greedy");
    let random = cstr("random");
    assert_eq!(ew_batch_set_opponent(b, EW_ALL_GAMES, random.as_ptr()), EW_OK);
    assert_eq!(ew_batch_set_opponent(b, 2, greedy.as_ptr()), EW_OK);
    assert_eq!(ew_batch_set_agent_seat(b, 1, 1), EW_OK);
    let mut bufs = BatchBufs::new(n);
    let out = bufs.out();
    assert_eq!(ew_batch_reset(b, 77, null(), &out), EW_OK);
    assert_eq!(bufs.cp, vec![0, 1, 0]);
    let mut episodes = 0;
    for t in 0..3000u64 {
        // The agent plays the first legal action, or an illegal one now and then.
        let acts: Vec<i64> = (0..n)
            .map(|i| {
                if t % 97 == 13 && i == 0 {
                    return 140; // reserved: forfeits under EW_ILLEGAL_LOSE
                }
                let m = &bufs.masks[i * 256..(i + 1) * 256];
                let legal: Vec<usize> = (0..256).filter(|&a| m[a] != 0).collect();
                legal[(t as usize * 7 + i) % legal.len()] as i64
            })
            .collect();
        let mut bad = 0i64;
        assert_eq!(ew_batch_step(b, acts.as_ptr(), &out, &mut bad), EW_OK, "{}", last_error());
        for i in 0..n {
            assert_eq!(bufs.cp[i] as usize, if i == 1 { 1 } else { 0 }, "agent to move in game {i}");
            if bufs.term[i] != 0 {
                episodes += 1;
                assert!([-1.0, 0.0, 1.0].contains(&bufs.rewards[i]));
                if bufs.illegal[i] != 0 {
                    assert_eq!(bufs.rewards[i], -1.0);
                }
            } else {
                assert_eq!(bufs.rewards[i], 0.0);
                assert_eq!(bufs.illegal[i], 0);
            }
        }
    }
    assert!(episodes > 3, "{episodes}");
    assert_eq!(ew_batch_free(b), EW_OK);
}

#[test]
fn trajectory_hash_matches_a_handle_driven_replay() {
    let _serial = serial();
    let d = deck_name(0);
    let mut h = 0u64;
    let mut steps = 0u32;
    assert_eq!(ew_debug_trajectory_hash(31, d.as_ptr(), d.as_ptr(), null(), 4, 10_000, &mut h, &mut steps), EW_OK);
    assert!(steps > 10);
    // Replay through handles.
    let g = new_game(31);
    let mut acc: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &x in bytes {
            acc ^= x as u64;
            acc = acc.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    let mut t = 0u64;
    loop {
        for x in observe(g) {
            feed(&x.to_le_bytes());
        }
        let mut m = [0u8; 256];
        assert_eq!(ew_game_action_mask(g, m.as_mut_ptr(), 256), EW_OK);
        feed(&m);
        let mut over = 0u8;
        assert_eq!(ew_game_is_over(g, &mut over), EW_OK);
        if over != 0 {
            break;
        }
        let legal: Vec<usize> = (0..256).filter(|&a| m[a] != 0).collect();
        let k = crate::batch::mix64(4u64.wrapping_add(t)) % legal.len() as u64;
        let (mut r, mut dn) = (0f32, 0u8);
        assert_eq!(ew_game_step(g, legal[k as usize] as i64, &mut r, &mut dn), EW_OK);
        feed(&r.to_le_bytes());
        feed(&[dn]);
        t += 1;
    }
    assert_eq!(t as u32, steps);
    assert_eq!(acc, h);
    assert_eq!(ew_game_free(g), EW_OK);
}

#[test]
fn live_handle_count_returns_to_its_start() {
    let _serial = serial();
    // Other tests run in parallel threads, so only check this test's own handles.
    let gs: Vec<_> = (0..10).map(new_game).collect();
    let mut games = 0u64;
    assert_eq!(ew_debug_live_handles(&mut games, null_mut()), EW_OK);
    assert!(games >= 10);
    for g in gs {
        assert_eq!(ew_game_free(g), EW_OK);
    }
}

#[test]
fn version_strings() {
    let _serial = serial();
    // SAFETY: static NUL-terminated strings.
    let v = unsafe { CStr::from_ptr(ew_version()) }.to_str().unwrap();
    assert_eq!(v, crate::VERSION);
    assert_eq!(ew_obs_version(), OBS_VERSION);
    // SAFETY: as above.
    let s = unsafe { CStr::from_ptr(ew_status_name(3)) }.to_str().unwrap();
    assert_eq!(s, "EW_ERR_ILLEGAL_ACTION");
}

#[test]
fn card_ids_check_their_arguments_and_follow_the_mover() {
    let _serial = serial();
    let g = new_game(5);
    let mut ids = [0u16; EW_CARD_ID_SLOTS as usize];
    assert_eq!(ew_game_card_ids(g, -1, ids.as_mut_ptr(), ids.len()), EW_OK);
    let mut as0 = [0u16; EW_CARD_ID_SLOTS as usize];
    assert_eq!(ew_game_card_ids(g, 0, as0.as_mut_ptr(), as0.len()), EW_OK);
    assert_eq!(ids, as0, "seat 0 moves first");
    assert!(ids[..10].iter().all(|&i| (i as u32) < EW_CARD_ID_VOCAB));
    let before = snapshot(g);
    assert_eq!(ew_game_card_ids(g, 2, ids.as_mut_ptr(), ids.len()), EW_ERR_BAD_ARGUMENT);
    assert!(last_error().contains("seat"), "{}", last_error());
    assert_eq!(ew_game_card_ids(g, 0, ids.as_mut_ptr(), 33), EW_ERR_BUFFER_TOO_SMALL);
    assert_eq!(ew_game_card_ids(g, 0, null_mut(), 34), EW_ERR_BAD_ARGUMENT);
    assert_eq!(ew_game_card_ids(null(), 0, ids.as_mut_ptr(), 34), EW_ERR_NULL_HANDLE);
    assert_eq!(snapshot(g), before);
    assert_eq!(ew_game_free(g), EW_OK);
}

/// `ew_game_afterstates` into buffers sized by a first call with NULL buffers.
fn afterstates(g: *const EwGame) -> (Vec<f32>, Vec<f32>) {
    let mut rows = usize::MAX;
    let st = ew_game_afterstates(g, null_mut(), 0, null_mut(), 0, &mut rows);
    if rows == 0 {
        assert_eq!(st, EW_OK, "no rows: nothing to write");
        return (Vec::new(), Vec::new());
    }
    assert_eq!(st, EW_ERR_BUFFER_TOO_SMALL, "{}", last_error());
    let (mut obs, mut res) = (vec![0f32; rows * OBS_SIZE], vec![0f32; rows]);
    let mut again = 0usize;
    assert_eq!(ew_game_afterstates(g, obs.as_mut_ptr(), obs.len(), res.as_mut_ptr(), res.len(), &mut again), EW_OK);
    assert_eq!(again, rows);
    (obs, res)
}

#[test]
fn game_afterstates_are_clone_step_observe_seat_of_each_legal_action() {
    let _serial = serial();
    let g = new_game(41);
    let (mut r, mut d) = (0f32, 0u8);
    for t in 0..400u64 {
        let before = snapshot(g);
        let mut mover = 0u8;
        assert_eq!(ew_game_current_player(g, &mut mover), EW_OK);
        let mut legal = [0u8; 256];
        let mut n = 0usize;
        assert_eq!(ew_game_legal_actions(g, legal.as_mut_ptr(), 256, &mut n), EW_OK);
        let (obs, res) = afterstates(g);
        assert_eq!(res.len(), n);
        assert_eq!(snapshot(g), before, "the game is unchanged");
        for (k, &a) in legal[..n].iter().enumerate() {
            let mut c = null_mut();
            assert_eq!(ew_game_clone(g, &mut c), EW_OK);
            let (mut rc, mut dc) = (0f32, 0u8);
            assert_eq!(ew_game_step(c, a as i64, &mut rc, &mut dc), EW_OK);
            let mut want = vec![0f32; OBS_SIZE];
            assert_eq!(ew_game_observe_seat(c, mover as i32, want.as_mut_ptr(), OBS_SIZE), EW_OK);
            assert_eq!(&obs[k * OBS_SIZE..(k + 1) * OBS_SIZE], &want[..], "step {t}, action {a}");
            assert_eq!(res[k], rc, "the mover's result is the reward of the step");
            assert_eq!(ew_game_free(c), EW_OK);
        }
        if d != 0 {
            assert!(res.is_empty(), "a finished game has no afterstates");
            break;
        }
        let mut a = 0u8;
        assert_eq!(ew_game_random_action(g, t, &mut a), EW_OK);
        assert_eq!(ew_game_step(g, a as i64, &mut r, &mut d), EW_OK);
    }
    assert_eq!(d, 1, "the game ended");
    assert_eq!(ew_game_free(g), EW_OK);
}

#[test]
fn game_afterstates_check_their_arguments() {
    let _serial = serial();
    let g = new_game(6);
    let mut rows = 0usize;
    assert_eq!(ew_game_afterstates(g, null_mut(), 0, null_mut(), 0, &mut rows), EW_ERR_BUFFER_TOO_SMALL);
    assert!(rows >= 1);
    assert!(last_error().contains(&(rows * OBS_SIZE).to_string()), "{}", last_error());
    let need = rows * OBS_SIZE;
    // One spare row of sentinels: nothing is written past the rows, or at all on an error.
    let mut obs = vec![-5f32; need + OBS_SIZE];
    let mut res = vec![-5f32; rows + 1];
    let untouched = |obs: &[f32], res: &[f32]| obs.iter().all(|&x| x == -5.0) && res.iter().all(|&x| x == -5.0);
    let (o, r) = (obs.as_mut_ptr(), res.as_mut_ptr());
    let mut k = 0usize;
    assert_eq!(ew_game_afterstates(g, o, need - 1, r, rows, &mut k), EW_ERR_BUFFER_TOO_SMALL);
    assert!(last_error().contains("observation") && last_error().contains(&need.to_string()), "{}", last_error());
    assert_eq!(k, rows, "the row count comes back with a short buffer");
    assert_eq!(ew_game_afterstates(g, o, need, r, rows - 1, null_mut()), EW_ERR_BUFFER_TOO_SMALL);
    assert!(last_error().contains("result"), "{}", last_error());
    assert_eq!(ew_game_afterstates(g, null_mut(), need, r, rows, null_mut()), EW_ERR_BAD_ARGUMENT);
    assert!(last_error().contains("NULL"), "{}", last_error());
    assert_eq!(ew_game_afterstates(g, o, need, null_mut(), rows, null_mut()), EW_ERR_BAD_ARGUMENT);
    let mut raw = vec![0u8; 4 * (need + 2)];
    let misaligned = (raw.as_mut_ptr() as usize | 1) as *mut f32;
    assert_eq!(ew_game_afterstates(g, misaligned, need, r, rows, null_mut()), EW_ERR_BAD_ARGUMENT);
    assert!(last_error().contains("misaligned"), "{}", last_error());
    // SAFETY: `o + need - 1` (the last float of the rows) stays inside `obs`.
    let inside = unsafe { o.add(need - 1) };
    assert_eq!(ew_game_afterstates(g, o, need, inside, rows, null_mut()), EW_ERR_BAD_ARGUMENT);
    assert!(last_error().contains("overlap"), "{}", last_error());
    assert!(untouched(&obs, &res));
    assert_eq!(ew_game_afterstates(g, o, obs.len(), r, res.len(), &mut k), EW_OK);
    assert_eq!(k, rows);
    assert!(untouched(&obs[need..], &res[rows..]), "nothing past the rows");
    assert!(!untouched(&obs[..need], &res[..rows]));
    assert_eq!(ew_game_afterstates(null(), o, need, r, rows, &mut k), EW_ERR_NULL_HANDLE);
    assert_eq!(ew_game_free(g), EW_OK);
    assert_eq!(ew_game_afterstates(g, o, need, r, rows, &mut k), EW_ERR_INVALID_HANDLE);
    assert!(last_error().contains("use after free"), "{}", last_error());
}

#[test]
fn batch_afterstates_are_the_games_blocks_in_index_order() {
    let _serial = serial();
    let n = 5usize;
    let b = new_batch(n, 0);
    let mut bufs = BatchBufs::new(n);
    let out = bufs.out();
    assert_eq!(ew_batch_reset(b, 90, null(), &out), EW_OK);
    let get = |i: u32| {
        let mut g = null_mut();
        assert_eq!(ew_batch_get_game(b, i, &mut g), EW_OK);
        g
    };
    let orders: [&[u32]; 4] = [&[0, 1, 2, 3, 4], &[3, 0, 4], &[2], &[]];
    for t in 0..200u64 {
        for idx in orders {
            let mut counts = vec![7u32; idx.len()];
            assert_eq!(ew_batch_legal_counts(b, idx.as_ptr(), idx.len(), counts.as_mut_ptr(), counts.len()), EW_OK);
            let total: usize = counts.iter().map(|&c| c as usize).sum();
            let mut rows = usize::MAX;
            let st = ew_batch_afterstates(b, idx.as_ptr(), idx.len(), null_mut(), 0, null_mut(), 0, &mut rows);
            assert_eq!(st, if total == 0 { EW_OK } else { EW_ERR_BUFFER_TOO_SMALL });
            assert_eq!(rows, total);
            let (mut obs, mut res) = (vec![-5f32; (total + 1) * OBS_SIZE], vec![-5f32; total + 1]);
            let (o, r) = (obs.as_mut_ptr(), res.as_mut_ptr());
            let st = ew_batch_afterstates(b, idx.as_ptr(), idx.len(), o, obs.len(), r, res.len(), &mut rows);
            assert_eq!(st, EW_OK, "{}", last_error());
            assert_eq!(rows, total);
            assert!(obs[total * OBS_SIZE..].iter().all(|&x| x == -5.0) && res[total] == -5.0);
            let mut at = 0;
            for (j, &i) in idx.iter().enumerate() {
                let g = get(i);
                let (go, gr) = afterstates(g);
                assert_eq!(gr.len(), counts[j] as usize);
                assert_eq!(&obs[at * OBS_SIZE..(at + gr.len()) * OBS_SIZE], &go[..], "game {i} at step {t}");
                assert_eq!(&res[at..at + gr.len()], &gr[..]);
                at += gr.len();
                assert_eq!(ew_game_free(g), EW_OK);
            }
        }
        // Step the live games: the first legal action now and then, else a later one.
        let live: Vec<u32> = (0..n as u32).filter(|&i| bufs.masks[i as usize * 256..][..256].contains(&1)).collect();
        if live.is_empty() {
            break;
        }
        let acts: Vec<i64> = live
            .iter()
            .map(|&i| {
                let m = &bufs.masks[i as usize * 256..][..256];
                let legal: Vec<i64> = (0..256).filter(|&a| m[a as usize] != 0).collect();
                legal[(t as usize * 5 + i as usize) % legal.len()]
            })
            .collect();
        let mut bad = 0i64;
        assert_eq!(ew_batch_step_subset(b, live.as_ptr(), acts.as_ptr(), live.len(), &out, &mut bad), EW_OK);
    }
    assert_eq!(ew_batch_free(b), EW_OK);
}

#[test]
fn batch_afterstates_check_their_arguments() {
    let _serial = serial();
    let d = deck_name(0);
    let mut b = null_mut();
    assert_eq!(ew_batch_new(3, d.as_ptr(), d.as_ptr(), null(), 0, EW_ILLEGAL_ERROR, &mut b), EW_OK);
    let mut obs = vec![-5f32; 3 * 256 * OBS_SIZE];
    let mut res = vec![-5f32; 3 * 256];
    let (o, r) = (obs.as_mut_ptr(), res.as_mut_ptr());
    let (ol, rl) = (obs.len(), res.len());
    let mut counts = [9u32; 3];
    let mut rows = 77usize;
    for idx in [&[0u32, 3][..], &[1, 1], &[u32::MAX]] {
        assert_eq!(ew_batch_afterstates(b, idx.as_ptr(), idx.len(), o, ol, r, rl, &mut rows), EW_ERR_BAD_ARGUMENT);
        let msg = last_error();
        assert!(msg.contains("out of range") || msg.contains("twice"), "{msg}");
        assert_eq!(ew_batch_legal_counts(b, idx.as_ptr(), idx.len(), counts.as_mut_ptr(), 3), EW_ERR_BAD_ARGUMENT);
    }
    assert_eq!(ew_batch_afterstates(b, null(), 2, o, ol, r, rl, &mut rows), EW_ERR_BAD_ARGUMENT);
    assert!(last_error().contains("indices"), "{}", last_error());
    let idx = [2u32, 0, 1];
    assert_eq!(ew_batch_legal_counts(b, idx.as_ptr(), 3, counts.as_mut_ptr(), 2), EW_ERR_BUFFER_TOO_SMALL);
    assert_eq!(ew_batch_legal_counts(b, idx.as_ptr(), 3, null_mut(), 3), EW_ERR_BAD_ARGUMENT);
    assert_eq!(counts, [9; 3]);
    assert_eq!(ew_batch_legal_counts(b, idx.as_ptr(), 3, counts.as_mut_ptr(), 3), EW_OK);
    let total: usize = counts.iter().map(|&c| c as usize).sum();
    let need = total * OBS_SIZE;
    let st = ew_batch_afterstates(b, idx.as_ptr(), 3, o, need - 1, r, rl, &mut rows);
    assert_eq!(st, EW_ERR_BUFFER_TOO_SMALL);
    assert_eq!(rows, total);
    assert!(last_error().contains(&need.to_string()), "{}", last_error());
    let st = ew_batch_afterstates(b, idx.as_ptr(), 3, o, ol, r, total - 1, &mut rows);
    assert_eq!(st, EW_ERR_BUFFER_TOO_SMALL);
    assert_eq!(ew_batch_afterstates(b, idx.as_ptr(), 3, o, ol, null_mut(), rl, &mut rows), EW_ERR_BAD_ARGUMENT);
    assert!(obs.iter().all(|&x| x == -5.0) && res.iter().all(|&x| x == -5.0), "nothing written on an error");
    assert_eq!(ew_batch_afterstates(b, idx.as_ptr(), 3, o, need, r, total, null_mut()), EW_OK);
    assert!(obs[need..].iter().all(|&x| x == -5.0) && res[total..].iter().all(|&x| x == -5.0));
    assert_eq!(ew_batch_afterstates(null_mut(), idx.as_ptr(), 3, o, ol, r, rl, &mut rows), EW_ERR_NULL_HANDLE);
    assert_eq!(ew_batch_legal_counts(null_mut(), idx.as_ptr(), 3, counts.as_mut_ptr(), 3), EW_ERR_NULL_HANDLE);
    let g = new_game(1);
    let st = ew_batch_afterstates(g as *mut EwBatch, idx.as_ptr(), 3, o, ol, r, rl, &mut rows);
    assert_eq!(st, EW_ERR_INVALID_HANDLE);
    assert_eq!(ew_game_free(g), EW_OK);
    assert_eq!(ew_batch_free(b), EW_OK);
    assert_eq!(ew_batch_afterstates(b, idx.as_ptr(), 3, o, ol, r, rl, &mut rows), EW_ERR_INVALID_HANDLE);
    assert!(last_error().contains("use after free"), "{}", last_error());
}

#[test]
fn mcts_stats_agree_with_the_bot_and_sum_to_the_budget() {
    let _serial = serial();
    let g = new_game(5);
    let spec = cstr("mcts-200");
    let (mut a, mut b) = (0u8, 0u8);
    let mut visits = [7u32; 256];
    let mut values = [9.0f32; 256];
    assert_eq!(ew_game_mcts_stats(g, spec.as_ptr(), 11, &mut a, visits.as_mut_ptr(), values.as_mut_ptr()), EW_OK);
    assert_eq!(ew_game_bot_action(g, spec.as_ptr(), 11, &mut b), EW_OK);
    assert_eq!(a, b, "the same seed plays the same action");
    assert_eq!(visits.iter().sum::<u32>(), 200);
    let mut mask = [0u8; 256];
    assert_eq!(ew_game_action_mask(g, mask.as_mut_ptr(), 256), EW_OK);
    for i in 0..256 {
        assert!(mask[i] == 1 || (visits[i] == 0 && values[i] == 0.0), "illegal action {i} has statistics");
        assert!((-1.0..=1.0).contains(&values[i]));
    }
    let best = (0..256).max_by_key(|&i| visits[i]).unwrap();
    assert_eq!(visits[a as usize], visits[best], "the played action is a most visited one");

    // Bad input is refused and writes nothing.
    let mut v2 = [3u32; 256];
    for bad in ["greedy", "random", "mcts-0", "nonsense"] {
        let s = cstr(bad);
        assert_eq!(
            ew_game_mcts_stats(g, s.as_ptr(), 0, &mut a, v2.as_mut_ptr(), values.as_mut_ptr()),
            EW_ERR_BAD_ARGUMENT
        );
    }
    assert_eq!(ew_game_mcts_stats(g, spec.as_ptr(), 0, &mut a, null_mut(), values.as_mut_ptr()), EW_ERR_BAD_ARGUMENT);
    assert!(last_error().contains("visits"), "{}", last_error());
    assert_eq!(
        ew_game_mcts_stats(g, spec.as_ptr(), 0, null_mut(), v2.as_mut_ptr(), values.as_mut_ptr()),
        EW_ERR_BAD_ARGUMENT
    );
    assert!(v2.iter().all(|&v| v == 3));
    assert_eq!(
        ew_game_mcts_stats(null(), spec.as_ptr(), 0, &mut a, v2.as_mut_ptr(), values.as_mut_ptr()),
        EW_ERR_NULL_HANDLE
    );
    assert_eq!(ew_game_free(g), EW_OK);
}
