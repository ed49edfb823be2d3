//! The C ABI: `ew_`-prefixed functions over opaque handles (`EwGame`,
//! `EwBatch`) and caller-owned buffers. The header `include/essence_wars.h`
//! is generated from this file by cbindgen.
//!
//! # Conventions
//!
//! - Every fallible function returns an [`EwStatus`] (`EW_OK` = 0). On a
//!   failure, `ew_last_error()` returns a readable message for it (thread-local;
//!   the pointer stays valid until the next failing call on the same thread)
//!   and nothing was changed: not the game, not the batch, not the outputs.
//! - Results come back through out-pointers; buffers are the caller's, with
//!   their length passed alongside, and a short buffer is
//!   `EW_ERR_BUFFER_TOO_SMALL` (variable-length outputs also report the length
//!   needed, so a caller can ask with a NULL buffer of length 0 first).
//! - No panic crosses the boundary: each function runs under `catch_unwind`,
//!   and an internal panic comes back as `EW_ERR_PANIC` with its message.
//! - A handle may be used from any thread, but not from two threads at once.
//!
//! # How bad handles are caught (use after free)
//!
//! Every handle the library hands out is recorded in a process-wide registry
//! (a hash map keyed by the handle's address, behind a mutex) as live game or
//! live batch. Before a handle is dereferenced, the registry is consulted: a
//! NULL handle is `EW_ERR_NULL_HANDLE`; an address the registry does not
//! know, a freed handle, or a handle of the other kind is
//! `EW_ERR_INVALID_HANDLE`. So an unknown pointer is never dereferenced.
//!
//! Freeing a handle does not return its memory at once: the handle's magic is
//! overwritten with a dead value, its contents are dropped, its registry entry
//! is marked freed, and its address goes into a FIFO quarantine of the last
//! `EW_HANDLE_QUARANTINE` (1024) freed handles. Only when it leaves the quarantine is the
//! memory released and the entry removed. While an address is in quarantine
//! no new handle can be given the same address, so a stale handle is reported
//! as "freed" (double free included) and never aliases a new object. After
//! it has left the quarantine a stale pointer is reported as unknown, unless
//! the allocator has by then reused the address for a new handle, which no
//! check on a bare pointer can tell apart; 1024 frees later that is the one
//! case left to the caller.

#![allow(non_camel_case_types)]

use crate::actions::NUM_ACTIONS;
use crate::batch::{Batch, BatchError, IllegalPolicy, Outputs};
use crate::bots::{BotSpec, MctsBot};
use crate::card_ids::{card_ids_as, CARD_ID_SLOTS, CARD_ID_VOCAB};
use crate::cards::{self, Kind, Rarity};
use crate::decks::{self, Deck, DeckError, DECK_SIZE};
use crate::encoding::{OBS_SIZE, OBS_VERSION};
use crate::keywords::Keyword;
use crate::rules::ActionError;
use crate::serialize;
use crate::state::{Game, Mode};
use std::cell::Cell;
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::ffi::{c_char, CStr, CString};
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

// ---------------------------------------------------------------------------
// Constants (literal so cbindgen can write them; checked against the engine).

/// Floats in one observation.
pub const EW_OBS_SIZE: u32 = 326;
/// Action indices (the mask has one byte per index).
pub const EW_NUM_ACTIONS: u32 = 256;
/// Cards in a deck.
pub const EW_DECK_SIZE: u32 = 30;
/// Keywords (bits of `EwCardInfo.keywords`).
pub const EW_NUM_KEYWORDS: u32 = 16;
/// Bytes of a game snapshot (`ew_game_serialize`).
pub const EW_STATE_BYTES: u32 = 519;
/// Card ids per game in `ew_game_card_ids` / `ew_batch_card_ids` (hands, lanes, supports).
pub const EW_CARD_ID_SLOTS: u32 = 34;
/// Embedding rows those ids need: 0 is an empty slot, card id + 1 otherwise.
pub const EW_CARD_ID_VOCAB: u32 = 150;
/// `index` value meaning "every game of the batch" for the `ew_batch_set_*` calls.
pub const EW_ALL_GAMES: u32 = 0xFFFF_FFFF;
/// Batch illegal-action policy: refuse the whole step, change nothing.
pub const EW_ILLEGAL_ERROR: u32 = 0;
/// Batch illegal-action policy: the offending game ends as a loss for the agent.
pub const EW_ILLEGAL_LOSE: u32 = 1;

const _: () = assert!(EW_OBS_SIZE as usize == OBS_SIZE);
const _: () = assert!(EW_NUM_ACTIONS as usize == NUM_ACTIONS);
const _: () = assert!(EW_DECK_SIZE as usize == DECK_SIZE);
const _: () = assert!(EW_NUM_KEYWORDS as usize == Keyword::ALL.len());
const _: () = assert!(EW_STATE_BYTES as usize == serialize::STATE_BYTES);
const _: () = assert!(EW_CARD_ID_SLOTS as usize == CARD_ID_SLOTS);
const _: () = assert!(EW_CARD_ID_VOCAB as usize == CARD_ID_VOCAB);

/// Freed handles whose memory is held back before release, so a stale handle
/// is reported as freed (see the use-after-free notes in ffi.rs).
pub const EW_HANDLE_QUARANTINE: u32 = 1024;
const QUARANTINE: usize = EW_HANDLE_QUARANTINE as usize;

/// The result of every fallible call.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EwStatus {
    /// Success.
    EW_OK = 0,
    /// A handle argument was NULL.
    EW_ERR_NULL_HANDLE = 1,
    /// A handle that is freed, of the wrong kind, or not from this library.
    EW_ERR_INVALID_HANDLE = 2,
    /// The action is not legal in this state (the message names it and how many are legal).
    EW_ERR_ILLEGAL_ACTION = 3,
    /// The game is over; reset it first.
    EW_ERR_GAME_OVER = 4,
    /// No preset deck has this name (the message lists them, with a close match).
    EW_ERR_UNKNOWN_DECK = 5,
    /// A card id that is not in the catalogue.
    EW_ERR_UNKNOWN_CARD = 6,
    /// A custom deck breaks a deck-building rule (size, copies, tokens).
    EW_ERR_INVALID_DECK = 7,
    /// A malformed argument (NULL buffer, bad mode, seat, index, misaligned pointer...).
    EW_ERR_BAD_ARGUMENT = 8,
    /// A caller buffer is too short (the message says how long it must be).
    EW_ERR_BUFFER_TOO_SMALL = 9,
    /// A game snapshot was rejected (wrong length, magic, version, checksum or field).
    EW_ERR_BAD_DATA = 10,
    /// An internal panic was caught; the handle involved should be freed.
    EW_ERR_PANIC = 11,
}

use EwStatus::*;

/// Static description of a card (`ew_card_info`). The strings are owned by
/// the library and live as long as the process.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EwCardInfo {
    /// The card id (index in the catalogue).
    pub id: u32,
    /// Unique name.
    pub name: *const c_char,
    /// Rules text.
    pub text: *const c_char,
    /// "Argentum", "Symbiote", "Obsidion" or "Neutral".
    pub faction: *const c_char,
    /// "common", "legendary" or "token".
    pub rarity: *const c_char,
    /// "creature", "spell" or "support".
    pub card_type: *const c_char,
    /// Essence cost.
    pub cost: i32,
    /// Attack (creatures; else 0).
    pub attack: i32,
    /// Health (creatures; else 0).
    pub health: i32,
    /// Durability (supports; else 0).
    pub durability: i32,
    /// Printed keywords (creatures) or aura keywords (supports), one bit each in
    /// the order of `ew_keyword_name`.
    pub keywords: u32,
}

/// Caller-owned output arrays of a batch call. Each array has one row per
/// game (`num_games` rows, which must equal the batch size); `obs` and
/// `masks` are required, the others may be NULL. The arrays must not overlap.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct EwBatchOutput {
    /// Rows in every array; must equal the batch size.
    pub num_games: u32,
    /// `[num_games * 326]` float32 observations.
    pub obs: *mut f32,
    /// `[num_games * 256]` uint8 masks (1 legal).
    pub masks: *mut u8,
    /// `[num_games]` float32 rewards.
    pub rewards: *mut f32,
    /// `[num_games]` uint8, 1 when the game ended in this step.
    pub terminated: *mut u8,
    /// `[num_games]` uint8, always 0 (the turn limit is a terminal rule).
    pub truncated: *mut u8,
    /// `[num_games]` uint8 seat to move.
    pub current_player: *mut u8,
    /// `[num_games]` uint8, 1 when an illegal action forfeited the game (policy "lose").
    pub illegal: *mut u8,
    /// `[num_games * 326]` float32 final observations of games that ended (autoreset).
    pub final_obs: *mut f32,
}

/// An opaque game handle.
pub struct EwGame {
    magic: u64,
    game: Game,
}

/// An opaque batch handle.
pub struct EwBatch {
    magic: u64,
    batch: Option<Batch>,
}

const GAME_MAGIC: u64 = 0x4557_4741_4D45_0001; // "EWGAME"
const BATCH_MAGIC: u64 = 0x4557_4241_5443_0001; // "EWBATC"
const DEAD_MAGIC: u64 = 0xDEAD_DEAD_DEAD_DEAD;

// ---------------------------------------------------------------------------
// Errors.

struct Failure {
    status: EwStatus,
    msg: String,
}

fn fail<T>(status: EwStatus, msg: impl Into<String>) -> Result<T, Failure> {
    Err(Failure { status, msg: msg.into() })
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_error(msg: &str) {
    let c = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// Runs `f` with unwinding caught; records the message of a failure.
fn guard(f: impl FnOnce() -> Result<(), Failure>) -> EwStatus {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => EW_OK,
        Ok(Err(e)) => {
            set_error(&e.msg);
            e.status
        }
        Err(payload) => {
            set_error(&format!("internal panic (a bug in essence_wars): {}", panic_message(&*payload)));
            EW_ERR_PANIC
        }
    }
}

impl From<BatchError> for Failure {
    fn from(e: BatchError) -> Failure {
        let status = match e {
            BatchError::Illegal { .. } => EW_ERR_ILLEGAL_ACTION,
            BatchError::GameOver { .. } => EW_ERR_GAME_OVER,
            BatchError::BadArgument(_) => EW_ERR_BAD_ARGUMENT,
        };
        Failure { status, msg: e.to_string() }
    }
}

impl From<DeckError> for Failure {
    fn from(e: DeckError) -> Failure {
        let status = match e {
            DeckError::UnknownCard { .. } => EW_ERR_UNKNOWN_CARD,
            DeckError::UnknownPreset { .. } => EW_ERR_UNKNOWN_DECK,
            _ => EW_ERR_INVALID_DECK,
        };
        Failure { status, msg: e.to_string() }
    }
}

impl From<ActionError> for Failure {
    fn from(e: ActionError) -> Failure {
        let status = match e {
            ActionError::GameOver => EW_ERR_GAME_OVER,
            ActionError::Illegal { .. } => EW_ERR_ILLEGAL_ACTION,
        };
        Failure { status, msg: e.to_string() }
    }
}

// ---------------------------------------------------------------------------
// The handle registry (see the module docs).

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum HandleKind {
    Game,
    Batch,
}

impl HandleKind {
    const fn name(self) -> &'static str {
        match self {
            HandleKind::Game => "game",
            HandleKind::Batch => "batch",
        }
    }
}

/// A multiplicative hash for addresses (SipHash is needlessly slow here).
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64 >> 4).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

struct Registry {
    /// Address -> (kind, alive).
    handles: HashMap<usize, (HandleKind, bool), BuildHasherDefault<AddrHasher>>,
    /// Freed handles whose memory is held back, oldest first.
    quarantine: VecDeque<(usize, HandleKind)>,
    live: [u64; 2],
}

fn registry() -> MutexGuard<'static, Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY
        .get_or_init(|| {
            Mutex::new(Registry {
                handles: HashMap::default(),
                quarantine: VecDeque::with_capacity(QUARANTINE + 1),
                live: [0, 0],
            })
        })
        .lock()
        // The registry's own code never panics while holding the lock; if a
        // panic did poison it, its data is still consistent.
        .unwrap_or_else(|e| e.into_inner())
}

/// Successful frees so far. A handle validated while this had value k is
/// still live while it has value k: the fast path of [`check_handle`].
static FREES: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// The last handle this thread validated: (address, kind, `FREES` then).
    static LAST_VALID: Cell<(usize, u8, u64)> = const { Cell::new((0, 0, u64::MAX)) };
}

/// Checks that `addr` is a live handle of `kind`.
///
/// Fast path: the handle this thread validated last, with no free anywhere
/// since, is still live; that skips the registry's lock and lookup on the hot
/// path (one call per step on the same handle), which cost about 250 ns per
/// call. Any free makes the next check take the full lookup.
fn check_handle(addr: usize, kind: HandleKind) -> Result<(), Failure> {
    if addr == 0 {
        return fail(EW_ERR_NULL_HANDLE, format!("the {} handle is NULL", kind.name()));
    }
    let frees = FREES.load(Ordering::Acquire);
    if LAST_VALID.with(|c| c.get()) == (addr, kind as u8, frees) {
        return Ok(());
    }
    match registry().handles.get(&addr) {
        Some(&(k, true)) if k == kind => {
            LAST_VALID.with(|c| c.set((addr, kind as u8, frees)));
            Ok(())
        }
        Some(&(k, false)) if k == kind => {
            fail(EW_ERR_INVALID_HANDLE, format!("the {} handle was already freed (use after free)", kind.name()))
        }
        Some(&(k, _)) => {
            fail(EW_ERR_INVALID_HANDLE, format!("expected a {} handle, got a {} handle", kind.name(), k.name()))
        }
        None => fail(
            EW_ERR_INVALID_HANDLE,
            format!("not a live {} handle from this library (never created, or freed long ago)", kind.name()),
        ),
    }
}

fn register(addr: usize, kind: HandleKind) {
    let mut r = registry();
    r.handles.insert(addr, (kind, true));
    r.live[kind as usize] += 1;
}

fn new_game_handle(game: Game) -> *mut EwGame {
    let p = Box::into_raw(Box::new(EwGame { magic: GAME_MAGIC, game }));
    register(p as usize, HandleKind::Game);
    p
}

fn new_batch_handle(batch: Batch) -> *mut EwBatch {
    let p = Box::into_raw(Box::new(EwBatch { magic: BATCH_MAGIC, batch: Some(batch) }));
    register(p as usize, HandleKind::Batch);
    p
}

/// Marks a live handle freed, kills its magic, drops its contents, and
/// quarantines it; releases the oldest quarantined memory when full.
fn free_handle(addr: usize, kind: HandleKind) -> Result<(), Failure> {
    check_handle(addr, kind)?;
    let mut r = registry();
    // Re-check under the same lock as the update, so two racing frees cannot both succeed.
    match r.handles.get_mut(&addr) {
        Some(entry) if *entry == (kind, true) => entry.1 = false,
        _ => return fail(EW_ERR_INVALID_HANDLE, format!("the {} handle was already freed", kind.name())),
    }
    // Invalidates every thread's fast-path cache before the memory is touched.
    FREES.fetch_add(1, Ordering::AcqRel);
    match kind {
        HandleKind::Game => {
            // SAFETY: the registry recorded `addr` as a live game handle made by
            // `Box::into_raw` in `new_game_handle`, and only this function (under
            // the registry lock, just now) ever changes that.
            unsafe { (*(addr as *mut EwGame)).magic = DEAD_MAGIC };
        }
        HandleKind::Batch => {
            // SAFETY: as above, for a batch handle made in `new_batch_handle`.
            let h = unsafe { &mut *(addr as *mut EwBatch) };
            h.magic = DEAD_MAGIC;
            h.batch = None;
        }
    }
    r.live[kind as usize] -= 1;
    r.quarantine.push_back((addr, kind));
    if r.quarantine.len() > QUARANTINE {
        let (old, old_kind) = r.quarantine.pop_front().expect("non-empty");
        r.handles.remove(&old);
        match old_kind {
            // SAFETY: `old` came from `Box::into_raw` of this kind, was freed
            // (so no live handle refers to it) and is released exactly once,
            // here, as it leaves the quarantine.
            HandleKind::Game => drop(unsafe { Box::from_raw(old as *mut EwGame) }),
            // SAFETY: as above.
            HandleKind::Batch => drop(unsafe { Box::from_raw(old as *mut EwBatch) }),
        }
    }
    Ok(())
}

fn game_ref<'a>(g: *const EwGame) -> Result<&'a Game, Failure> {
    check_handle(g as usize, HandleKind::Game)?;
    // SAFETY: the registry says `g` is a live game handle (a Box we own), so it
    // points to an initialised `EwGame`; the caller guarantees no concurrent use.
    let h = unsafe { &*g };
    if h.magic != GAME_MAGIC {
        return fail(EW_ERR_INVALID_HANDLE, "the game handle is corrupt (bad magic)");
    }
    Ok(&h.game)
}

fn game_mut<'a>(g: *mut EwGame) -> Result<&'a mut Game, Failure> {
    check_handle(g as usize, HandleKind::Game)?;
    // SAFETY: as in `game_ref`; the caller guarantees exclusive use during the call.
    let h = unsafe { &mut *g };
    if h.magic != GAME_MAGIC {
        return fail(EW_ERR_INVALID_HANDLE, "the game handle is corrupt (bad magic)");
    }
    Ok(&mut h.game)
}

fn batch_mut<'a>(b: *mut EwBatch) -> Result<&'a mut Batch, Failure> {
    check_handle(b as usize, HandleKind::Batch)?;
    // SAFETY: the registry says `b` is a live batch handle (a Box we own); the
    // caller guarantees exclusive use during the call.
    let h = unsafe { &mut *b };
    match (h.magic, h.batch.as_mut()) {
        (BATCH_MAGIC, Some(batch)) => Ok(batch),
        _ => fail(EW_ERR_INVALID_HANDLE, "the batch handle is corrupt (bad magic)"),
    }
}

// ---------------------------------------------------------------------------
// Buffers and strings.

/// Writes through an out-pointer, reporting NULL as a bad argument.
fn put<T>(out: *mut T, value: T, what: &str) -> Result<(), Failure> {
    if out.is_null() {
        return fail(EW_ERR_BAD_ARGUMENT, format!("{what} is NULL"));
    }
    if out as usize % std::mem::align_of::<T>() != 0 {
        return fail(EW_ERR_BAD_ARGUMENT, format!("{what} is misaligned"));
    }
    // SAFETY: non-NULL and aligned; the caller guarantees it points to a writable T.
    unsafe { out.write(value) };
    Ok(())
}

/// Like `put`, but a NULL out-pointer means "not wanted".
fn put_opt<T>(out: *mut T, value: T) {
    if !out.is_null() && out as usize % std::mem::align_of::<T>() == 0 {
        // SAFETY: non-NULL and aligned; the caller guarantees it points to a writable T.
        unsafe { out.write(value) };
    }
}

fn check_buf<T>(ptr: *const T, len: usize, need: usize, what: &str) -> Result<(), Failure> {
    if ptr.is_null() {
        return fail(EW_ERR_BAD_ARGUMENT, format!("{what} buffer is NULL"));
    }
    if ptr as usize % std::mem::align_of::<T>() != 0 {
        return fail(EW_ERR_BAD_ARGUMENT, format!("{what} buffer is misaligned"));
    }
    if len < need {
        return fail(EW_ERR_BUFFER_TOO_SMALL, format!("{what} buffer holds {len} values, needs {need}"));
    }
    Ok(())
}

/// A caller's output buffer as a slice of exactly `need` elements.
fn out_buf<'a, T>(ptr: *mut T, len: usize, need: usize, what: &str) -> Result<&'a mut [T], Failure> {
    check_buf(ptr, len, need, what)?;
    // SAFETY: non-NULL, aligned, and the caller guarantees `len >= need`
    // writable elements that nothing else accesses during the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, need) })
}

/// A caller's input array of `len` elements (NULL allowed when `len` is 0).
fn in_buf<'a, T>(ptr: *const T, len: usize, what: &str) -> Result<&'a [T], Failure> {
    if len == 0 {
        return Ok(&[]);
    }
    check_buf(ptr, len, len, what)?;
    // SAFETY: non-NULL, aligned, and the caller guarantees `len` readable elements.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A NUL-terminated UTF-8 string argument; NULL gives `None`.
fn in_str<'a>(s: *const c_char, what: &str) -> Result<Option<&'a str>, Failure> {
    if s.is_null() {
        return Ok(None);
    }
    // SAFETY: non-NULL; the caller guarantees a NUL-terminated string that
    // stays valid during the call.
    let c = unsafe { CStr::from_ptr(s) };
    match c.to_str() {
        Ok(v) => Ok(Some(v)),
        Err(_) => fail(EW_ERR_BAD_ARGUMENT, format!("{what} is not valid UTF-8")),
    }
}

/// Copies `bytes` into a caller buffer, two-call style: `*needed` always gets
/// the full length; the copy happens only if `cap` is enough.
fn copy_out(bytes: &[u8], buf: *mut u8, cap: usize, needed: *mut usize, what: &str) -> Result<(), Failure> {
    put_opt(needed, bytes.len());
    if buf.is_null() && cap == 0 {
        return fail(
            EW_ERR_BUFFER_TOO_SMALL,
            format!("{what} needs {} bytes (queried with an empty buffer)", bytes.len()),
        );
    }
    let out = out_buf(buf, cap, bytes.len(), what)?;
    out.copy_from_slice(bytes);
    Ok(())
}

/// The two output buffers of the afterstate calls as slices of exactly `rows`
/// rows (326 floats and one result each). The lengths are checked first, so
/// NULL buffers of length 0 are a size query (`EW_ERR_BUFFER_TOO_SMALL`); then
/// presence, alignment, and that the two do not overlap. No rows: the
/// buffers are not looked at (NULL is fine).
fn afterstate_bufs<'a>(
    obs: *mut f32,
    obs_len: usize,
    result: *mut f32,
    result_len: usize,
    rows: usize,
) -> Result<(&'a mut [f32], &'a mut [f32]), Failure> {
    if rows == 0 {
        return Ok((&mut [], &mut []));
    }
    let need = rows * OBS_SIZE;
    if obs_len < need {
        return fail(
            EW_ERR_BUFFER_TOO_SMALL,
            format!("afterstate observation buffer holds {obs_len} floats, needs {need} ({rows} rows of {OBS_SIZE})"),
        );
    }
    if result_len < rows {
        return fail(
            EW_ERR_BUFFER_TOO_SMALL,
            format!("afterstate result buffer holds {result_len} floats, needs {rows} (one per row)"),
        );
    }
    check_buf(obs, obs_len, need, "afterstate observation")?;
    check_buf(result, result_len, rows, "afterstate result")?;
    let (o, r) = (obs as usize, result as usize);
    if o < r + rows * 4 && r < o + need * 4 {
        return fail(EW_ERR_BAD_ARGUMENT, "the afterstate observation and result buffers overlap");
    }
    // SAFETY: both non-NULL, aligned and long enough (checked above), disjoint,
    // and the caller guarantees nothing else accesses them during the call.
    Ok(unsafe { (std::slice::from_raw_parts_mut(obs, need), std::slice::from_raw_parts_mut(result, rows)) })
}

fn parse_mode(mode: *const c_char) -> Result<Mode, Failure> {
    match in_str(mode, "mode")? {
        None => Ok(Mode::Attrition),
        Some(m) => Mode::parse(m).map_or_else(
            || fail(EW_ERR_BAD_ARGUMENT, format!("unknown mode {m:?}; valid modes: attrition, essence_duel")),
            Ok,
        ),
    }
}

fn preset_deck(name: *const c_char, what: &str) -> Result<Deck, Failure> {
    match in_str(name, what)? {
        None => fail(EW_ERR_BAD_ARGUMENT, format!("{what} is NULL")),
        Some(n) => Ok(Deck::preset(n)?),
    }
}

fn custom_deck(ids: *const i64, len: usize, what: &str) -> Result<Deck, Failure> {
    let ids = in_buf(ids, len, what)?;
    Deck::from_ids(ids).map_err(|e| {
        let f = Failure::from(e);
        Failure { status: f.status, msg: format!("{what}: {}", f.msg) }
    })
}

fn parse_opponent(spec: *const c_char) -> Result<Option<BotSpec>, Failure> {
    match in_str(spec, "opponent")? {
        None => Ok(None),
        Some(s)
            if s.trim().is_empty()
                || s.trim().eq_ignore_ascii_case("none")
                || s.trim().eq_ignore_ascii_case("self") =>
        {
            Ok(None)
        }
        Some(s) => BotSpec::parse(s)
            .map(Some)
            .map_err(|e| Failure { status: EW_ERR_BAD_ARGUMENT, msg: format!("{e}; or \"none\" for self-play") }),
    }
}

// ---------------------------------------------------------------------------
// Library information.

/// The library version ("MAJOR.MINOR.PATCH", NUL-terminated, static).
#[no_mangle]
pub extern "C" fn ew_version() -> *const c_char {
    static V: OnceLock<CString> = OnceLock::new();
    V.get_or_init(|| CString::new(crate::VERSION).unwrap_or_default()).as_ptr()
}

/// The observation layout version (changes whenever the 326-float layout does).
#[no_mangle]
pub extern "C" fn ew_obs_version() -> u32 {
    OBS_VERSION
}

/// The message of the most recent failed call on this thread ("" if none).
/// Valid until the next failing call on this thread.
#[no_mangle]
pub extern "C" fn ew_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// A status code's name, e.g. "EW_ERR_ILLEGAL_ACTION" (static; "EW_UNKNOWN_STATUS" for others).
#[no_mangle]
pub extern "C" fn ew_status_name(status: i32) -> *const c_char {
    let s: &'static [u8] = match status {
        0 => b"EW_OK\0",
        1 => b"EW_ERR_NULL_HANDLE\0",
        2 => b"EW_ERR_INVALID_HANDLE\0",
        3 => b"EW_ERR_ILLEGAL_ACTION\0",
        4 => b"EW_ERR_GAME_OVER\0",
        5 => b"EW_ERR_UNKNOWN_DECK\0",
        6 => b"EW_ERR_UNKNOWN_CARD\0",
        7 => b"EW_ERR_INVALID_DECK\0",
        8 => b"EW_ERR_BAD_ARGUMENT\0",
        9 => b"EW_ERR_BUFFER_TOO_SMALL\0",
        10 => b"EW_ERR_BAD_DATA\0",
        11 => b"EW_ERR_PANIC\0",
        _ => b"EW_UNKNOWN_STATUS\0",
    };
    s.as_ptr() as *const c_char
}

// ---------------------------------------------------------------------------
// Catalogue.

struct CardStrings {
    name: CString,
    text: CString,
}

fn card_strings() -> &'static [CardStrings] {
    static S: OnceLock<Vec<CardStrings>> = OnceLock::new();
    S.get_or_init(|| {
        let c = |s: &str| CString::new(s.replace('\0', " ")).unwrap_or_default();
        cards::CARDS.iter().map(|card| CardStrings { name: c(card.name), text: c(card.text) }).collect()
    })
}

fn deck_names() -> &'static [CString] {
    static S: OnceLock<Vec<CString>> = OnceLock::new();
    S.get_or_init(|| decks::preset_names().map(|n| CString::new(n).unwrap_or_default()).collect())
}

fn static_cstr(s: &'static [u8]) -> *const c_char {
    debug_assert_eq!(s.last(), Some(&0));
    s.as_ptr() as *const c_char
}

/// Number of cards in the catalogue (ids are 0..count).
#[no_mangle]
pub extern "C" fn ew_card_count() -> u32 {
    cards::CARDS.len() as u32
}

/// Describes card `id` into `*out`. `EW_ERR_UNKNOWN_CARD` for an id out of range.
#[no_mangle]
pub extern "C" fn ew_card_info(id: u32, out: *mut EwCardInfo) -> EwStatus {
    guard(|| {
        let Some(card) = cards::CARDS.get(id as usize) else {
            return fail(
                EW_ERR_UNKNOWN_CARD,
                format!("unknown card id {id} (valid ids are 0..{})", cards::CARDS.len()),
            );
        };
        let strings = &card_strings()[id as usize];
        let faction: &'static [u8] = match card.faction {
            cards::Faction::Argentum => b"Argentum\0",
            cards::Faction::Symbiote => b"Symbiote\0",
            cards::Faction::Obsidion => b"Obsidion\0",
            cards::Faction::Neutral => b"Neutral\0",
        };
        let rarity: &'static [u8] = match card.rarity {
            Rarity::Common => b"common\0",
            Rarity::Legendary => b"legendary\0",
            Rarity::Token => b"token\0",
        };
        let (card_type, attack, health, durability, keywords): (&'static [u8], i32, i32, i32, u32) = match card.kind {
            Kind::Creature { attack, health, keywords, .. } => {
                (b"creature\0", attack as i32, health as i32, 0, keywords.0 as u32)
            }
            Kind::Spell { .. } => (b"spell\0", 0, 0, 0, 0),
            Kind::Support { durability, aura } => (b"support\0", 0, 0, durability as i32, aura.keywords.0 as u32),
        };
        put(
            out,
            EwCardInfo {
                id,
                name: strings.name.as_ptr(),
                text: strings.text.as_ptr(),
                faction: static_cstr(faction),
                rarity: static_cstr(rarity),
                card_type: static_cstr(card_type),
                cost: card.cost as i32,
                attack,
                health,
                durability,
                keywords,
            },
            "out",
        )
    })
}

/// The name of keyword bit `bit` (0..16), static, into `*out`.
#[no_mangle]
pub extern "C" fn ew_keyword_name(bit: u32, out: *mut *const c_char) -> EwStatus {
    guard(|| {
        static S: OnceLock<Vec<CString>> = OnceLock::new();
        let names = S.get_or_init(|| Keyword::ALL.iter().map(|k| CString::new(k.name()).unwrap_or_default()).collect());
        match names.get(bit as usize) {
            Some(n) => put(out, n.as_ptr(), "out"),
            None => fail(EW_ERR_BAD_ARGUMENT, format!("keyword bit {bit} out of range 0..{}", names.len())),
        }
    })
}

/// Number of preset decks.
#[no_mangle]
pub extern "C" fn ew_deck_count() -> u32 {
    deck_names().len() as u32
}

/// The name of preset deck `index` (static) into `*out`.
#[no_mangle]
pub extern "C" fn ew_deck_name(index: u32, out: *mut *const c_char) -> EwStatus {
    guard(|| match deck_names().get(index as usize) {
        Some(n) => put(out, n.as_ptr(), "out"),
        None => fail(EW_ERR_UNKNOWN_DECK, format!("deck index {index} out of range 0..{}", deck_names().len())),
    })
}

/// The index of the preset deck called `name` (case-insensitive) into `*index`.
/// `EW_ERR_UNKNOWN_DECK` lists the valid names and a close match.
#[no_mangle]
pub extern "C" fn ew_deck_find(name: *const c_char, index: *mut u32) -> EwStatus {
    guard(|| {
        let Some(n) = in_str(name, "name")? else { return fail(EW_ERR_BAD_ARGUMENT, "deck name is NULL") };
        match Deck::preset_index(n) {
            Some(i) => put(index, i as u32, "index"),
            None => Err(Deck::preset(n)
                .err()
                .map(Failure::from)
                .unwrap_or(Failure { status: EW_ERR_UNKNOWN_DECK, msg: format!("unknown deck {n:?}") })),
        }
    })
}

/// The card ids of preset deck `index` into `out` (`cap` >= 30); `*count` gets 30.
#[no_mangle]
pub extern "C" fn ew_deck_cards(index: u32, out: *mut u16, cap: usize, count: *mut usize) -> EwStatus {
    guard(|| {
        let Some(name) = decks::preset_names().nth(index as usize) else {
            return fail(EW_ERR_UNKNOWN_DECK, format!("deck index {index} out of range 0..{}", deck_names().len()));
        };
        let deck = Deck::preset(name)?;
        put_opt(count, DECK_SIZE);
        out_buf(out, cap, DECK_SIZE, "deck cards")?.copy_from_slice(&deck.cards);
        Ok(())
    })
}

/// Checks a custom deck list (`len` card ids) against the deck-building rules.
#[no_mangle]
pub extern "C" fn ew_deck_validate(ids: *const i64, len: usize) -> EwStatus {
    guard(|| custom_deck(ids, len, "deck").map(|_| ()))
}

// ---------------------------------------------------------------------------
// Single games.

/// A new game from `seed` with two preset decks (by name) and a mode
/// ("attrition" or "essence_duel"; NULL = attrition). The handle goes to `*out`;
/// free it with `ew_game_free`.
#[no_mangle]
pub extern "C" fn ew_game_new(
    seed: u64,
    deck0: *const c_char,
    deck1: *const c_char,
    mode: *const c_char,
    out: *mut *mut EwGame,
) -> EwStatus {
    guard(|| {
        if out.is_null() {
            return fail(EW_ERR_BAD_ARGUMENT, "out is NULL");
        }
        let d0 = preset_deck(deck0, "deck0")?;
        let d1 = preset_deck(deck1, "deck1")?;
        let m = parse_mode(mode)?;
        let game = Game::new(seed, d0, d1, m);
        put(out, new_game_handle(game), "out")
    })
}

/// A new game from `seed` with two custom decks (30 card ids each) and a mode.
#[no_mangle]
pub extern "C" fn ew_game_new_custom(
    seed: u64,
    deck0: *const i64,
    len0: usize,
    deck1: *const i64,
    len1: usize,
    mode: *const c_char,
    out: *mut *mut EwGame,
) -> EwStatus {
    guard(|| {
        if out.is_null() {
            return fail(EW_ERR_BAD_ARGUMENT, "out is NULL");
        }
        let d0 = custom_deck(deck0, len0, "deck0")?;
        let d1 = custom_deck(deck1, len1, "deck1")?;
        let m = parse_mode(mode)?;
        put(out, new_game_handle(Game::new(seed, d0, d1, m)), "out")
    })
}

/// Frees a game. NULL is a no-op (`EW_OK`); a second free is `EW_ERR_INVALID_HANDLE`.
#[no_mangle]
pub extern "C" fn ew_game_free(game: *mut EwGame) -> EwStatus {
    guard(|| if game.is_null() { Ok(()) } else { free_handle(game as usize, HandleKind::Game) })
}

/// An independent copy of the game into `*out` (free it separately).
#[no_mangle]
pub extern "C" fn ew_game_clone(game: *const EwGame, out: *mut *mut EwGame) -> EwStatus {
    guard(|| {
        let g = *game_ref(game)?;
        if out.is_null() {
            return fail(EW_ERR_BAD_ARGUMENT, "out is NULL");
        }
        put(out, new_game_handle(g), "out")
    })
}

/// Deals a new game from `seed` with the same decks and mode.
#[no_mangle]
pub extern "C" fn ew_game_reset(game: *mut EwGame, seed: u64) -> EwStatus {
    guard(|| {
        game_mut(game)?.reset(seed);
        Ok(())
    })
}

/// Writes the observation of the player to move into `out` (`len` >= 326 floats).
#[no_mangle]
pub extern "C" fn ew_game_observe(game: *const EwGame, out: *mut f32, len: usize) -> EwStatus {
    guard(|| {
        let g = game_ref(game)?;
        let buf = out_buf(out, len, OBS_SIZE, "observation")?;
        g.observe(buf.try_into().expect("326 floats"));
        Ok(())
    })
}

/// Writes the observation as `seat` (0 or 1) sees the table, whoever is to
/// move, into `out` (`len` >= 326 floats). For the final observation of a seat
/// whose opponent ended the game.
#[no_mangle]
pub extern "C" fn ew_game_observe_seat(game: *const EwGame, seat: i32, out: *mut f32, len: usize) -> EwStatus {
    guard(|| {
        let g = game_ref(game)?;
        if !(0..=1).contains(&seat) {
            return fail(EW_ERR_BAD_ARGUMENT, format!("seat must be 0 or 1, got {seat}"));
        }
        let buf = out_buf(out, len, OBS_SIZE, "observation")?;
        g.observe_as(seat as usize, buf.try_into().expect("326 floats"));
        Ok(())
    })
}

/// Writes which card sits in each hand, lane and support slot into `out`
/// (`len` >= 34 values), as `seat` (0 or 1) sees the table, or the player to
/// move when `seat` is -1: 0 for an empty slot, card id + 1 otherwise. The
/// layout follows the observation's blocks (docs/OBSERVATION.md, "Card ids");
/// it is for networks that learn an embedding per card.
#[no_mangle]
pub extern "C" fn ew_game_card_ids(game: *const EwGame, seat: i32, out: *mut u16, len: usize) -> EwStatus {
    guard(|| {
        let g = game_ref(game)?;
        let seat = match seat {
            -1 => g.current_player(),
            0 | 1 => seat as usize,
            _ => return fail(EW_ERR_BAD_ARGUMENT, format!("seat must be 0, 1 or -1 (the player to move), got {seat}")),
        };
        let buf = out_buf(out, len, CARD_ID_SLOTS, "card ids")?;
        card_ids_as(g, seat, buf.try_into().expect("34 values"));
        Ok(())
    })
}

/// Writes the legal-action mask (1 legal, 0 not) into `out` (`len` >= 256 bytes).
/// All zeros once the game is over.
#[no_mangle]
pub extern "C" fn ew_game_action_mask(game: *const EwGame, out: *mut u8, len: usize) -> EwStatus {
    guard(|| {
        let g = game_ref(game)?;
        let buf = out_buf(out, len, NUM_ACTIONS, "mask")?;
        g.legal_mask().write_bytes(buf.try_into().expect("256 bytes"));
        Ok(())
    })
}

/// Writes the legal actions in index order into `out` (`cap` entries); `*count`
/// gets how many there are (also on `EW_ERR_BUFFER_TOO_SMALL`). 256 always suffices.
#[no_mangle]
pub extern "C" fn ew_game_legal_actions(game: *const EwGame, out: *mut u8, cap: usize, count: *mut usize) -> EwStatus {
    guard(|| {
        let mask = game_ref(game)?.legal_mask();
        let n = mask.count() as usize;
        put_opt(count, n);
        if n == 0 {
            return Ok(());
        }
        if cap < n {
            return fail(EW_ERR_BUFFER_TOO_SMALL, format!("legal actions buffer holds {cap} values, needs {n}"));
        }
        let buf = out_buf(out, cap, n, "legal actions")?;
        for (slot, a) in buf.iter_mut().zip(mask.iter()) {
            *slot = a;
        }
        Ok(())
    })
}

/// The afterstates of the player to move, one row per legal action in ascending
/// action order: row k is the position after the k-th legal action (applied to a
/// copy: the game is unchanged) as the mover sees it (`ew_game_observe_seat` of the
/// mover's seat), 326 floats at `obs_out + 326 * k`, and `result_out[k]` is the
/// mover's result: +1 if the action ends the game with the mover winning, -1 with
/// the mover losing, 0 otherwise (a draw, or the game goes on).
///
/// The rows are the legal-action count (the mask's sum; 0 once the game is over,
/// when the buffers may be NULL); `obs_len` >= 326 * rows and `result_len` >= rows
/// floats, and nothing past the rows is written. `*rows_out` (may be NULL) gets
/// the number of rows, also on `EW_ERR_BUFFER_TOO_SMALL`, so a caller can ask with
/// NULL buffers of length 0 first.
#[no_mangle]
pub extern "C" fn ew_game_afterstates(
    game: *const EwGame,
    obs_out: *mut f32,
    obs_len: usize,
    result_out: *mut f32,
    result_len: usize,
    rows_out: *mut usize,
) -> EwStatus {
    guard(|| {
        let g = game_ref(game)?;
        let rows = g.legal_mask().count() as usize;
        put_opt(rows_out, rows);
        let (obs, res) = afterstate_bufs(obs_out, obs_len, result_out, result_len, rows)?;
        g.afterstates(obs, res);
        Ok(())
    })
}

/// Applies `action` (0..255) for the player to move. `*reward` gets the reward
/// of the player who acted (+1 win, -1 loss, 0 otherwise) and `*done` 1 when
/// the game ended; either may be NULL. On error the game is unchanged.
#[no_mangle]
pub extern "C" fn ew_game_step(game: *mut EwGame, action: i64, reward: *mut f32, done: *mut u8) -> EwStatus {
    guard(|| {
        let g = game_mut(game)?;
        let a = if (0..=255).contains(&action) {
            action as u16
        } else if g.is_over() {
            return Err(ActionError::GameOver.into());
        } else {
            return fail(
                EW_ERR_ILLEGAL_ACTION,
                format!(
                    "action {action} (out of range 0..255) is not legal now; {} action(s) are legal",
                    g.legal_mask().count()
                ),
            );
        };
        let r = g.apply(a)?;
        put_opt(reward, r.reward);
        put_opt(done, r.done as u8);
        Ok(())
    })
}

/// The seat to move (0 or 1) into `*out`.
#[no_mangle]
pub extern "C" fn ew_game_current_player(game: *const EwGame, out: *mut u8) -> EwStatus {
    guard(|| put(out, game_ref(game)?.active, "out"))
}

/// The turn counter (player-turns started so far) into `*out`.
#[no_mangle]
pub extern "C" fn ew_game_turn(game: *const EwGame, out: *mut u32) -> EwStatus {
    guard(|| put(out, game_ref(game)?.turn as u32, "out"))
}

/// 1 when the game is over, else 0, into `*out`.
#[no_mangle]
pub extern "C" fn ew_game_is_over(game: *const EwGame, out: *mut u8) -> EwStatus {
    guard(|| put(out, game_ref(game)?.is_over() as u8, "out"))
}

/// The winner's seat, or -1 for a draw or a running game, into `*out`.
#[no_mangle]
pub extern "C" fn ew_game_winner(game: *const EwGame, out: *mut i32) -> EwStatus {
    guard(|| put(out, game_ref(game)?.winner().map_or(-1, |w| w as i32), "out"))
}

/// The final reward of `seat` (+1 win, -1 loss, 0 draw or running) into `*out`.
#[no_mangle]
pub extern "C" fn ew_game_reward(game: *const EwGame, seat: u32, out: *mut f32) -> EwStatus {
    guard(|| {
        let g = game_ref(game)?;
        if seat > 1 {
            return fail(EW_ERR_BAD_ARGUMENT, format!("seat must be 0 or 1, got {seat}"));
        }
        put(out, g.reward(seat as usize), "out")
    })
}

/// The seed of the current deal into `*out`.
#[no_mangle]
pub extern "C" fn ew_game_seed(game: *const EwGame, out: *mut u64) -> EwStatus {
    guard(|| put(out, game_ref(game)?.seed, "out"))
}

fn bot_action(game: *const EwGame, spec: BotSpec, seed: u64, out: *mut u8) -> Result<(), Failure> {
    let g = game_ref(game)?;
    if g.is_over() {
        return Err(ActionError::GameOver.into());
    }
    if out.is_null() {
        return fail(EW_ERR_BAD_ARGUMENT, "out is NULL");
    }
    let a = spec.build(seed).choose(g);
    put(out, a, "out")
}

/// A uniformly random legal action from a generator seeded with `seed`.
#[no_mangle]
pub extern "C" fn ew_game_random_action(game: *const EwGame, seed: u64, out: *mut u8) -> EwStatus {
    guard(|| bot_action(game, BotSpec::Random, seed, out))
}

/// The greedy bot's action (ties broken by `seed`).
#[no_mangle]
pub extern "C" fn ew_game_greedy_action(game: *const EwGame, seed: u64, out: *mut u8) -> EwStatus {
    guard(|| bot_action(game, BotSpec::Greedy, seed, out))
}

/// The MCTS bot's action with `simulations` (>= 1) simulations and random rollouts.
#[no_mangle]
pub extern "C" fn ew_game_mcts_action(game: *const EwGame, simulations: u32, seed: u64, out: *mut u8) -> EwStatus {
    guard(|| {
        if simulations == 0 {
            return fail(EW_ERR_BAD_ARGUMENT, "simulations must be at least 1");
        }
        bot_action(
            game,
            BotSpec::Mcts { simulations, rollout: crate::bots::Rollout::Random, determinized: false },
            seed,
            out,
        )
    })
}

/// The search statistics of the rollout MCTS bot named `spec` (an "mcts-..." name, as for
/// `ew_game_bot_action`) on this position, seeded with `seed`: the action it plays into `*out`,
/// the visits of every action into `visits[0..256]` (0 for illegal or untried actions; they sum to
/// the budget, and a forced move or an immediate win gets all of it), and the mean result of those
/// visits for the player to move into `values[0..256]` (in [-1, 1], 0 where unvisited). The same
/// seed gives the same action as `ew_game_bot_action`. This is what a network imitating the bot
/// learns from (`agents/expert.py`).
#[no_mangle]
pub extern "C" fn ew_game_mcts_stats(
    game: *const EwGame,
    spec: *const c_char,
    seed: u64,
    out: *mut u8,
    visits: *mut u32,
    values: *mut f32,
) -> EwStatus {
    guard(|| {
        let g = game_ref(game)?;
        let (simulations, rollout, determinized) = match parse_opponent(spec)? {
            Some(BotSpec::Mcts { simulations, rollout, determinized }) => (simulations, rollout, determinized),
            _ => return fail(EW_ERR_BAD_ARGUMENT, "an MCTS bot name is required (mcts-N, mcts-N-greedy, ...-det)"),
        };
        if g.is_over() {
            return Err(ActionError::GameOver.into());
        }
        if out.is_null() {
            return fail(EW_ERR_BAD_ARGUMENT, "out is NULL");
        }
        let visits = out_buf(visits, NUM_ACTIONS, NUM_ACTIONS, "visits")?;
        let values = out_buf(values, NUM_ACTIONS, NUM_ACTIONS, "values")?;
        let mut bot = MctsBot::new(simulations, seed).with_rollout(rollout).with_determinized(determinized);
        let action = bot.search(g);
        visits.fill(0);
        values.fill(0.0);
        for s in bot.root_stats() {
            visits[s.action as usize] = s.visits;
            values[s.action as usize] = s.mean_value;
        }
        put(out, action, "out")
    })
}

/// The action of the bot named `spec` ("random", "greedy", "mcts-N", "mcts-N-greedy", either MCTS
/// form with "-det": determinized, it does not see the deck order).
#[no_mangle]
pub extern "C" fn ew_game_bot_action(game: *const EwGame, spec: *const c_char, seed: u64, out: *mut u8) -> EwStatus {
    guard(|| match parse_opponent(spec)? {
        Some(s) => bot_action(game, s, seed, out),
        None => fail(EW_ERR_BAD_ARGUMENT, "a bot name is required (random, greedy, mcts-N, mcts-N-greedy)"),
    })
}

/// A text picture of the table, NUL-terminated, into `buf` (`cap` bytes).
/// `*needed` always gets the size including the NUL; with a short buffer
/// (or NULL and 0) nothing is written and `EW_ERR_BUFFER_TOO_SMALL` returned.
#[no_mangle]
pub extern "C" fn ew_game_render(game: *const EwGame, buf: *mut c_char, cap: usize, needed: *mut usize) -> EwStatus {
    guard(|| {
        let mut text = serialize::render(game_ref(game)?).into_bytes();
        text.retain(|&b| b != 0);
        text.push(0);
        copy_out(&text, buf as *mut u8, cap, needed, "render")
    })
}

/// A snapshot of the whole game (`EW_STATE_BYTES` bytes, format in
/// `serialize.rs`) into `buf`; `*needed` gets its size.
#[no_mangle]
pub extern "C" fn ew_game_serialize(game: *const EwGame, buf: *mut u8, cap: usize, needed: *mut usize) -> EwStatus {
    guard(|| {
        let bytes = serialize::encode(game_ref(game)?);
        copy_out(&bytes, buf, cap, needed, "snapshot")
    })
}

/// A new game restored from a snapshot of `len` bytes into `*out`.
/// `EW_ERR_BAD_DATA` (with the reason) for anything that is not a valid snapshot.
#[no_mangle]
pub extern "C" fn ew_game_deserialize(buf: *const u8, len: usize, out: *mut *mut EwGame) -> EwStatus {
    guard(|| {
        if out.is_null() {
            return fail(EW_ERR_BAD_ARGUMENT, "out is NULL");
        }
        if buf.is_null() {
            return fail(EW_ERR_BAD_ARGUMENT, "snapshot buffer is NULL");
        }
        let bytes = in_buf(buf, len, "snapshot")?;
        match serialize::decode(bytes) {
            Ok(g) => put(out, new_game_handle(g), "out"),
            Err(e) => fail(EW_ERR_BAD_DATA, e.to_string()),
        }
    })
}

// ---------------------------------------------------------------------------
// Batches.

fn policy(illegal_mode: u32) -> Result<IllegalPolicy, Failure> {
    match illegal_mode {
        EW_ILLEGAL_ERROR => Ok(IllegalPolicy::Error),
        EW_ILLEGAL_LOSE => Ok(IllegalPolicy::Lose),
        m => fail(
            EW_ERR_BAD_ARGUMENT,
            format!("illegal_mode must be EW_ILLEGAL_ERROR (0) or EW_ILLEGAL_LOSE (1), got {m}"),
        ),
    }
}

/// `num_games` self-play games with two preset decks and a mode (NULL =
/// attrition), dealt from seeds 0..num_games. `autoreset` 0 or 1;
/// `illegal_mode` `EW_ILLEGAL_ERROR` or `EW_ILLEGAL_LOSE`.
#[no_mangle]
pub extern "C" fn ew_batch_new(
    num_games: u32,
    deck0: *const c_char,
    deck1: *const c_char,
    mode: *const c_char,
    autoreset: u8,
    illegal_mode: u32,
    out: *mut *mut EwBatch,
) -> EwStatus {
    guard(|| {
        if out.is_null() {
            return fail(EW_ERR_BAD_ARGUMENT, "out is NULL");
        }
        if num_games == 0 || num_games > (1 << 24) {
            return fail(EW_ERR_BAD_ARGUMENT, format!("num_games must be in 1..=16777216, got {num_games}"));
        }
        let d0 = preset_deck(deck0, "deck0")?;
        let d1 = preset_deck(deck1, "deck1")?;
        let m = parse_mode(mode)?;
        let p = policy(illegal_mode)?;
        let batch = Batch::new(num_games as usize, d0, d1, m, autoreset != 0, p);
        put(out, new_batch_handle(batch), "out")
    })
}

/// Frees a batch. NULL is a no-op; a second free is `EW_ERR_INVALID_HANDLE`.
#[no_mangle]
pub extern "C" fn ew_batch_free(batch: *mut EwBatch) -> EwStatus {
    guard(|| if batch.is_null() { Ok(()) } else { free_handle(batch as usize, HandleKind::Batch) })
}

/// The number of games into `*out`.
#[no_mangle]
pub extern "C" fn ew_batch_num_games(batch: *mut EwBatch, out: *mut u32) -> EwStatus {
    guard(|| put(out, batch_mut(batch)?.len() as u32, "out"))
}

/// Games `index` selects: one, or all for `EW_ALL_GAMES`.
fn selected(b: &Batch, index: u32) -> Result<std::ops::Range<usize>, Failure> {
    if index == EW_ALL_GAMES {
        Ok(0..b.len())
    } else if (index as usize) < b.len() {
        Ok(index as usize..index as usize + 1)
    } else {
        fail(EW_ERR_BAD_ARGUMENT, format!("game index {index} out of range (the batch has {} games)", b.len()))
    }
}

/// Sets the opponent of game `index` (or `EW_ALL_GAMES`): NULL or "none" for
/// self-play, else a bot name ("random", "greedy", "mcts-N", "mcts-N-greedy").
/// Takes effect at the game's next reset.
#[no_mangle]
pub extern "C" fn ew_batch_set_opponent(batch: *mut EwBatch, index: u32, opponent: *const c_char) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        let spec = parse_opponent(opponent)?;
        for i in selected(b, index)? {
            b.set_opponent(i, spec)?;
        }
        Ok(())
    })
}

/// Sets the agent's seat (0 or 1) in game `index` (or `EW_ALL_GAMES`), from the next reset on.
#[no_mangle]
pub extern "C" fn ew_batch_set_agent_seat(batch: *mut EwBatch, index: u32, seat: u32) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        if seat > 1 {
            return fail(EW_ERR_BAD_ARGUMENT, format!("agent seat must be 0 or 1, got {seat}"));
        }
        for i in selected(b, index)? {
            b.set_agent_seat(i, seat as u8)?;
        }
        Ok(())
    })
}

/// Sets the preset decks and mode of game `index` (or `EW_ALL_GAMES`), from the next reset on.
#[no_mangle]
pub extern "C" fn ew_batch_set_decks(
    batch: *mut EwBatch,
    index: u32,
    deck0: *const c_char,
    deck1: *const c_char,
    mode: *const c_char,
) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        let (d0, d1, m) = (preset_deck(deck0, "deck0")?, preset_deck(deck1, "deck1")?, parse_mode(mode)?);
        for i in selected(b, index)? {
            b.set_decks(i, d0, d1, m)?;
        }
        Ok(())
    })
}

/// Sets custom decks (30 card ids each) and mode of game `index` (or `EW_ALL_GAMES`).
#[no_mangle]
pub extern "C" fn ew_batch_set_decks_custom(
    batch: *mut EwBatch,
    index: u32,
    deck0: *const i64,
    len0: usize,
    deck1: *const i64,
    len1: usize,
    mode: *const c_char,
) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        let d0 = custom_deck(deck0, len0, "deck0")?;
        let d1 = custom_deck(deck1, len1, "deck1")?;
        let m = parse_mode(mode)?;
        for i in selected(b, index)? {
            b.set_decks(i, d0, d1, m)?;
        }
        Ok(())
    })
}

/// Views the caller's output arrays as slices, after checking their presence,
/// alignment, row count and that no two overlap.
fn outputs<'a>(out: *const EwBatchOutput, n: usize) -> Result<Outputs<'a>, Failure> {
    if out.is_null() {
        return fail(EW_ERR_BAD_ARGUMENT, "output struct is NULL");
    }
    if out as usize % std::mem::align_of::<EwBatchOutput>() != 0 {
        return fail(EW_ERR_BAD_ARGUMENT, "output struct is misaligned");
    }
    // SAFETY: non-NULL and aligned; the caller guarantees it points to an EwBatchOutput.
    let o = unsafe { *out };
    if o.num_games as usize != n {
        return fail(
            EW_ERR_BUFFER_TOO_SMALL,
            format!("output arrays are declared for {} games, the batch has {n}", o.num_games),
        );
    }
    // (address, bytes) of every array given, to refuse overlaps (which would alias &mut slices).
    let arrays: [(&str, usize, usize, usize); 8] = [
        ("obs", o.obs as usize, n * OBS_SIZE * 4, 4),
        ("masks", o.masks as usize, n * NUM_ACTIONS, 1),
        ("rewards", o.rewards as usize, n * 4, 4),
        ("terminated", o.terminated as usize, n, 1),
        ("truncated", o.truncated as usize, n, 1),
        ("current_player", o.current_player as usize, n, 1),
        ("illegal", o.illegal as usize, n, 1),
        ("final_obs", o.final_obs as usize, n * OBS_SIZE * 4, 4),
    ];
    for (k, &(name, addr, bytes, align)) in arrays.iter().enumerate() {
        if addr == 0 {
            if k < 2 {
                return fail(EW_ERR_BAD_ARGUMENT, format!("output array {name} is NULL (required)"));
            }
            continue;
        }
        if addr % align != 0 {
            return fail(EW_ERR_BAD_ARGUMENT, format!("output array {name} is misaligned"));
        }
        for &(other, addr2, bytes2, _) in &arrays[..k] {
            if addr2 != 0 && addr < addr2 + bytes2 && addr2 < addr + bytes {
                return fail(EW_ERR_BAD_ARGUMENT, format!("output arrays {other} and {name} overlap"));
            }
        }
    }
    fn opt<'b, T>(p: *mut T, len: usize) -> Option<&'b mut [T]> {
        if p.is_null() {
            None
        } else {
            // SAFETY: non-NULL, aligned (checked above), not overlapping any other
            // output array, and the caller guarantees `len` writable elements.
            Some(unsafe { std::slice::from_raw_parts_mut(p, len) })
        }
    }
    Ok(Outputs {
        obs: opt(o.obs, n * OBS_SIZE).expect("checked"),
        masks: opt(o.masks, n * NUM_ACTIONS).expect("checked"),
        rewards: opt(o.rewards, n),
        terminated: opt(o.terminated, n),
        truncated: opt(o.truncated, n),
        current_player: opt(o.current_player, n),
        illegal: opt(o.illegal, n),
        final_obs: opt(o.final_obs, n * OBS_SIZE),
    })
}

/// Deals every game again, game i from `seeds[i]` (an array of N seeds) or,
/// when `seeds` is NULL, from `base_seed + i`. Writes every row of `out`
/// (obs, masks, current player; rewards and flags zeroed).
#[no_mangle]
pub extern "C" fn ew_batch_reset(
    batch: *mut EwBatch,
    base_seed: u64,
    seeds: *const u64,
    out: *const EwBatchOutput,
) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        let n = b.len();
        let mut o = outputs(out, n)?;
        let seeds = if seeds.is_null() { None } else { Some(in_buf(seeds, n, "seeds")?) };
        b.reset(base_seed, seeds, &mut o)?;
        Ok(())
    })
}

/// Deals the `count` games in `indices` again, game `indices[k]` from
/// `seeds[k]`, writing only their rows of `out`.
#[no_mangle]
pub extern "C" fn ew_batch_reset_subset(
    batch: *mut EwBatch,
    indices: *const u32,
    seeds: *const u64,
    count: usize,
    out: *const EwBatchOutput,
) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        let mut o = outputs(out, b.len())?;
        let idx = in_buf(indices, count, "indices")?;
        let s = in_buf(seeds, count, "seeds")?;
        b.reset_subset(idx, s, &mut o)?;
        Ok(())
    })
}

/// Writes the current observation, mask and player to move of every game.
#[no_mangle]
pub extern "C" fn ew_batch_observe(batch: *mut EwBatch, out: *const EwBatchOutput) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        let mut o = outputs(out, b.len())?;
        b.observe(&mut o)?;
        Ok(())
    })
}

/// Writes the card ids of every game (row i = game i, 34 values each, from the
/// perspective of its player to move; see `ew_game_card_ids`) into `out`
/// (`len` >= 34 * N). Call it after a step or reset to pair with its observations.
#[no_mangle]
pub extern "C" fn ew_batch_card_ids(batch: *mut EwBatch, out: *mut u16, len: usize) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        let n = b.len();
        let buf = out_buf(out, len, n * CARD_ID_SLOTS, "card ids")?;
        for (i, row) in buf.chunks_exact_mut(CARD_ID_SLOTS).enumerate() {
            let g = b.game(i);
            card_ids_as(g, g.current_player(), row.try_into().expect("34 values"));
        }
        Ok(())
    })
}

/// The number of legal actions of the player to move in each of the `n_indices`
/// distinct games in `indices`, game `indices[j]`'s into `counts_out[j]`
/// (`counts_len` >= `n_indices`; 0 for a finished game): the number of rows
/// `ew_batch_afterstates` writes for it, to size its buffers and split its rows.
#[no_mangle]
pub extern "C" fn ew_batch_legal_counts(
    batch: *mut EwBatch,
    indices: *const u32,
    n_indices: usize,
    counts_out: *mut u32,
    counts_len: usize,
) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        let idx = in_buf(indices, n_indices, "indices")?;
        b.check_indices(idx)?;
        if idx.is_empty() {
            return Ok(());
        }
        let counts = out_buf(counts_out, counts_len, idx.len(), "legal counts")?;
        for (c, &i) in counts.iter_mut().zip(idx) {
            *c = b.game(i as usize).legal_mask().count();
        }
        Ok(())
    })
}

/// The afterstates of the `n_indices` distinct games in `indices`, one game after
/// another in the order given: game `indices[j]`'s rows (one per legal action of
/// its player to move, as `ew_game_afterstates` writes them) follow those of
/// `indices[0..j]`, so its block has its legal-action count of rows
/// (`ew_batch_legal_counts`). The games are unchanged.
///
/// `obs_len` >= 326 * rows and `result_len` >= rows floats, rows = the total;
/// nothing past the rows is written. `*rows_out` (may be NULL) gets the total,
/// also on `EW_ERR_BUFFER_TOO_SMALL`. An index out of range or given twice is
/// `EW_ERR_BAD_ARGUMENT`.
#[no_mangle]
pub extern "C" fn ew_batch_afterstates(
    batch: *mut EwBatch,
    indices: *const u32,
    n_indices: usize,
    obs_out: *mut f32,
    obs_len: usize,
    result_out: *mut f32,
    result_len: usize,
    rows_out: *mut usize,
) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        let idx = in_buf(indices, n_indices, "indices")?;
        b.check_indices(idx)?;
        let rows: usize = idx.iter().map(|&i| b.game(i as usize).legal_mask().count() as usize).sum();
        put_opt(rows_out, rows);
        let (obs, res) = afterstate_bufs(obs_out, obs_len, result_out, result_len, rows)?;
        let mut at = 0;
        for &i in idx {
            at += b.game(i as usize).afterstates(&mut obs[at * OBS_SIZE..], &mut res[at..]);
        }
        debug_assert_eq!(at, rows);
        Ok(())
    })
}

fn record_bad_index(e: &BatchError, bad_index: *mut i64) {
    let i = match e {
        BatchError::Illegal { index, .. } | BatchError::GameOver { index } => *index as i64,
        BatchError::BadArgument(_) => -1,
    };
    put_opt(bad_index, i);
}

/// Steps every game: game i plays `actions[i]` (N int64 actions), opponents
/// answer inside the step, and every row of `out` is written. On an illegal
/// action under `EW_ILLEGAL_ERROR`, or a finished game without autoreset,
/// nothing changes and `*bad_index` (may be NULL) gets the first offending
/// game (-1 when the error is not about one game).
#[no_mangle]
pub extern "C" fn ew_batch_step(
    batch: *mut EwBatch,
    actions: *const i64,
    out: *const EwBatchOutput,
    bad_index: *mut i64,
) -> EwStatus {
    put_opt(bad_index, -1);
    guard(|| {
        let b = batch_mut(batch)?;
        let n = b.len();
        let mut o = outputs(out, n)?;
        let acts = in_buf(actions, n, "actions")?;
        b.step(acts, &mut o).map_err(|e| {
            record_bad_index(&e, bad_index);
            Failure::from(e)
        })
    })
}

/// Steps only the `count` distinct games in `indices`, game `indices[k]`
/// playing `actions[k]`, and writes only their rows of `out` (arrays of N rows).
#[no_mangle]
pub extern "C" fn ew_batch_step_subset(
    batch: *mut EwBatch,
    indices: *const u32,
    actions: *const i64,
    count: usize,
    out: *const EwBatchOutput,
    bad_index: *mut i64,
) -> EwStatus {
    put_opt(bad_index, -1);
    guard(|| {
        let b = batch_mut(batch)?;
        let mut o = outputs(out, b.len())?;
        let idx = in_buf(indices, count, "indices")?;
        let acts = in_buf(actions, count, "actions")?;
        b.step_subset(idx, acts, &mut o).map_err(|e| {
            record_bad_index(&e, bad_index);
            Failure::from(e)
        })
    })
}

/// A copy of game `index` as a new game handle (free it with `ew_game_free`).
#[no_mangle]
pub extern "C" fn ew_batch_get_game(batch: *mut EwBatch, index: u32, out: *mut *mut EwGame) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        let r = selected(b, index)?;
        if index == EW_ALL_GAMES || out.is_null() {
            return fail(EW_ERR_BAD_ARGUMENT, "need one game index and a non-NULL out");
        }
        put(out, new_game_handle(*b.game(r.start)), "out")
    })
}

/// The seed game `index` was last dealt from into `*out`.
#[no_mangle]
pub extern "C" fn ew_batch_seed(batch: *mut EwBatch, index: u32, out: *mut u64) -> EwStatus {
    guard(|| {
        let b = batch_mut(batch)?;
        if index as usize >= b.len() {
            return fail(
                EW_ERR_BAD_ARGUMENT,
                format!("game index {index} out of range (the batch has {} games)", b.len()),
            );
        }
        put(out, b.seed(index as usize), "out")
    })
}

// ---------------------------------------------------------------------------
// Debugging and testing aids.

/// Panics inside the library, to test that panics are caught: always returns
/// `EW_ERR_PANIC`.
#[no_mangle]
pub extern "C" fn ew_debug_panic() -> EwStatus {
    guard(|| panic!("ew_debug_panic was called"))
}

/// Live handles: games into `*games`, batches into `*batches` (either may be NULL).
/// For leak checks.
#[no_mangle]
pub extern "C" fn ew_debug_live_handles(games: *mut u64, batches: *mut u64) -> EwStatus {
    guard(|| {
        let live = registry().live;
        put_opt(games, live[0]);
        put_opt(batches, live[1]);
        Ok(())
    })
}

/// The reference trajectory hash, computed with the Rust API only (no handles),
/// for checking that other languages see the same game through the C ABI.
///
/// The game is dealt from `seed`; at step t (from 0) the player to move plays
/// the k-th legal action in index order, k = splitmix64_mix(policy_seed + t) mod
/// (number of legal actions), until the game ends or `max_steps` actions were
/// played. The hash is FNV-1a 64 over, for each state reached (the first and
/// each after an action): the 326 observation floats as little-endian bytes,
/// then the 256 mask bytes; and after each action its reward (float32 LE) and
/// done byte. `*steps` (may be NULL) gets the number of actions played.
#[no_mangle]
pub extern "C" fn ew_debug_trajectory_hash(
    seed: u64,
    deck0: *const c_char,
    deck1: *const c_char,
    mode: *const c_char,
    policy_seed: u64,
    max_steps: u32,
    hash: *mut u64,
    steps: *mut u32,
) -> EwStatus {
    guard(|| {
        let g = Game::new(seed, preset_deck(deck0, "deck0")?, preset_deck(deck1, "deck1")?, parse_mode(mode)?);
        let (h, n) = trajectory_hash(g, policy_seed, max_steps);
        put(hash, h, "hash")?;
        put_opt(steps, n);
        Ok(())
    })
}

/// See [`ew_debug_trajectory_hash`].
pub fn trajectory_hash(mut g: Game, policy_seed: u64, max_steps: u32) -> (u64, u32) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    let mut obs = [0f32; OBS_SIZE];
    let mut mask = [0u8; NUM_ACTIONS];
    let mut t = 0u32;
    loop {
        g.observe(&mut obs);
        for x in &obs {
            feed(&x.to_le_bytes());
        }
        let m = g.legal_mask();
        m.write_bytes(&mut mask);
        feed(&mask);
        if g.is_over() || t >= max_steps {
            break;
        }
        let k = crate::batch::mix64(policy_seed.wrapping_add(t as u64)) % m.count() as u64;
        let r = g.apply(m.nth(k as u32) as u16).expect("a legal action");
        feed(&r.reward.to_le_bytes());
        feed(&[r.done as u8]);
        t += 1;
    }
    (h, t)
}

#[cfg(test)]
mod tests;
