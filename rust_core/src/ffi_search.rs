//! The C ABI of the neural MCTS (`search`): an opaque `EwSearch` handle over
//! many search trees and the batched leaf protocol (`ew_search_select`, then
//! the caller's network, then `ew_search_expand`). The header section is
//! generated from this file by cbindgen and appended to
//! `include/essence_wars.h` (see `tests/test_header.py`).
//!
//! # Conventions (as in `ffi.rs`)
//!
//! - Every fallible function returns an `EwStatus`. On a failure nothing was
//!   changed, and `ew_search_last_error()` returns the message (thread-local,
//!   valid until the next failing `ew_search_*` call on the thread). The
//!   `ew_search_*` functions keep their own message because `ffi.rs`'s
//!   error slot is private to that module; `ew_last_error()` is not updated.
//! - Buffers are the caller's, with their lengths in elements; a length that
//!   is not exactly the one needed is `EW_ERR_BAD_ARGUMENT` (a buffer too
//!   short is `EW_ERR_BUFFER_TOO_SMALL`).
//! - No panic crosses the boundary: every function runs under `catch_unwind`
//!   (`guard`), and a panic comes back as `EW_ERR_PANIC`.
//! - Handles: `ffi.rs`'s handle registry is private to it, so this module
//!   keeps its own with the same checks: every `EwSearch` is recorded in a
//!   process-wide registry (address -> alive) before it is returned; a handle
//!   is looked up there before it is dereferenced (NULL is
//!   `EW_ERR_NULL_HANDLE`; unknown or freed is `EW_ERR_INVALID_HANDLE`); a
//!   freed handle's magic is killed, its trees dropped, and its memory held in
//!   a FIFO quarantine of `EW_HANDLE_QUARANTINE` handles, so a stale handle
//!   reads as "freed" and never aliases a new search.
//! - Game and batch handles are reached only through `ffi.rs`'s own exported
//!   functions (`ew_game_serialize`, `ew_game_deserialize`,
//!   `ew_batch_get_game`, `ew_game_free`), which validate them.

#![allow(non_camel_case_types)]

use crate::actions::NUM_ACTIONS;
use crate::bots::Rollout;
use crate::decks::{Deck, DeckError};
use crate::encoding::OBS_SIZE;
use crate::ffi::{EwBatch, EwGame, EwStatus, EW_HANDLE_QUARANTINE};
use crate::search::{PriorKind, Search, SearchConfig, SearchError};
use crate::serialize;
use crate::state::{Game, Mode};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Mutex, MutexGuard, OnceLock};
use EwStatus::*;

/// `EwSearchConfig.priors`: rows are logits; the search takes a softmax over the legal actions.
pub const EW_PRIORS_LOGITS: u32 = 0;
/// `EwSearchConfig.priors`: rows are probabilities, renormalised over the legal actions.
pub const EW_PRIORS_PROBABILITIES: u32 = 1;
/// `EwSearchConfig.rollout_policy`: rollouts play uniformly random legal actions.
pub const EW_ROLLOUT_RANDOM: u32 = 0;
/// `EwSearchConfig.rollout_policy`: rollouts play the greedy bot's actions.
pub const EW_ROLLOUT_GREEDY: u32 = 1;
/// `ew_search_root_state` status: the tree has no game.
pub const EW_ROOT_NONE: u32 = 0;
/// `ew_search_root_state` status: the root game is running.
pub const EW_ROOT_RUNNING: u32 = 1;
/// `ew_search_root_state` status: the root game is over.
pub const EW_ROOT_OVER: u32 = 2;

/// Search parameters (`ew_search_default_config` fills the defaults).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EwSearchConfig {
    /// New simulations per move (default 64).
    pub simulations: u32,
    /// PUCT constant in `Q + c_puct * P * sqrt(N_parent) / (1 + N)` (default 1.25).
    pub c_puct: f32,
    /// Dirichlet concentration of the root noise (default 0.3).
    pub dirichlet_alpha: f32,
    /// Weight of the root noise; 0 disables it, for evaluation (default 0.25).
    pub dirichlet_fraction: f32,
    /// Unvisited children are valued at the parent's mean minus this (default 0.25).
    pub fpu_reduction: f32,
    /// Leaves per tree per round; above 1 uses virtual loss (default 1).
    pub leaves_per_tree: u32,
    /// Virtual loss per pending descent (default 1.0).
    pub virtual_loss: f32,
    /// `EW_PRIORS_LOGITS` (default) or `EW_PRIORS_PROBABILITIES`.
    pub priors: u32,
    /// 1: keep the chosen subtree after a move (default); 0: start afresh.
    pub reuse_tree: u32,
    /// Weight in [0, 1] of a rollout in each leaf's value (default 0:
    /// the network's value alone, as in AlphaZero).
    pub rollout_weight: f32,
    /// The rollouts' policy: `EW_ROLLOUT_RANDOM` (default) or `EW_ROLLOUT_GREEDY`.
    pub rollout_policy: u32,
    /// 1: deal the undrawn cards afresh before each rollout, so rollouts do
    /// not see the hidden deck order; 0 (default): they draw the real cards.
    pub rollout_determinized: u32,
}

impl From<SearchConfig> for EwSearchConfig {
    fn from(c: SearchConfig) -> EwSearchConfig {
        EwSearchConfig {
            simulations: c.simulations,
            c_puct: c.c_puct,
            dirichlet_alpha: c.dirichlet_alpha,
            dirichlet_fraction: c.dirichlet_fraction,
            fpu_reduction: c.fpu_reduction,
            leaves_per_tree: c.leaves_per_tree,
            virtual_loss: c.virtual_loss,
            priors: match c.priors {
                PriorKind::Logits => EW_PRIORS_LOGITS,
                PriorKind::Probabilities => EW_PRIORS_PROBABILITIES,
            },
            reuse_tree: c.reuse_tree as u32,
            rollout_weight: c.rollout_weight,
            rollout_policy: match c.rollout_policy {
                Rollout::Random => EW_ROLLOUT_RANDOM,
                Rollout::Greedy => EW_ROLLOUT_GREEDY,
            },
            rollout_determinized: c.rollout_determinized as u32,
        }
    }
}

impl EwSearchConfig {
    fn to_config(self) -> Result<SearchConfig, Failure> {
        let priors = match self.priors {
            EW_PRIORS_LOGITS => PriorKind::Logits,
            EW_PRIORS_PROBABILITIES => PriorKind::Probabilities,
            p => {
                return fail(
                    EW_ERR_BAD_ARGUMENT,
                    format!("priors must be EW_PRIORS_LOGITS (0) or EW_PRIORS_PROBABILITIES (1), got {p}"),
                )
            }
        };
        let rollout_policy = match self.rollout_policy {
            EW_ROLLOUT_RANDOM => Rollout::Random,
            EW_ROLLOUT_GREEDY => Rollout::Greedy,
            p => {
                return fail(
                    EW_ERR_BAD_ARGUMENT,
                    format!("rollout_policy must be EW_ROLLOUT_RANDOM (0) or EW_ROLLOUT_GREEDY (1), got {p}"),
                )
            }
        };
        if self.reuse_tree > 1 {
            return fail(EW_ERR_BAD_ARGUMENT, format!("reuse_tree must be 0 or 1, got {}", self.reuse_tree));
        }
        if self.rollout_determinized > 1 {
            return fail(
                EW_ERR_BAD_ARGUMENT,
                format!("rollout_determinized must be 0 or 1, got {}", self.rollout_determinized),
            );
        }
        let c = SearchConfig {
            simulations: self.simulations,
            c_puct: self.c_puct,
            dirichlet_alpha: self.dirichlet_alpha,
            dirichlet_fraction: self.dirichlet_fraction,
            fpu_reduction: self.fpu_reduction,
            leaves_per_tree: self.leaves_per_tree,
            virtual_loss: self.virtual_loss,
            priors,
            reuse_tree: self.reuse_tree == 1,
            rollout_weight: self.rollout_weight,
            rollout_policy,
            rollout_determinized: self.rollout_determinized == 1,
        };
        c.validate()?;
        Ok(c)
    }
}

/// An opaque handle over many search trees.
pub struct EwSearch {
    magic: u64,
    search: Option<Search>,
}

const SEARCH_MAGIC: u64 = 0x4557_5345_4152_0001; // "EWSEAR"
const DEAD_MAGIC: u64 = 0xDEAD_DEAD_DEAD_DEAD;
const QUARANTINE: usize = EW_HANDLE_QUARANTINE as usize;

// ---------------------------------------------------------------------------
// Errors and the panic guard.

struct Failure {
    status: EwStatus,
    msg: String,
}

fn fail<T>(status: EwStatus, msg: impl Into<String>) -> Result<T, Failure> {
    Err(Failure { status, msg: msg.into() })
}

impl From<SearchError> for Failure {
    fn from(e: SearchError) -> Failure {
        let status = match e {
            SearchError::BadArgument(_) => EW_ERR_BAD_ARGUMENT,
            SearchError::Illegal { .. } => EW_ERR_ILLEGAL_ACTION,
            SearchError::GameOver { .. } => EW_ERR_GAME_OVER,
        };
        Failure { status, msg: e.to_string() }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn guard(f: impl FnOnce() -> Result<(), Failure>) -> EwStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => EW_OK,
        Ok(Err(e)) => {
            set_error(&e.msg);
            e.status
        }
        Err(payload) => {
            let msg = if let Some(s) = payload.downcast_ref::<&str>() {
                (*s).to_string()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "unknown panic payload".to_string()
            };
            set_error(&format!("internal panic (a bug in essence_wars search): {msg}"));
            EW_ERR_PANIC
        }
    }
}

/// A failure of a call into `ffi.rs`, with its message.
fn engine_failure(status: EwStatus, what: &str) -> Failure {
    let msg = ffi_last_error();
    Failure { status, msg: format!("{what}: {msg}") }
}

fn ffi_last_error() -> String {
    let p = crate::ffi::ew_last_error();
    if p.is_null() {
        return String::new();
    }
    // SAFETY: `ew_last_error` returns a pointer to this thread's NUL-terminated
    // message, valid until the next failing call on this thread (none here).
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

// ---------------------------------------------------------------------------
// The handle registry (same scheme as ffi.rs, for `EwSearch` only).

struct Registry {
    handles: HashMap<usize, bool>,
    quarantine: VecDeque<usize>,
    live: u64,
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| Mutex::new(Registry { handles: HashMap::new(), quarantine: VecDeque::new(), live: 0 }))
        .lock()
        // Nothing panics while holding the lock; a poisoned registry is still consistent.
        .unwrap_or_else(|e| e.into_inner())
}

fn check_handle(addr: usize) -> Result<(), Failure> {
    if addr == 0 {
        return fail(EW_ERR_NULL_HANDLE, "the search handle is NULL");
    }
    match registry().handles.get(&addr) {
        Some(true) => Ok(()),
        Some(false) => fail(EW_ERR_INVALID_HANDLE, "the search handle was already freed (use after free)"),
        None => {
            fail(EW_ERR_INVALID_HANDLE, "not a live search handle from this library (never created, or freed long ago)")
        }
    }
}

fn new_handle(search: Search) -> *mut EwSearch {
    let p = Box::into_raw(Box::new(EwSearch { magic: SEARCH_MAGIC, search: Some(search) }));
    let mut r = registry();
    r.handles.insert(p as usize, true);
    r.live += 1;
    p
}

fn free_handle(addr: usize) -> Result<(), Failure> {
    check_handle(addr)?;
    let mut r = registry();
    match r.handles.get_mut(&addr) {
        Some(alive) if *alive => *alive = false,
        _ => return fail(EW_ERR_INVALID_HANDLE, "the search handle was already freed"),
    }
    // SAFETY: the registry recorded `addr` as a live search handle made by
    // `Box::into_raw` in `new_handle`; only this function (under the lock,
    // just now) marks it freed, so no other free can race with this access.
    let h = unsafe { &mut *(addr as *mut EwSearch) };
    h.magic = DEAD_MAGIC;
    h.search = None;
    r.live -= 1;
    r.quarantine.push_back(addr);
    if r.quarantine.len() > QUARANTINE {
        let old = r.quarantine.pop_front().expect("non-empty");
        r.handles.remove(&old);
        // SAFETY: `old` came from `Box::into_raw` in `new_handle`, was freed (no
        // live handle refers to it) and is released exactly once, here.
        drop(unsafe { Box::from_raw(old as *mut EwSearch) });
    }
    Ok(())
}

fn search_mut<'a>(s: *mut EwSearch) -> Result<&'a mut Search, Failure> {
    check_handle(s as usize)?;
    // SAFETY: the registry says `s` is a live search handle (a Box we own); the
    // caller guarantees no concurrent use of the handle during the call.
    let h = unsafe { &mut *s };
    match (h.magic, h.search.as_mut()) {
        (SEARCH_MAGIC, Some(search)) => Ok(search),
        _ => fail(EW_ERR_INVALID_HANDLE, "the search handle is corrupt (bad magic)"),
    }
}

// ---------------------------------------------------------------------------
// Buffers.

fn check_ptr<T>(ptr: *const T, what: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        return fail(EW_ERR_BAD_ARGUMENT, format!("{what} is NULL"));
    }
    if ptr as usize % std::mem::align_of::<T>() != 0 {
        return fail(EW_ERR_BAD_ARGUMENT, format!("{what} is misaligned"));
    }
    Ok(())
}

fn check_len(len: usize, need: usize, what: &str) -> Result<(), Failure> {
    if len < need {
        return fail(EW_ERR_BUFFER_TOO_SMALL, format!("{what} buffer holds {len} values, needs {need}"));
    }
    if len != need {
        return fail(EW_ERR_BAD_ARGUMENT, format!("{what} buffer holds {len} values, needs exactly {need}"));
    }
    Ok(())
}

/// A caller's output buffer of exactly `need` elements.
fn out_buf<'a, T>(ptr: *mut T, len: usize, need: usize, what: &str) -> Result<&'a mut [T], Failure> {
    check_ptr(ptr, what)?;
    check_len(len, need, what)?;
    // SAFETY: non-NULL and aligned; the caller guarantees `len` (== need)
    // writable elements that nothing else accesses during the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, need) })
}

/// A caller's input buffer of exactly `need` elements.
fn in_buf<'a, T>(ptr: *const T, len: usize, need: usize, what: &str) -> Result<&'a [T], Failure> {
    check_ptr(ptr, what)?;
    check_len(len, need, what)?;
    // SAFETY: non-NULL and aligned; the caller guarantees `len` readable elements.
    Ok(unsafe { std::slice::from_raw_parts(ptr, need) })
}

fn put<T>(out: *mut T, value: T, what: &str) -> Result<(), Failure> {
    check_ptr(out, what)?;
    // SAFETY: non-NULL and aligned; the caller guarantees it points to a writable T.
    unsafe { out.write(value) };
    Ok(())
}

fn in_str<'a>(s: *const c_char, what: &str) -> Result<Option<&'a str>, Failure> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; the caller guarantees a NUL-terminated string valid during the call.
    match unsafe { CStr::from_ptr(s) }.to_str() {
        Ok(v) => Ok(Some(v)),
        Err(_) => fail(EW_ERR_BAD_ARGUMENT, format!("{what} is not valid UTF-8")),
    }
}

fn read_config(config: *const EwSearchConfig) -> Result<SearchConfig, Failure> {
    if config.is_null() {
        return Ok(SearchConfig::default());
    }
    check_ptr(config, "config")?;
    // SAFETY: non-NULL and aligned; the caller guarantees a readable EwSearchConfig.
    unsafe { config.read() }.to_config()
}

/// A copy of the game behind a game handle, through `ffi.rs`'s validated
/// serialisation (this module cannot see inside `EwGame`).
fn game_copy(game: *const EwGame) -> Result<Game, Failure> {
    let mut buf = [0u8; serialize::STATE_BYTES];
    let mut needed = 0usize;
    let st = crate::ffi::ew_game_serialize(game, buf.as_mut_ptr(), buf.len(), &mut needed);
    if st != EW_OK {
        return Err(engine_failure(st, "game"));
    }
    serialize::decode(&buf[..needed])
        .map_err(|e| Failure { status: EW_ERR_PANIC, msg: format!("snapshot round trip failed: {e}") })
}

fn deck(name: *const c_char, what: &str) -> Result<Deck, Failure> {
    let Some(n) = in_str(name, what)? else {
        return fail(EW_ERR_BAD_ARGUMENT, format!("{what} is NULL"));
    };
    Deck::preset(n).map_err(|e| {
        let status = match e {
            DeckError::UnknownPreset { .. } => EW_ERR_UNKNOWN_DECK,
            _ => EW_ERR_INVALID_DECK,
        };
        Failure { status, msg: e.to_string() }
    })
}

// ---------------------------------------------------------------------------
// Exported functions.

/// The message of the most recent failed `ew_search_*` call on this thread
/// ("" if none). Valid until the next failing `ew_search_*` call on this thread.
#[no_mangle]
pub extern "C" fn ew_search_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// Fills `*out` with the default configuration (self-play: 64 simulations, root noise on).
#[no_mangle]
pub extern "C" fn ew_search_default_config(out: *mut EwSearchConfig) -> EwStatus {
    guard(|| put(out, SearchConfig::default().into(), "out"))
}

/// A new search of `num_trees` trees (no games yet) into `*out`; `config`
/// may be NULL for the defaults. Tree i's generator is seeded from `seed` and i.
/// Free it with `ew_search_free`.
#[no_mangle]
pub extern "C" fn ew_search_new(
    num_trees: u32,
    config: *const EwSearchConfig,
    seed: u64,
    out: *mut *mut EwSearch,
) -> EwStatus {
    guard(|| {
        check_ptr(out, "out")?;
        let cfg = read_config(config)?;
        let search = Search::new(num_trees as usize, cfg, seed)?;
        put(out, new_handle(search), "out")
    })
}

/// Frees a search (NULL, freed or unknown handles are errors, never crashes).
#[no_mangle]
pub extern "C" fn ew_search_free(search: *mut EwSearch) -> EwStatus {
    guard(|| free_handle(search as usize))
}

/// Replaces the configuration (not between `select` and `expand`). Changing
/// `leaves_per_tree` changes the number of rows of the leaf buffers.
#[no_mangle]
pub extern "C" fn ew_search_set_config(search: *mut EwSearch, config: *const EwSearchConfig) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        check_ptr(config, "config")?;
        let cfg = read_config(config)?;
        Ok(s.set_config(cfg)?)
    })
}

/// The current configuration into `*out`.
#[no_mangle]
pub extern "C" fn ew_search_get_config(search: *mut EwSearch, out: *mut EwSearchConfig) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        put(out, (*s.config()).into(), "out")
    })
}

/// Number of trees (B) into `*trees` and rows of the leaf buffers (B x
/// leaves_per_tree) into `*rows`; either may be NULL.
#[no_mangle]
pub extern "C" fn ew_search_size(search: *mut EwSearch, trees: *mut u32, rows: *mut u32) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        if !trees.is_null() {
            put(trees, s.len() as u32, "trees")?;
        }
        if !rows.is_null() {
            put(rows, s.rows() as u32, "rows")?;
        }
        Ok(())
    })
}

/// Makes a copy of `game` the root of tree `index` (NULL: the tree has no
/// game and sits idle). Drops the tree's old statistics.
#[no_mangle]
pub extern "C" fn ew_search_set_root(search: *mut EwSearch, index: u32, game: *const EwGame) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        let g = if game.is_null() { None } else { Some(game_copy(game)?) };
        Ok(s.set_root(index as usize, g)?)
    })
}

/// Deals a new game (preset decks by name, `mode` "attrition" or
/// "essence_duel", NULL = attrition) as the root of tree `index`.
#[no_mangle]
pub extern "C" fn ew_search_new_game(
    search: *mut EwSearch,
    index: u32,
    deck0: *const c_char,
    deck1: *const c_char,
    mode: *const c_char,
    seed: u64,
) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        let (d0, d1) = (deck(deck0, "deck0")?, deck(deck1, "deck1")?);
        let mode = match in_str(mode, "mode")? {
            None => Mode::Attrition,
            Some(m) => match Mode::parse(m) {
                Some(m) => m,
                None => {
                    return fail(
                        EW_ERR_BAD_ARGUMENT,
                        format!("unknown mode {m:?}; valid modes: attrition, essence_duel"),
                    )
                }
            },
        };
        Ok(s.set_root(index as usize, Some(Game::new(seed, d0, d1, mode)))?)
    })
}

/// For k in 0..n: the root of tree `tree_indices[k]` becomes a copy of game
/// `batch_indices[k]` of `batch`. All indices are checked first.
#[no_mangle]
pub extern "C" fn ew_search_set_roots_from_batch(
    search: *mut EwSearch,
    batch: *mut EwBatch,
    tree_indices: *const u32,
    batch_indices: *const u32,
    n: usize,
) -> EwStatus {
    guard(|| roots_from_batch(search, batch, tree_indices, batch_indices, n, false, None))
}

/// As `ew_search_set_roots_from_batch`, but a tree whose old statistics hold
/// a node for exactly the new position (its root, or an expanded node any
/// number of actions below it: our own next action of a turn, or the
/// opponent's whole turn if the search explored it) keeps that subtree, when
/// the configuration's `reuse_tree` is 1. The position decides, so a tree
/// never lends its statistics to a different game. `kept` (NULL: not
/// wanted) receives n flags: 1 where statistics were kept. The move's
/// `simulations` count restarts at zero either way.
#[no_mangle]
pub extern "C" fn ew_search_set_roots_from_batch_keeping(
    search: *mut EwSearch,
    batch: *mut EwBatch,
    tree_indices: *const u32,
    batch_indices: *const u32,
    n: usize,
    kept: *mut u8,
) -> EwStatus {
    guard(|| {
        let flags = if kept.is_null() || n == 0 { None } else { Some(out_buf(kept, n, n, "kept")?) };
        roots_from_batch(search, batch, tree_indices, batch_indices, n, true, flags)
    })
}

/// The body of both: `keep` keeps matching subtrees (reported into `kept`,
/// if given); without it the old trees are dropped.
fn roots_from_batch(
    search: *mut EwSearch,
    batch: *mut EwBatch,
    tree_indices: *const u32,
    batch_indices: *const u32,
    n: usize,
    keep: bool,
    mut kept: Option<&mut [u8]>,
) -> Result<(), Failure> {
    let s = search_mut(search)?;
    if n == 0 {
        return Ok(());
    }
    let trees = in_buf(tree_indices, n, n, "tree_indices")?;
    let games = in_buf(batch_indices, n, n, "batch_indices")?;
    if let Some(&t) = trees.iter().find(|&&t| t as usize >= s.len()) {
        return fail(EW_ERR_BAD_ARGUMENT, format!("tree index {t} out of range (the search has {} trees)", s.len()));
    }
    let mut copies = Vec::with_capacity(n);
    for &i in games {
        let mut handle: *mut EwGame = std::ptr::null_mut();
        let st = crate::ffi::ew_batch_get_game(batch, i, &mut handle);
        if st != EW_OK {
            return Err(engine_failure(st, &format!("batch game {i}")));
        }
        let copy = game_copy(handle);
        let _ = crate::ffi::ew_game_free(handle);
        copies.push(copy?);
    }
    if s.awaiting_evaluation() {
        return fail(EW_ERR_BAD_ARGUMENT, "cannot set roots while leaves await evaluation: call expand first");
    }
    for (k, (&t, g)) in trees.iter().zip(copies).enumerate() {
        let statistics_kept = if keep {
            s.set_root_keeping(t as usize, g)?
        } else {
            s.set_root(t as usize, Some(g))?;
            false
        };
        if let Some(f) = kept.as_deref_mut() {
            f[k] = statistics_kept as u8;
        }
    }
    Ok(())
}

/// A copy of tree `index`'s root game as a new game handle into `*out`
/// (free it with `ew_game_free`). `EW_ERR_GAME_OVER` if the tree has no game.
#[no_mangle]
pub extern "C" fn ew_search_get_root(search: *mut EwSearch, index: u32, out: *mut *mut EwGame) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        check_ptr(out, "out")?;
        if index as usize >= s.len() {
            return fail(
                EW_ERR_BAD_ARGUMENT,
                format!("tree index {index} out of range (the search has {} trees)", s.len()),
            );
        }
        let Some(g) = s.tree(index as usize).root() else {
            return fail(EW_ERR_GAME_OVER, format!("tree {index} has no game"));
        };
        let bytes = serialize::encode(g);
        let st = crate::ffi::ew_game_deserialize(bytes.as_ptr(), bytes.len(), out);
        if st != EW_OK {
            return Err(engine_failure(st, "root copy"));
        }
        Ok(())
    })
}

/// Reseeds tree `index`'s generator (root noise and move sampling).
#[no_mangle]
pub extern "C" fn ew_search_seed_tree(search: *mut EwSearch, index: u32, seed: u64) -> EwStatus {
    guard(|| Ok(search_mut(search)?.seed_tree(index as usize, seed)?))
}

/// Drops every tree's statistics for the current move (keeps the root games).
#[no_mangle]
pub extern "C" fn ew_search_restart(search: *mut EwSearch) -> EwStatus {
    guard(|| Ok(search_mut(search)?.restart()?))
}

/// Step 1 of a round. Advances every tree with simulations left to a leaf
/// (up to `leaves_per_tree` leaves each) and writes, for row
/// `r = tree * leaves_per_tree + k`: the leaf's observation into
/// `obs[r*326..]` (float32, `obs_len` = rows*326), its legal-action mask into
/// `masks[r*256..]` (uint8, `masks_len` = rows*256) and 1 into `flags[r]`
/// (`flags_len` = rows); rows without a leaf get 0 and zeroed obs and mask.
/// Terminal positions are backed up with the true result and never written.
/// `*num_leaves` gets the number of leaves; 0 means every tree has finished
/// this move's simulations and no `expand` is due.
#[no_mangle]
pub extern "C" fn ew_search_select(
    search: *mut EwSearch,
    obs: *mut f32,
    obs_len: usize,
    masks: *mut u8,
    masks_len: usize,
    flags: *mut u8,
    flags_len: usize,
    num_leaves: *mut u32,
) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        let rows = s.rows();
        let o = out_buf(obs, obs_len, rows * OBS_SIZE, "obs")?;
        let m = out_buf(masks, masks_len, rows * NUM_ACTIONS, "masks")?;
        let f = out_buf(flags, flags_len, rows, "flags")?;
        check_ptr(num_leaves, "num_leaves")?;
        let n = s.select(o, m, f)?;
        put(num_leaves, n as u32, "num_leaves")
    })
}

/// Step 2 of a round: the network's outputs for the rows `ew_search_select`
/// flagged. `priors` (`priors_len` = rows*256 float32) are logits by default
/// (softmax over the legal actions; entries of illegal actions are ignored,
/// -inf and NaN included), or probabilities with `EW_PRIORS_PROBABILITIES`.
/// `values` (`values_len` = rows) are for the player to move at each leaf,
/// in [-1, 1] (clamped). Rows not flagged are not read. A non-finite value or
/// legal-action prior in a flagged row is `EW_ERR_BAD_ARGUMENT` (nothing
/// changed); so is calling this without a pending `select`.
#[no_mangle]
pub extern "C" fn ew_search_expand(
    search: *mut EwSearch,
    priors: *const f32,
    priors_len: usize,
    values: *const f32,
    values_len: usize,
) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        let rows = s.rows();
        let p = in_buf(priors, priors_len, rows * NUM_ACTIONS, "priors")?;
        let v = in_buf(values, values_len, rows, "values")?;
        Ok(s.expand(p, v)?)
    })
}

/// Between `ew_search_select` (with leaves) and `ew_search_expand`: the
/// afterstates of every pending leaf, for networks that score each action by
/// the position it leads to (as `ew_game_afterstates` writes them for one
/// game), leaf after leaf in row order. Row r is the r-th set bit of the
/// flagged rows of the masks `ew_search_select` wrote, read row by row, so
/// the caller sizes the buffers from those masks: `obs_len` = bits*326
/// float32, `result_len` = bits (the mover's result after each action: +1
/// won, -1 lost, 0 otherwise). The count is also written to `num_rows`.
/// Nothing in the search changes. Without pending leaves, or with a buffer
/// of another size, it fails and writes nothing.
#[no_mangle]
pub extern "C" fn ew_search_leaf_afterstates(
    search: *mut EwSearch,
    obs: *mut f32,
    obs_len: usize,
    result: *mut f32,
    result_len: usize,
    num_rows: *mut u32,
) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        // Before the buffers are sized: without pending leaves their size means nothing.
        s.check_pending("ew_search_leaf_afterstates")?;
        let rows = s.leaf_afterstate_rows();
        let o = out_buf(obs, obs_len, rows * OBS_SIZE, "afterstate obs")?;
        let r = out_buf(result, result_len, rows, "afterstate result")?;
        check_ptr(num_rows, "num_rows")?;
        let n = s.leaf_afterstates(o, r)?;
        put(num_rows, n as u32, "num_rows")
    })
}

/// Root visit counts per action into `out` (`len` = trees*256 float32):
/// zeros for trees without a running game; a forced move (one legal action)
/// gets `simulations` on it. With tree reuse, visits carried over count too.
#[no_mangle]
pub extern "C" fn ew_search_root_visits(search: *mut EwSearch, out: *mut f32, len: usize) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        let o = out_buf(out, len, s.len() * NUM_ACTIONS, "out")?;
        Ok(s.root_visits(o)?)
    })
}

/// Root mean values into `out` (`len` = trees): for the player to move at
/// each root, in [-1, 1]; 0 where no search ran.
#[no_mangle]
pub extern "C" fn ew_search_root_values(search: *mut EwSearch, out: *mut f32, len: usize) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        let o = out_buf(out, len, s.len(), "out")?;
        Ok(s.root_values(o)?)
    })
}

/// One action per tree into `actions` (`len` = trees, int64): the most
/// visited root action at `temperature` 0 (ties: higher prior, then lower
/// index), else sampled with probability proportional to visits^(1/T) from
/// the tree's generator; -1 for trees without a running game.
#[no_mangle]
pub extern "C" fn ew_search_choose(search: *mut EwSearch, temperature: f32, actions: *mut i64, len: usize) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        let a = out_buf(actions, len, s.len(), "actions")?;
        Ok(s.choose(temperature, a)?)
    })
}

/// Plays `actions[i]` (`len` = trees, int64; -1 leaves tree i alone) at each
/// root and re-roots the trees (keeping the chosen subtree if `reuse_tree`).
/// `rewards[i]` gets the reward of the player who acted (+1 win, -1 loss, 0
/// otherwise) and `done[i]` 1 if tree i's game is over (either may be NULL).
/// Every action is checked first: an illegal one is `EW_ERR_ILLEGAL_ACTION`,
/// one for a finished or absent game `EW_ERR_GAME_OVER`, and nothing is played.
#[no_mangle]
pub extern "C" fn ew_search_apply(
    search: *mut EwSearch,
    actions: *const i64,
    len: usize,
    rewards: *mut f32,
    done: *mut u8,
) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        let b = s.len();
        let a = in_buf(actions, len, b, "actions")?;
        let mut r = vec![0.0f32; b];
        let mut d = vec![0u8; b];
        s.apply(a, &mut r, &mut d)?;
        if !rewards.is_null() {
            out_buf(rewards, b, b, "rewards")?.copy_from_slice(&r);
        }
        if !done.is_null() {
            out_buf(done, b, b, "done")?.copy_from_slice(&d);
        }
        Ok(())
    })
}

/// The roots as the network sees them, one row per tree (`len` = trees): the
/// observation into `obs` (trees*326 float32), the mask into `masks`
/// (trees*256 uint8), the seat to move into `players` (uint8) and
/// `EW_ROOT_NONE` / `EW_ROOT_RUNNING` / `EW_ROOT_OVER` into `status` (uint8).
/// Any of the four may be NULL. Rows of trees without a game are zeroed.
#[no_mangle]
pub extern "C" fn ew_search_root_state(
    search: *mut EwSearch,
    len: usize,
    obs: *mut f32,
    masks: *mut u8,
    players: *mut u8,
    status: *mut u8,
) -> EwStatus {
    guard(|| {
        let s = search_mut(search)?;
        let b = s.len();
        check_len(len, b, "len")?;
        let mut o = if obs.is_null() { None } else { Some(out_buf(obs, b * OBS_SIZE, b * OBS_SIZE, "obs")?) };
        let mut m =
            if masks.is_null() { None } else { Some(out_buf(masks, b * NUM_ACTIONS, b * NUM_ACTIONS, "masks")?) };
        let mut p = if players.is_null() { None } else { Some(out_buf(players, b, b, "players")?) };
        let mut st = if status.is_null() { None } else { Some(out_buf(status, b, b, "status")?) };
        for i in 0..b {
            let root = s.tree(i).root();
            if let Some(o) = o.as_deref_mut() {
                let row: &mut [f32; OBS_SIZE] = (&mut o[i * OBS_SIZE..(i + 1) * OBS_SIZE]).try_into().expect("row");
                match root {
                    Some(g) => g.observe(row),
                    None => row.fill(0.0),
                }
            }
            if let Some(m) = m.as_deref_mut() {
                let row: &mut [u8; NUM_ACTIONS] =
                    (&mut m[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS]).try_into().expect("row");
                match root {
                    Some(g) if !g.is_over() => g.legal_mask().write_bytes(row),
                    _ => row.fill(0),
                }
            }
            if let Some(p) = p.as_deref_mut() {
                p[i] = root.map_or(0, |g| g.current_player() as u8);
            }
            if let Some(st) = st.as_deref_mut() {
                st[i] = match root {
                    None => EW_ROOT_NONE as u8,
                    Some(g) if g.is_over() => EW_ROOT_OVER as u8,
                    Some(_) => EW_ROOT_RUNNING as u8,
                };
            }
        }
        Ok(())
    })
}

/// Live search handles into `*out`, for leak checks.
#[no_mangle]
pub extern "C" fn ew_search_debug_live(out: *mut u64) -> EwStatus {
    guard(|| {
        let live = registry().live;
        put(out, live, "out")
    })
}

/// Panics inside a guarded `ew_search_*` call: always `EW_ERR_PANIC`.
#[no_mangle]
pub extern "C" fn ew_search_debug_panic() -> EwStatus {
    guard(|| panic!("ew_search_debug_panic was called"))
}
