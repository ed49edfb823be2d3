//! Engine benchmark, single-threaded: clone, observation, mask, apply, whole
//! games and MCTS decisions, over positions sampled from random games (not
//! just openings). Each figure is the median of several repetitions.
//!
//! `cargo run --release --bin bench [-- --quick] [-- --only ROW]`
//!
//! Instruction counts, which do not depend on what else the machine is
//! doing: `bench --callgrind WORKLOAD` runs one fixed workload (random_game,
//! greedy_game, mask, observe, apply) inside [`callgrind_workload`] and prints how many
//! operations it did; count only that function with
//!
//! ```text
//! valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*callgrind_workload*' \
//!     --callgrind-out-file=/tmp/cg.out ./target/release/bench --callgrind random_game
//! callgrind_annotate /tmp/cg.out | head -30    # total Ir / operations = Ir per operation
//! ```

use essence_wars::actions::NUM_ACTIONS;
use essence_wars::bots::{greedy_action, random_action, MctsBot, Rollout};
use essence_wars::decks::{preset_names, Deck};
use essence_wars::encoding::OBS_SIZE;
use essence_wars::rng::Rng;
use essence_wars::state::{Game, Mode};
use std::hint::black_box;
use std::time::Instant;

/// How much work each measurement does.
struct Plan {
    /// Random games whose every position is sampled.
    games: usize,
    /// Repetitions per measurement (the median is reported).
    reps: usize,
    /// Whole games timed per repetition.
    random_games: usize,
    greedy_games: usize,
    /// Positions searched per MCTS budget.
    mcts_positions: [usize; 2],
}

const FULL: Plan = Plan { games: 400, reps: 11, random_games: 2_000, greedy_games: 200, mcts_positions: [40, 12] };
const QUICK: Plan = Plan { games: 100, reps: 5, random_games: 400, greedy_games: 40, mcts_positions: [10, 4] };

/// Positions in the hot set of the per-position measurements.
const HOT_SET: usize = 256;
/// Passes over the hot set per repetition.
const HOT_PASSES: usize = 40;

/// A recorded random game: its start and the actions played.
struct Trajectory {
    start: Game,
    actions: Vec<u8>,
}

fn decks() -> Vec<Deck> {
    preset_names().filter_map(|n| Deck::preset(n).ok()).collect()
}

/// Deck pair and mode for game `i`, rotating over all ordered pairs; one game in four is essence_duel.
fn setup(decks: &[Deck], i: usize) -> (Deck, Deck, Mode) {
    let n = decks.len();
    let pair = i % (n * n);
    let mode = if i % 4 == 3 { Mode::EssenceDuel } else { Mode::Attrition };
    (decks[pair / n], decks[pair % n], mode)
}

fn record_games(decks: &[Deck], count: usize) -> Vec<Trajectory> {
    let mut rng = Rng::new(0xBE7C);
    (0..count)
        .map(|i| {
            let (d0, d1, mode) = setup(decks, i);
            let start = Game::new(1_000 + i as u64, d0, d1, mode);
            let mut g = start;
            let mut actions = Vec::new();
            while !g.is_over() {
                let a = random_action(&g, &mut rng);
                g.apply_unchecked(a);
                actions.push(a);
            }
            Trajectory { start, actions }
        })
        .collect()
}

/// Every position before an action, with the action played there.
fn positions(trajectories: &[Trajectory]) -> Vec<(Game, u8)> {
    let mut out = Vec::new();
    for t in trajectories {
        let mut g = t.start;
        for &a in &t.actions {
            out.push((g, a));
            g.apply_unchecked(a);
        }
    }
    out
}

/// Median over `reps` repetitions of `run()`, which returns (elapsed ns, operations).
/// Median over `reps` repetitions of `run()`, which returns a [`Timing`]:
/// (wall-clock, thread CPU time) per operation.
fn median_ns_per_op(reps: usize, mut run: impl FnMut() -> Timing) -> (f64, f64) {
    run(); // warm-up
    let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = (0..reps)
        .map(|_| {
            let t = run();
            (t.wall_ns / t.ops.max(1) as f64, t.cpu_ns / t.ops.max(1) as f64)
        })
        .unzip();
    (median(&mut wall), median(&mut cpu))
}

fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

/// One timed run: elapsed wall-clock and thread CPU time, and the operations done.
struct Timing {
    wall_ns: f64,
    cpu_ns: f64,
    ops: usize,
}

fn timed(f: impl FnOnce() -> usize) -> Timing {
    let (start, cpu_start) = (Instant::now(), thread_cpu_ns());
    let ops = f();
    Timing { wall_ns: start.elapsed().as_nanos() as f64, cpu_ns: thread_cpu_ns() - cpu_start, ops }
}

/// CPU time this thread has run, in ns (NaN where unsupported). Unlike
/// wall-clock time it does not count the time other processes hold the
/// core, so it stays comparable on a shared machine (caches are still shared).
#[cfg(target_os = "linux")]
fn thread_cpu_ns() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, out: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: clock_gettime (libc, linked by std on Linux) writes one
    // timespec (two 64-bit fields on 64-bit Linux, as declared) into the
    // valid, exclusively borrowed `t` and touches nothing else.
    let rc = unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut t) };
    if rc == 0 && cfg!(target_pointer_width = "64") {
        t.sec as f64 * 1e9 + t.nsec as f64
    } else {
        f64::NAN
    }
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns() -> f64 {
    f64::NAN
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

struct Row {
    name: &'static str,
    value: f64,
    /// Thread CPU time in the same unit (NaN where unsupported).
    cpu: f64,
    unit: &'static str,
    /// Target in the same unit, if the engine has one.
    target: Option<f64>,
}

/// The rows `--only` can select.
const ROWS: [&str; 9] =
    ["clone", "observe", "mask", "mask_bytes", "apply", "apply_checked", "random_game", "greedy_game", "mcts"];
/// The fixed workloads of `--callgrind`.
const WORKLOADS: [&str; 5] = ["random_game", "greedy_game", "mask", "observe", "apply"];
/// Random games played by the `random_game` workload.
const CALLGRIND_GAMES: usize = 200;
/// Greedy games played by the `greedy_game` workload.
const CALLGRIND_GREEDY_GAMES: usize = 20;

/// Plays `games` games of `pick` against itself from the benchmark's deals; returns the actions played.
/// Inlined into [`callgrind_workload`], so its instructions are counted there.
#[inline(always)]
fn play_games(decks: &[Deck], games: usize, pick: impl Fn(&Game, &mut Rng) -> u8) -> usize {
    let mut rng = Rng::new(0);
    let mut actions = 0;
    for i in 0..games {
        let (d0, d1, mode) = setup(decks, i);
        let mut g = Game::new(i as u64, d0, d1, mode);
        while !g.is_over() {
            let a = pick(&g, &mut rng);
            g.apply_unchecked(a);
            actions += 1;
        }
        black_box(&g);
    }
    actions
}

/// Runs one workload once and returns (operations, what one operation is).
/// Not inlined, so callgrind can count this function alone (see the module doc).
#[inline(never)]
fn callgrind_workload(
    name: &str,
    decks: &[Deck],
    hot: &[(Game, u8)],
    trajectories: &[Trajectory],
) -> (usize, &'static str) {
    match name {
        // As the "random vs random game" row: deals, masks, draws, applies.
        "random_game" => (
            play_games(decks, CALLGRIND_GAMES, random_action),
            "random-game action (mask + draw + apply; deals included)",
        ),
        // As the "greedy vs greedy game" row: per action a clone, apply and evaluation per legal action.
        "greedy_game" => (
            play_games(decks, CALLGRIND_GREEDY_GAMES, greedy_action),
            "greedy-game action (one-ply lookahead + apply; deals included)",
        ),
        "mask" => {
            for (g, _) in hot.iter().cycle().take(HOT_PASSES * hot.len()) {
                black_box(black_box(g).legal_mask());
            }
            (HOT_PASSES * hot.len(), "legal mask (bit set) on the hot set")
        }
        "observe" => {
            let mut obs = [0f32; OBS_SIZE];
            for (g, _) in hot.iter().cycle().take(HOT_PASSES * hot.len()) {
                black_box(g).observe(&mut obs);
                black_box(&mut obs);
            }
            (HOT_PASSES * hot.len(), "observation encode on the hot set")
        }
        _ => {
            let mut n = 0;
            for t in trajectories {
                let mut g = *black_box(&t.start);
                for &a in &t.actions {
                    g.apply_unchecked(black_box(a));
                }
                black_box(&g);
                n += t.actions.len();
            }
            (n, "apply_unchecked of a recorded random game's action")
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage =
        "usage: bench [--quick] [--only ROW] | bench --callgrind WORKLOAD (random_game, greedy_game, mask, observe, apply); \
                 ROW: clone, observe, mask, mask_bytes, apply, apply_checked, random_game, greedy_game, mcts";
    let (quick, only, workload) = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => (false, None, None),
        ["--quick"] => (true, None, None),
        ["--only", r] if ROWS.contains(r) => (false, Some(r.to_string()), None),
        ["--quick", "--only", r] | ["--only", r, "--quick"] if ROWS.contains(r) => (true, Some(r.to_string()), None),
        ["--callgrind", w] if WORKLOADS.contains(w) => (true, None, Some(w.to_string())),
        ["-h"] | ["--help"] => {
            println!("bench: single-threaded engine benchmark (medians over repetitions); {usage}");
            return;
        }
        _ => {
            eprintln!("bench: error: unexpected arguments {args:?}; {usage}");
            std::process::exit(2);
        }
    };
    let plan = if quick { QUICK } else { FULL };
    let want = |row: &str| only.as_deref().map_or(true, |o| o == row);
    let decks = decks();
    if decks.is_empty() {
        eprintln!("bench: error: no preset deck");
        std::process::exit(2);
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("machine: {}, {cores} core(s); single thread; {} mode", cpu_model(), if quick { "quick" } else { "full" });

    let trajectories = record_games(&decks, plan.games);
    let all_positions = positions(&trajectories);
    // The per-position measurements cycle over a hot set of positions spread
    // evenly over every recorded game (256 x 512 bytes fits in L2), as in an
    // env step or a search, where the state is in cache; timing the whole
    // multi-megabyte pool would measure memory bandwidth instead.
    let stride = (all_positions.len() / HOT_SET).max(1);
    let hot: Vec<(Game, u8)> = all_positions.iter().step_by(stride).take(HOT_SET).copied().collect();
    let hot_ops = HOT_PASSES * hot.len();
    if let Some(w) = workload {
        // The quick plan's 100 recorded games feed the mask, observe and apply workloads.
        let (ops, what) = callgrind_workload(&w, &decks, &hot, &trajectories);
        println!(
            "callgrind workload {w}: {ops} operations ({what}); Ir of callgrind_workload / {ops} = Ir per operation"
        );
        return;
    }
    let total_actions: usize = trajectories.iter().map(|t| t.actions.len()).sum();
    println!(
        "positions: {} from {} random games over {} deck pairings ({HOT_SET} of them, spread evenly, for the \
         per-position rows); Game is {} bytes; median of {} repetitions",
        all_positions.len(),
        plan.games,
        decks.len() * decks.len(),
        std::mem::size_of::<Game>(),
        plan.reps
    );
    let mut rows = Vec::new();

    if want("clone") {
        let clone = median_ns_per_op(plan.reps, || {
            timed(|| {
                for (g, _) in hot.iter().cycle().take(hot_ops) {
                    let copy: Game = *black_box(g);
                    black_box(&copy);
                }
                hot_ops
            })
        });
        rows.push(Row { name: "clone", value: clone.0, cpu: clone.1, unit: "ns", target: Some(100.0) });
    }

    if want("observe") {
        let mut obs = [0f32; OBS_SIZE];
        let observe = median_ns_per_op(plan.reps, || {
            timed(|| {
                for (g, _) in hot.iter().cycle().take(hot_ops) {
                    black_box(g).observe(&mut obs);
                    black_box(&mut obs);
                }
                hot_ops
            })
        });
        rows.push(Row {
            name: "observation encode (326 f32)",
            value: observe.0,
            cpu: observe.1,
            unit: "ns",
            target: Some(140.0),
        });
    }

    if want("mask") {
        let mask = median_ns_per_op(plan.reps, || {
            timed(|| {
                for (g, _) in hot.iter().cycle().take(hot_ops) {
                    black_box(black_box(g).legal_mask());
                }
                hot_ops
            })
        });
        rows.push(Row { name: "legal mask (bit set)", value: mask.0, cpu: mask.1, unit: "ns", target: Some(25.0) });
    }

    if want("mask_bytes") {
        let mut bytes = [0u8; NUM_ACTIONS];
        let mask_bytes = median_ns_per_op(plan.reps, || {
            timed(|| {
                for (g, _) in hot.iter().cycle().take(hot_ops) {
                    black_box(g).legal_mask().write_bytes(&mut bytes);
                    black_box(&mut bytes);
                }
                hot_ops
            })
        });
        rows.push(Row {
            name: "legal mask as 256 bytes",
            value: mask_bytes.0,
            cpu: mask_bytes.1,
            unit: "ns",
            target: None,
        });
    }

    if want("apply") {
        // Apply: replay each recorded game from its start, so every action is
        // applied to the position it was chosen in, with no clone per action.
        let apply = median_ns_per_op(plan.reps, || {
            timed(|| {
                for t in &trajectories {
                    let mut g = *black_box(&t.start);
                    for &a in &t.actions {
                        g.apply_unchecked(black_box(a));
                    }
                    black_box(&g);
                }
                total_actions
            })
        });
        rows.push(Row {
            name: "apply_unchecked (random legal action)",
            value: apply.0,
            cpu: apply.1,
            unit: "ns",
            target: None,
        });
    }
    if want("apply_checked") {
        let apply_checked = median_ns_per_op(plan.reps, || {
            timed(|| {
                for t in &trajectories {
                    let mut g = *black_box(&t.start);
                    for &a in &t.actions {
                        let _ = black_box(g.apply(black_box(a) as u16));
                    }
                    black_box(&g);
                }
                total_actions
            })
        });
        rows.push(Row {
            name: "apply, checked (mask + apply)",
            value: apply_checked.0,
            cpu: apply_checked.1,
            unit: "ns",
            target: None,
        });
    }

    let mut game_index = 0usize;
    if want("random_game") {
        let random_game = median_ns_per_op(plan.reps, || {
            timed(|| {
                let mut rng = Rng::new(game_index as u64);
                for _ in 0..plan.random_games {
                    let (d0, d1, mode) = setup(&decks, game_index);
                    let mut g = Game::new(game_index as u64, d0, d1, mode);
                    while !g.is_over() {
                        let a = random_action(&g, &mut rng);
                        g.apply_unchecked(a);
                    }
                    black_box(&g);
                    game_index += 1;
                }
                plan.random_games
            })
        });
        let random_game = (random_game.0 / 1e3, random_game.1 / 1e3);
        rows.push(Row {
            name: "random vs random game",
            value: random_game.0,
            cpu: random_game.1,
            unit: "us",
            target: Some(15.0),
        });
    }

    if want("greedy_game") {
        let greedy_game = median_ns_per_op(plan.reps.min(5), || {
            timed(|| {
                let mut rng = Rng::new(game_index as u64);
                for _ in 0..plan.greedy_games {
                    let (d0, d1, mode) = setup(&decks, game_index);
                    let mut g = Game::new(game_index as u64, d0, d1, mode);
                    while !g.is_over() {
                        let a = greedy_action(&g, &mut rng);
                        g.apply_unchecked(a);
                    }
                    black_box(&g);
                    game_index += 1;
                }
                plan.greedy_games
            })
        });
        let greedy_game = (greedy_game.0 / 1e3, greedy_game.1 / 1e3);
        rows.push(Row {
            name: "greedy vs greedy game",
            value: greedy_game.0,
            cpu: greedy_game.1,
            unit: "us",
            target: None,
        });
    }

    if want("mcts") {
        // MCTS: positions with a real choice, spread over whole games.
        let searchable: Vec<&Game> =
            all_positions.iter().map(|(g, _)| g).filter(|g| g.legal_mask().count() > 1).collect();
        for (k, (sims, rollout, target)) in
            [(100, Rollout::Random, Some(6.0)), (1000, Rollout::Random, None), (100, Rollout::Greedy, None)]
                .into_iter()
                .enumerate()
        {
            let count = plan.mcts_positions[if sims >= 1000 { 1 } else { 0 }];
            let step = (searchable.len() / count).max(1);
            let mut bot = MctsBot::new(sims, 7).with_rollout(rollout);
            bot.search(searchable[0]); // warm-up
            let (mut wall, mut cpu): (Vec<f64>, Vec<f64>) = searchable
                .iter()
                .step_by(step)
                .take(count)
                .map(|g| {
                    let t = timed(|| {
                        black_box(bot.search(black_box(g)));
                        1
                    });
                    (t.wall_ns / 1e6, t.cpu_ns / 1e6)
                })
                .unzip();
            let name: &'static str = match k {
                0 => "mcts-100 decision (random rollouts)",
                1 => "mcts-1000 decision (random rollouts)",
                _ => "mcts-100 decision (greedy rollouts)",
            };
            rows.push(Row { name, value: median(&mut wall), cpu: median(&mut cpu), unit: "ms", target });
        }
    }

    // Targets are judged on wall-clock time; the thread CPU time beside it
    // leaves out the time other processes held the core.
    println!("\n{:<40} {:>12} {:>12}  {:>8}", "operation (median)", "time", "cpu time", "target");
    for r in &rows {
        let (target, verdict) = match r.target {
            Some(t) => (format!("<= {t}"), if r.value <= t { "ok" } else { "MISSED" }),
            None => (String::new(), ""),
        };
        println!(
            "{:<40} {:>9.2} {:<2} {:>9.2} {:<2}  {:>8}  {}",
            r.name, r.value, r.unit, r.cpu, r.unit, target, verdict
        );
    }
    let per_game = total_actions as f64 / trajectories.len() as f64;
    println!("\n(random games average {per_game:.1} actions; greedy game timing includes its one-ply lookahead)");
}
