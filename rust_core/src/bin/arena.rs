//! Arena: plays two bots against each other and reports the results with
//! 95% Wilson confidence intervals; `--balance` runs the deck balance check
//! of GAME.md (greedy mirror over every deck pairing).
//!
//! Games are independent and seeded from `--seed` and the game index, so the
//! results are the same for any `--threads`. Games come in pairs over the
//! same deal (same seed, same deck on each seat) with the bots' seats
//! swapped; the deal's deck pair rotates over all ordered pairs of the
//! chosen decks.

use essence_wars::bots::BotSpec;
use essence_wars::decks::{preset_names, Deck};
use essence_wars::rng::Rng;
use essence_wars::state::{Game, Mode, Outcome};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::exit;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const USAGE: &str = "\
Essence Wars arena: plays bots against each other.

USAGE:
    arena [OPTIONS]
    arena --balance [OPTIONS]

OPTIONS:
    --p0 BOT          bot A (default: greedy)
    --p1 BOT          bot B (default: random)
    --games N         games to play (default: 1000); with --balance, games per
                      deck pairing, split over both seat orders (default: 1000)
    --decks LIST      'all' (default) or a comma list of preset decks; deals
                      rotate over all ordered pairs of them (mirrors included,
                      except with --balance)
    --deck0 NAME      fix the deck of seat 0 (the first player)
    --deck1 NAME      fix the deck of seat 1
    --seed N          base seed (default: 1)
    --mode MODE       attrition (default) or essence_duel
    --threads N       worker threads (default: all cores); results do not depend on it
    --per-deck        also print each deck's results against the field
    --balance         balance check: greedy vs greedy (or --p0/--p1) over every
                      pairing of different decks, each deck's win rate against
                      the field and the first player's win rate, against the
                      GAME.md targets (decks 40-60%, first player 45-55%)
    --quiet           no progress output on stderr
    -h, --help        this text

BOTS:
    random            uniform over legal actions
    greedy            one-ply lookahead with a weighted evaluation
    mcts-N            UCT with N simulations per decision, random rollouts
    mcts-N-greedy     UCT with N simulations per decision, greedy rollouts

Bots A and B swap seats every other game over the same deal. Draws count
half in every 'score'. Exit code 2 on bad arguments.";

/// 95% two-sided normal quantile.
const Z95: f64 = 1.959_963_985;

struct Config {
    bot_a: BotSpec,
    bot_b: BotSpec,
    games: u64,
    deck_names: Vec<String>,
    decks: Vec<Deck>,
    /// Ordered (seat 0 deck, seat 1 deck) index pairs the deals rotate over.
    pairs: Vec<(usize, usize)>,
    seed: u64,
    mode: Mode,
    threads: usize,
    per_deck: bool,
    balance: bool,
    quiet: bool,
}

/// One finished game.
#[derive(Clone, Copy, Debug)]
struct Record {
    /// The seat bot A played.
    a_seat: usize,
    /// Deck index by seat.
    decks: [usize; 2],
    outcome: Outcome,
    turns: u16,
    actions: u32,
}

impl Record {
    /// 1 win, 0.5 draw, 0 loss for `seat`.
    fn score(&self, seat: usize) -> f64 {
        match self.outcome {
            Outcome::Winner(w) if w as usize == seat => 1.0,
            Outcome::Winner(_) => 0.0,
            _ => 0.5,
        }
    }
}

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("arena: error: {msg}");
    eprintln!("run `arena --help` for usage");
    exit(2)
}

fn parse_args() -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts: Vec<(String, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            exit(0);
        }
        let Some(body) = arg.strip_prefix("--") else { fail(format!("unexpected argument {arg:?}")) };
        let (key, inline) = match body.split_once('=') {
            Some((k, v)) => (k.to_string(), Some(v.to_string())),
            None => (body.to_string(), None),
        };
        let takes_value = match key.as_str() {
            "p0" | "p1" | "games" | "decks" | "deck0" | "deck1" | "seed" | "mode" | "threads" => true,
            "per-deck" | "balance" | "quiet" => false,
            _ => fail(format!("unknown option --{key}")),
        };
        let value = if takes_value {
            match inline {
                Some(v) => Some(v),
                None if i < args.len() && !args[i].starts_with("--") => {
                    i += 1;
                    Some(args[i - 1].clone())
                }
                None => fail(format!("--{key} needs a value")),
            }
        } else {
            if inline.is_some() {
                fail(format!("--{key} takes no value"));
            }
            None
        };
        if opts.iter().any(|(k, _)| *k == key) {
            fail(format!("--{key} given twice"));
        }
        opts.push((key, value));
    }
    let get = |k: &str| opts.iter().find(|(key, _)| key == k).and_then(|(_, v)| v.clone());
    let flag = |k: &str| opts.iter().any(|(key, _)| key == k);

    let balance = flag("balance");
    let bot = |k: &str, default: &str| {
        let name = get(k).unwrap_or_else(|| default.to_string());
        BotSpec::parse(&name).unwrap_or_else(|e| fail(format!("--{k}: {e}")))
    };
    let bot_a = bot("p0", "greedy");
    let bot_b = bot("p1", if balance { "greedy" } else { "random" });
    let number = |k: &str, default: u64| -> u64 {
        match get(k) {
            None => default,
            Some(v) => {
                v.trim().parse().unwrap_or_else(|_| fail(format!("--{k} must be a non-negative integer, got {v:?}")))
            }
        }
    };
    let games = number("games", 1000);
    if games == 0 {
        fail("--games must be at least 1");
    }
    let seed = number("seed", 1);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = number("threads", cores as u64);
    if threads == 0 || threads > 1024 {
        fail(format!("--threads must be between 1 and 1024, got {threads}"));
    }
    let mode = match get("mode") {
        None => Mode::Attrition,
        Some(m) => {
            Mode::parse(&m).unwrap_or_else(|| fail(format!("unknown mode {m:?}; valid modes: attrition, essence_duel")))
        }
    };

    let preset = |name: &str| -> (String, Deck) {
        let deck = Deck::preset(name).unwrap_or_else(|e| fail(e));
        let canonical = preset_names().find(|n| n.eq_ignore_ascii_case(name.trim())).unwrap_or(name);
        (canonical.to_string(), deck)
    };
    let mut named: Vec<(String, Deck)> = Vec::new();
    let fixed = (get("deck0"), get("deck1"));
    let pairs: Vec<(usize, usize)>;
    if fixed.0.is_some() || fixed.1.is_some() {
        if balance {
            fail("--deck0/--deck1 cannot be combined with --balance (it plays every pairing)");
        }
        if get("decks").is_some() {
            fail("--deck0/--deck1 cannot be combined with --decks");
        }
        let d0 = fixed.0.clone().or(fixed.1.clone()).unwrap();
        let d1 = fixed.1.or(fixed.0).unwrap();
        named.push(preset(&d0));
        let (n1, deck1) = preset(&d1);
        if n1 == named[0].0 {
            pairs = vec![(0, 0)];
        } else {
            named.push((n1, deck1));
            pairs = vec![(0, 1)];
        }
    } else {
        let list = get("decks").unwrap_or_else(|| "all".into());
        if list.trim().eq_ignore_ascii_case("all") {
            named = preset_names().map(preset).collect();
        } else {
            for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
                let (n, d) = preset(name);
                if named.iter().any(|(m, _)| *m == n) {
                    fail(format!("deck {n:?} is listed twice in --decks"));
                }
                named.push((n, d));
            }
        }
        if named.is_empty() {
            fail(format!("--decks lists no deck; valid decks: {}", preset_names().collect::<Vec<_>>().join(", ")));
        }
        let n = named.len();
        pairs = if balance {
            if n < 2 {
                fail("--balance needs at least two decks");
            }
            (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).collect()
        } else {
            (0..n).flat_map(|i| (0..n).map(move |j| (i, j))).collect()
        };
    }
    for (name, deck) in &named {
        let ids: Vec<i64> = deck.cards.iter().map(|&c| c as i64).collect();
        if let Err(e) = Deck::from_ids(&ids) {
            eprintln!("arena: warning: preset deck {name} is not a valid deck ({e}); playing it anyway");
        }
    }
    // With --balance, --games is per unordered pairing: half per seat order.
    let games = if balance { (games + 1) / 2 * pairs.len() as u64 } else { games };
    let (deck_names, decks) = named.into_iter().unzip();
    Config {
        bot_a,
        bot_b,
        games,
        deck_names,
        decks,
        pairs,
        seed,
        mode,
        threads: threads as usize,
        per_deck: flag("per-deck"),
        balance,
        quiet: flag("quiet"),
    }
}

/// A well-mixed 64-bit value from two inputs (SplitMix64 of a combination).
fn mix(a: u64, b: u64) -> u64 {
    Rng::new(a ^ b.wrapping_mul(0xD6E8_FEB8_6659_FD93)).next_u64()
}

/// Plays game `index`: deal `index / 2`, bot A in seat `index % 2`.
fn play(cfg: &Config, index: u64) -> Record {
    let deal = index / 2;
    let a_seat = (index % 2) as usize;
    let (d0, d1) = cfg.pairs[(deal % cfg.pairs.len() as u64) as usize];
    let game_seed = mix(cfg.seed, deal);
    let mut game = Game::new(game_seed, cfg.decks[d0], cfg.decks[d1], cfg.mode);
    let bot_a = cfg.bot_a.build(mix(game_seed, 2 * index + 1));
    let bot_b = cfg.bot_b.build(mix(game_seed, 2 * index + 2));
    let mut bots = if a_seat == 0 { [bot_a, bot_b] } else { [bot_b, bot_a] };
    while !game.is_over() {
        let seat = game.current_player();
        let action = bots[seat].choose(&game);
        if let Err(e) = game.apply(action as u16) {
            panic!("game {index} (seed {game_seed}): bot {} chose a refused action: {e}", bots[seat].name());
        }
    }
    Record { a_seat, decks: [d0, d1], outcome: game.outcome, turns: game.turn, actions: game.actions }
}

/// Plays every game on `cfg.threads` threads; records in game order.
fn run(cfg: &Config) -> (Vec<Record>, Duration) {
    let start = Instant::now();
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let results: Mutex<Vec<(u64, Record)>> = Mutex::new(Vec::with_capacity(cfg.games as usize));
    std::thread::scope(|scope| {
        for _ in 0..cfg.threads.min(cfg.games as usize) {
            scope.spawn(|| {
                let mut local = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= cfg.games {
                        break;
                    }
                    local.push((i, play(cfg, i)));
                    done.fetch_add(1, Ordering::Relaxed);
                }
                results.lock().unwrap().extend(local);
            });
        }
        // Progress on stderr once the run takes more than a moment.
        let mut printed = false;
        loop {
            let d = done.load(Ordering::Relaxed);
            if d >= cfg.games {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            let elapsed = start.elapsed().as_secs_f64();
            if !cfg.quiet && elapsed > 1.0 && (!printed || (elapsed * 10.0) as u64 % 10 == 0) {
                let d = done.load(Ordering::Relaxed).max(1);
                let eta = elapsed / d as f64 * (cfg.games - d.min(cfg.games)) as f64;
                eprint!(
                    "\r[arena] {d}/{} games ({:.1}%), {elapsed:.0} s elapsed, ~{eta:.0} s left   ",
                    cfg.games,
                    100.0 * d as f64 / cfg.games as f64
                );
                let _ = std::io::stderr().flush();
                printed = true;
            }
        }
        if printed {
            eprintln!("\r[arena] {0}/{0} games done in {1:.1} s{2:30}", cfg.games, start.elapsed().as_secs_f64(), "");
        }
    });
    let mut results = results.into_inner().unwrap();
    results.sort_by_key(|(i, _)| *i);
    (results.into_iter().map(|(_, r)| r).collect(), start.elapsed())
}

/// Wilson score interval for `successes` out of `n` (successes may be
/// fractional when draws count half), as percentages.
fn wilson(successes: f64, n: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 100.0);
    }
    let p = successes / n;
    let z2 = Z95 * Z95;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = Z95 / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    (100.0 * (center - half).max(0.0), 100.0 * (center + half).min(1.0))
}

/// "`pct`% [lo, hi]" for a proportion.
fn pct_ci(successes: f64, n: f64) -> String {
    let (lo, hi) = wilson(successes, n);
    let p = if n > 0.0 { 100.0 * successes / n } else { 0.0 };
    format!("{p:5.1}% [{lo:5.1}, {hi:5.1}]")
}

#[derive(Default, Clone, Copy)]
struct Tally {
    wins: u64,
    draws: u64,
    losses: u64,
}

impl Tally {
    fn add(&mut self, score: f64) {
        if score == 1.0 {
            self.wins += 1;
        } else if score == 0.0 {
            self.losses += 1;
        } else {
            self.draws += 1;
        }
    }
    fn n(&self) -> f64 {
        (self.wins + self.draws + self.losses) as f64
    }
    fn score(&self) -> f64 {
        self.wins as f64 + 0.5 * self.draws as f64
    }
}

fn first_player(records: &[Record]) -> Tally {
    let mut t = Tally::default();
    records.iter().for_each(|r| t.add(r.score(0)));
    t
}

fn header(cfg: &Config, what: &str) -> String {
    let decks = if cfg.deck_names.len() == preset_names().count() && cfg.pairs.len() > 1 {
        format!("all {} presets", cfg.deck_names.len())
    } else {
        cfg.deck_names.join(", ")
    };
    format!(
        "{what}: {} games, mode {}, seed {}, decks: {decks}, {} deck pairing(s), threads {}",
        cfg.games,
        cfg.mode.name(),
        cfg.seed,
        cfg.pairs.len(),
        cfg.threads
    )
}

fn lengths(records: &[Record]) -> String {
    let n = records.len().max(1) as f64;
    let turns = records.iter().map(|r| r.turns as f64).sum::<f64>() / n;
    let actions = records.iter().map(|r| r.actions as f64).sum::<f64>() / n;
    let limit = records.iter().filter(|r| r.turns >= essence_wars::state::TURN_LIMIT).count();
    format!(
        "mean game length: {turns:.1} turns, {actions:.1} actions ({:.1}% of games reach the turn limit)",
        100.0 * limit as f64 / n
    )
}

fn report_match(cfg: &Config, records: &[Record], elapsed: Duration) -> String {
    let mut out = String::new();
    let a = cfg.bot_a.to_string();
    let b = cfg.bot_b.to_string();
    let mut t = Tally::default();
    records.iter().for_each(|r| t.add(r.score(r.a_seat)));
    let n = t.n();
    let w = a.len().max(b.len()).max(5);
    let _ = writeln!(out, "{}", header(cfg, &format!("{a} (A) vs {b} (B)")));
    let _ = writeln!(out, "  A {a:<w$} wins   {:6}  {}", t.wins, pct_ci(t.wins as f64, n));
    let _ = writeln!(out, "    {:<w$} draws  {:6}  {}", "", t.draws, pct_ci(t.draws as f64, n));
    let _ = writeln!(out, "  B {b:<w$} wins   {:6}  {}", t.losses, pct_ci(t.losses as f64, n));
    let _ = writeln!(out, "  A score (wins + draws/2):      {}", pct_ci(t.score(), n));
    let fp = first_player(records);
    let _ = writeln!(
        out,
        "  first player (seat 0) wins:    {}  (draws {:.1}%, score {:.1}%)",
        pct_ci(fp.wins as f64, n),
        100.0 * fp.draws as f64 / n,
        100.0 * fp.score() / n
    );
    let _ = writeln!(out, "  {}", lengths(records));
    let _ = writeln!(
        out,
        "  time: {:.2} s, {:.0} games/s",
        elapsed.as_secs_f64(),
        records.len() as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    if cfg.per_deck {
        out.push_str(&per_deck_table(cfg, records));
    }
    out
}

/// Each deck's score against other decks (mirror deals excluded), and bot A's score with it.
#[allow(clippy::needless_range_loop)] // rows index several parallel tables
fn per_deck_table(cfg: &Config, records: &[Record]) -> String {
    let nd = cfg.decks.len();
    let mut field = vec![Tally::default(); nd];
    let mut with_a = vec![Tally::default(); nd];
    for r in records {
        with_a[r.decks[r.a_seat]].add(r.score(r.a_seat));
        if r.decks[0] != r.decks[1] {
            field[r.decks[0]].add(r.score(0));
            field[r.decks[1]].add(r.score(1));
        }
    }
    let w = cfg.deck_names.iter().map(|n| n.len()).max().unwrap_or(4).max(4);
    let mut out = String::new();
    let _ = writeln!(out, "\n  per deck (draws count half):");
    let _ = writeln!(
        out,
        "  {:<w$}  {:>6}  {:<24}  {:>6}  A's score with deck",
        "deck", "games", "score vs other decks", "A games"
    );
    for i in 0..nd {
        let _ = writeln!(
            out,
            "  {:<w$}  {:>6}  {:<24}  {:>6}  {}",
            cfg.deck_names[i],
            field[i].n(),
            if field[i].n() > 0.0 { pct_ci(field[i].score(), field[i].n()) } else { "-".into() },
            with_a[i].n(),
            if with_a[i].n() > 0.0 { pct_ci(with_a[i].score(), with_a[i].n()) } else { "-".into() },
        );
    }
    out
}

#[allow(clippy::needless_range_loop)] // rows index several parallel tables
fn report_balance(cfg: &Config, records: &[Record], elapsed: Duration) -> String {
    let nd = cfg.decks.len();
    let mut field = vec![Tally::default(); nd];
    let mut matrix = vec![vec![Tally::default(); nd]; nd];
    for r in records {
        for seat in 0..2 {
            let (mine, theirs) = (r.decks[seat], r.decks[1 - seat]);
            field[mine].add(r.score(seat));
            matrix[mine][theirs].add(r.score(seat));
        }
    }
    let mut out = String::new();
    let title = format!("balance check, {} vs {}", cfg.bot_a, cfg.bot_b);
    let _ = writeln!(out, "{}", header(cfg, &title));
    let _ = writeln!(
        out,
        "  {} games per pairing of two decks, both seat orders; draws count half; 95% Wilson intervals",
        cfg.games / (cfg.pairs.len() as u64 / 2).max(1)
    );
    let w = cfg.deck_names.iter().map(|n| n.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "\n  {:<w$}  {:>6}  {:>6}  {:>6}  {:>6}  {:<24}  target 40-60%",
        "deck", "games", "wins", "draws", "losses", "score vs the field"
    );
    let mut all_ok = true;
    for i in 0..nd {
        let t = field[i];
        let s = 100.0 * t.score() / t.n().max(1.0);
        let ok = (40.0..=60.0).contains(&s);
        all_ok &= ok;
        let _ = writeln!(
            out,
            "  {:<w$}  {:>6}  {:>6}  {:>6}  {:>6}  {:<24}  {}",
            cfg.deck_names[i],
            t.n(),
            t.wins,
            t.draws,
            t.losses,
            pct_ci(t.score(), t.n()),
            if ok { "ok" } else { "OUT OF RANGE" }
        );
    }
    let fp = first_player(records);
    let n = fp.n();
    let fs = 100.0 * fp.score() / n;
    let fp_ok = (45.0..=55.0).contains(&fs);
    let _ = writeln!(
        out,
        "\n  first player (seat 0): wins {}, draws {:.1}%, score {}  target 45-55%: {}",
        pct_ci(fp.wins as f64, n),
        100.0 * fp.draws as f64 / n,
        pct_ci(fp.score(), n),
        if fp_ok { "ok" } else { "OUT OF RANGE" }
    );
    let _ = writeln!(out, "  {}", lengths(records));
    // Pairwise matrix: row deck's score against the column deck.
    let _ = writeln!(out, "\n  pairwise score (row deck vs column deck, %):");
    let short: Vec<String> = cfg.deck_names.iter().map(|n| abbreviate(n)).collect();
    let mut line = format!("  {:<w$}", "");
    for s in &short {
        let _ = write!(line, "  {s:>7}");
    }
    let _ = writeln!(out, "{line}");
    for i in 0..nd {
        let mut line = format!("  {:<w$}", cfg.deck_names[i]);
        for j in 0..nd {
            let t = matrix[i][j];
            if i == j || t.n() == 0.0 {
                let _ = write!(line, "  {:>7}", "-");
            } else {
                let _ = write!(line, "  {:>7.1}", 100.0 * t.score() / t.n());
            }
        }
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(
        out,
        "\n  verdict: {} ({:.1} s, {:.0} games/s)",
        if all_ok && fp_ok { "all targets met" } else { "targets NOT met" },
        elapsed.as_secs_f64(),
        records.len() as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    out
}

/// A short column label: the initials of the name's words plus its last word's start.
fn abbreviate(name: &str) -> String {
    let words: Vec<&str> = name.split('_').collect();
    let mut s: String = words.iter().take(words.len() - 1).filter_map(|w| w.chars().next()).collect();
    s.push('_');
    s.extend(words.last().unwrap().chars().take(6 - s.len().min(5)));
    s
}

fn main() {
    let cfg = parse_args();
    let (records, elapsed) = run(&cfg);
    let report =
        if cfg.balance { report_balance(&cfg, &records, elapsed) } else { report_match(&cfg, &records, elapsed) };
    print!("{report}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_interval_matches_known_values() {
        // 50/100: [40.4, 59.6]; 0/10: [0, 27.8]; 10/10: [72.2, 100].
        let (lo, hi) = wilson(50.0, 100.0);
        assert!((lo - 40.38).abs() < 0.05 && (hi - 59.62).abs() < 0.05, "{lo} {hi}");
        let (lo, hi) = wilson(0.0, 10.0);
        assert!(lo == 0.0 && (hi - 27.75).abs() < 0.05, "{lo} {hi}");
        let (lo, hi) = wilson(10.0, 10.0);
        assert!((lo - 72.25).abs() < 0.05 && hi == 100.0, "{lo} {hi}");
    }

    #[test]
    fn abbreviations_are_short() {
        assert_eq!(abbreviate("argentum_control"), "a_cont");
        assert_eq!(abbreviate("symbiote_aggro"), "s_aggr");
    }
}
