//! `pyo3_baseline`: our `rust_core` behind PyO3 bindings shaped like the
//! "thick Rust, thin Python" design that the cffi package replaced.
//!
//! It exists only so `benchmarks/run.py` can measure the binding design on
//! the very same engine. The shape it reproduces:
//!
//! - `PyGame`: one Python call per verb (`observe`, `action_mask`, `step`,
//!   `fork`); every read allocates a **new** NumPy array and copies into it.
//! - `PyParallelGames`: `step_batch(actions)` returns fresh `(rewards, dones)`
//!   arrays; `observe_batch()` and `action_mask_batch()` each allocate a new
//!   `[N, 326]` / `[N, 256]` array per call; a finished game is dealt again
//!   by a Python call per game (`reset_single`). With `parallel=True` the
//!   games of a step run on rayon's thread pool with the GIL released, as the
//!   original release's batch did.
//!
//! How "returned by copy" is done without the `numpy` crate (not packaged by
//! Debian): [`ndarray::new_copy`] calls NumPy's own C API (`PyArray_New`
//! from the `_ARRAY_API` capsule, the same entry the `numpy` crate uses),
//! then copies the Rust buffer into the new array: one allocation and one
//! `memcpy` per returned array, like `PyArray::from_slice`.

use essence_wars::batch::opponent_seed;
use essence_wars::bots::{Bot, BotSpec};
use essence_wars::{Deck, Game, Mode, NUM_ACTIONS, OBS_SIZE};
use pyo3::buffer::PyBuffer;
use pyo3::exceptions::{PyIndexError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use rayon::prelude::*;

mod ndarray {
    //! The smallest piece of NumPy's C API this crate needs: a new,
    //! C-contiguous array filled by copying a Rust slice.

    use pyo3::ffi;
    use pyo3::AsPyPointer;
    use pyo3::prelude::*;
    use std::os::raw::{c_int, c_void};
    use std::sync::OnceLock;

    type NpyIntp = isize;
    type PyArrayNewFn = unsafe extern "C" fn(
        *mut ffi::PyTypeObject,
        c_int,
        *const NpyIntp,
        c_int,
        *const NpyIntp,
        *mut c_void,
        c_int,
        c_int,
        *mut ffi::PyObject,
    ) -> *mut ffi::PyObject;

    /// NumPy type numbers (`NPY_BOOL`, `NPY_FLOAT`).
    pub const NPY_BOOL: c_int = 0;
    pub const NPY_FLOAT: c_int = 11;
    /// Slots of NumPy's `PyArray_API` table (stable since NumPy 1.0).
    const SLOT_ARRAY_TYPE: usize = 2;
    const SLOT_ARRAY_NEW: usize = 93;

    static API: OnceLock<usize> = OnceLock::new();

    fn api(py: Python<'_>) -> PyResult<*const *const c_void> {
        if let Some(p) = API.get() {
            return Ok(*p as *const *const c_void);
        }
        let module = py.import("numpy._core.multiarray").or_else(|_| py.import("numpy.core.multiarray"))?;
        let capsule = module.getattr("_ARRAY_API")?;
        // SAFETY: `capsule` is a live object; NumPy creates this capsule with a NULL name.
        let ptr = unsafe { ffi::PyCapsule_GetPointer(capsule.as_ptr(), std::ptr::null()) };
        if ptr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let _ = API.set(ptr as usize);
        Ok(ptr as *const *const c_void)
    }

    /// A new NumPy array of shape `dims` and type `typenum` holding a copy of `data`.
    /// `T` must be the element type `typenum` names (f32 for NPY_FLOAT, u8 0/1 for NPY_BOOL).
    pub fn new_copy<T: Copy>(py: Python<'_>, dims: &[usize], typenum: c_int, data: &[T]) -> PyResult<PyObject> {
        assert_eq!(dims.iter().product::<usize>(), data.len(), "shape and data disagree");
        let api = api(py)?;
        let shape: Vec<NpyIntp> = dims.iter().map(|&d| d as NpyIntp).collect();
        // SAFETY: the table entries are NumPy's `&PyArray_Type` and `PyArray_New`;
        // with NULL strides and data NumPy allocates a C-contiguous buffer of
        // `data.len()` elements of `typenum`, which the copy fills exactly. The
        // buffer pointer is the first field after `PyObject_HEAD` in
        // `PyArrayObject_fields` (NumPy's public, stable layout).
        unsafe {
            let array_type = *api.add(SLOT_ARRAY_TYPE) as *mut ffi::PyTypeObject;
            let array_new: PyArrayNewFn = std::mem::transmute(*api.add(SLOT_ARRAY_NEW));
            let arr = array_new(
                array_type,
                shape.len() as c_int,
                shape.as_ptr(),
                typenum,
                std::ptr::null(),
                std::ptr::null_mut(),
                0,
                0,
                std::ptr::null_mut(),
            );
            if arr.is_null() {
                return Err(PyErr::fetch(py));
            }
            let dst = *((arr as *mut u8).add(std::mem::size_of::<ffi::PyObject>()) as *mut *mut T);
            std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
            Ok(PyObject::from_owned_ptr(py, arr))
        }
    }
}

fn parse_deck(name: &str) -> PyResult<Deck> {
    Deck::preset(name).map_err(|e| PyValueError::new_err(e.to_string()))
}

fn parse_mode(name: &str) -> PyResult<Mode> {
    Mode::parse(name).ok_or_else(|| PyValueError::new_err(format!("unknown mode {name:?}")))
}

fn mask_bytes(g: &Game, out: &mut [u8; NUM_ACTIONS]) {
    g.legal_mask().write_bytes(out);
}

/// One game; every read returns a new NumPy array.
#[pyclass(module = "pyo3_baseline")]
struct PyGame {
    game: Game,
}

#[pymethods]
impl PyGame {
    #[new]
    #[args(seed = "0", deck0 = "\"argentum_control\"", deck1 = "\"symbiote_aggro\"", mode = "\"attrition\"")]
    fn new(seed: u64, deck0: &str, deck1: &str, mode: &str) -> PyResult<Self> {
        Ok(PyGame { game: Game::new(seed, parse_deck(deck0)?, parse_deck(deck1)?, parse_mode(mode)?) })
    }

    /// Deals a new game from `seed`.
    fn reset(&mut self, seed: u64) {
        self.game.reset(seed);
    }

    /// The observation of the player to move: a new float32 array [326].
    fn observe(&self, py: Python<'_>) -> PyResult<PyObject> {
        let mut buf = [0f32; OBS_SIZE];
        self.game.observe(&mut buf);
        ndarray::new_copy(py, &[OBS_SIZE], ndarray::NPY_FLOAT, &buf)
    }

    /// The legal-action mask: a new bool array [256].
    fn action_mask(&self, py: Python<'_>) -> PyResult<PyObject> {
        let mut buf = [0u8; NUM_ACTIONS];
        mask_bytes(&self.game, &mut buf);
        ndarray::new_copy(py, &[NUM_ACTIONS], ndarray::NPY_BOOL, &buf)
    }

    /// Plays `action`; returns `(reward of the actor, done)`.
    fn step(&mut self, action: u16) -> PyResult<(f32, bool)> {
        self.game
            .apply(action)
            .map(|r| (r.reward, r.done))
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    fn current_player(&self) -> usize {
        self.game.current_player()
    }

    fn is_done(&self) -> bool {
        self.game.is_over()
    }

    /// An independent copy.
    fn fork(&self) -> PyGame {
        PyGame { game: self.game }
    }
}

/// One game of a `PyParallelGames` and its opponent bot.
struct Slot {
    game: Game,
    bot: Option<Box<dyn Bot + Send>>,
}

impl Slot {
    fn step(&mut self, action: u16) -> (f32, bool) {
        // Validated before any game is stepped.
        let r = self.game.apply(action).expect("validated");
        if let Some(bot) = self.bot.as_mut() {
            while !self.game.is_over() && self.game.active != 0 {
                let a = bot.choose(&self.game);
                self.game.apply(a as u16).expect("bot actions are legal");
            }
            (self.game.reward(0), self.game.is_over())
        } else {
            (r.reward, r.done)
        }
    }
}

/// N games; `step_batch` returns new (rewards, dones) arrays, the reads return new arrays.
#[pyclass(module = "pyo3_baseline")]
struct PyParallelGames {
    slots: Vec<Slot>,
    decks: [Deck; 2],
    mode: Mode,
    opponent: Option<BotSpec>,
    parallel: bool,
    /// Scratch reused across calls (the copies out are what the design pays for).
    obs: Vec<f32>,
    masks: Vec<u8>,
    rewards: Vec<f32>,
    dones: Vec<u8>,
}

impl PyParallelGames {
    fn deal(&self, seed: u64) -> Slot {
        let mut s = Slot {
            game: Game::new(seed, self.decks[0], self.decks[1], self.mode),
            bot: self.opponent.map(|spec| spec.build(opponent_seed(seed))),
        };
        if let Some(bot) = s.bot.as_mut() {
            while !s.game.is_over() && s.game.active != 0 {
                let a = bot.choose(&s.game);
                s.game.apply(a as u16).expect("bot actions are legal");
            }
        }
        s
    }
}

#[pymethods]
impl PyParallelGames {
    #[new]
    #[args(
        deck0 = "\"argentum_control\"",
        deck1 = "\"symbiote_aggro\"",
        mode = "\"attrition\"",
        opponent = "\"random\"",
        parallel = "false"
    )]
    fn new(
        num_envs: usize,
        deck0: &str,
        deck1: &str,
        mode: &str,
        opponent: Option<&str>,
        parallel: bool,
    ) -> PyResult<Self> {
        if num_envs == 0 {
            return Err(PyValueError::new_err("num_envs must be at least 1"));
        }
        let opponent = match opponent {
            None | Some("self") | Some("none") => None,
            Some(name) => Some(BotSpec::parse(name).map_err(|e| PyValueError::new_err(e.to_string()))?),
        };
        let mut g = PyParallelGames {
            slots: Vec::with_capacity(num_envs),
            decks: [parse_deck(deck0)?, parse_deck(deck1)?],
            mode: parse_mode(mode)?,
            opponent,
            parallel,
            obs: vec![0.0; num_envs * OBS_SIZE],
            masks: vec![0; num_envs * NUM_ACTIONS],
            rewards: vec![0.0; num_envs],
            dones: vec![0; num_envs],
        };
        g.slots = (0..num_envs).map(|i| g.deal(i as u64)).collect();
        Ok(g)
    }

    #[getter]
    fn num_envs(&self) -> usize {
        self.slots.len()
    }

    /// Deals every game again, game i from `base_seed + i`.
    fn reset_all(&mut self, base_seed: u64) {
        self.slots = (0..self.slots.len()).map(|i| self.deal(base_seed.wrapping_add(i as u64))).collect();
    }

    /// Deals game `idx` again from `seed`.
    fn reset_single(&mut self, idx: usize, seed: u64) -> PyResult<()> {
        if idx >= self.slots.len() {
            return Err(PyIndexError::new_err(format!("game index {idx} out of range")));
        }
        self.slots[idx] = self.deal(seed);
        Ok(())
    }

    /// Steps game i with `actions[i]` (any int64 buffer, e.g. a NumPy array);
    /// returns new `(rewards float32 [N], dones bool [N])` arrays.
    fn step_batch(&mut self, py: Python<'_>, actions: &PyAny) -> PyResult<(PyObject, PyObject)> {
        let n = self.slots.len();
        let actions: Vec<i64> = PyBuffer::<i64>::get(actions)?.to_vec(py)?;
        if actions.len() != n {
            return Err(PyValueError::new_err(format!("expected {n} actions, got {}", actions.len())));
        }
        for (i, (&a, s)) in actions.iter().zip(&self.slots).enumerate() {
            if s.game.is_over() {
                return Err(PyRuntimeError::new_err(format!("game {i} is over; reset it first")));
            }
            if !(0..=255).contains(&a) || !s.game.legal_mask().has(a as u8) {
                return Err(PyValueError::new_err(format!("game {i}: action {a} is not legal")));
            }
        }
        let (slots, rewards, dones) = (&mut self.slots, &mut self.rewards, &mut self.dones);
        if self.parallel {
            py.allow_threads(|| {
                slots.par_iter_mut().zip(actions.par_iter()).zip(rewards.par_iter_mut().zip(dones.par_iter_mut())).for_each(
                    |((s, &a), (r, d))| {
                        let (reward, done) = s.step(a as u16);
                        *r = reward;
                        *d = done as u8;
                    },
                )
            });
        } else {
            for (i, s) in slots.iter_mut().enumerate() {
                let (reward, done) = s.step(actions[i] as u16);
                rewards[i] = reward;
                dones[i] = done as u8;
            }
        }
        Ok((
            ndarray::new_copy(py, &[n], ndarray::NPY_FLOAT, &self.rewards)?,
            ndarray::new_copy(py, &[n], ndarray::NPY_BOOL, &self.dones)?,
        ))
    }

    /// A new float32 array [N, 326] of every game's observation.
    fn observe_batch(&mut self, py: Python<'_>) -> PyResult<PyObject> {
        // `iter_mut` only because a slot's bot is `Send` but not `Sync`.
        let (slots, obs) = (&mut self.slots, &mut self.obs);
        let encode = |(s, row): (&mut Slot, &mut [f32])| s.game.observe(row.try_into().expect("row"));
        if self.parallel {
            py.allow_threads(|| slots.par_iter_mut().zip(obs.par_chunks_mut(OBS_SIZE)).for_each(encode));
        } else {
            slots.iter_mut().zip(obs.chunks_mut(OBS_SIZE)).for_each(encode);
        }
        ndarray::new_copy(py, &[self.slots.len(), OBS_SIZE], ndarray::NPY_FLOAT, &self.obs)
    }

    /// A new bool array [N, 256] of every game's legal-action mask.
    fn action_mask_batch(&mut self, py: Python<'_>) -> PyResult<PyObject> {
        let (slots, masks) = (&mut self.slots, &mut self.masks);
        let write = |(s, row): (&mut Slot, &mut [u8])| mask_bytes(&s.game, row.try_into().expect("row"));
        if self.parallel {
            py.allow_threads(|| slots.par_iter_mut().zip(masks.par_chunks_mut(NUM_ACTIONS)).for_each(write));
        } else {
            slots.iter_mut().zip(masks.chunks_mut(NUM_ACTIONS)).for_each(write);
        }
        ndarray::new_copy(py, &[self.slots.len(), NUM_ACTIONS], ndarray::NPY_BOOL, &self.masks)
    }

    fn current_players(&self) -> Vec<usize> {
        self.slots.iter().map(|s| s.game.current_player()).collect()
    }

    fn dones(&self) -> Vec<bool> {
        self.slots.iter().map(|s| s.game.is_over()).collect()
    }
}

#[pymodule]
fn pyo3_baseline(_py: Python<'_>, m: &PyModule) -> PyResult<()> {
    m.add_class::<PyGame>()?;
    m.add_class::<PyParallelGames>()?;
    m.add("OBS_SIZE", OBS_SIZE)?;
    m.add("NUM_ACTIONS", NUM_ACTIONS)?;
    Ok(())
}
