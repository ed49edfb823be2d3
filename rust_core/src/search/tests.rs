//! Tests of the neural MCTS: forced wins with a uniform network, sign
//! conventions across multi-action turns and seats, batched against one by
//! one, virtual loss, tree reuse and refused calls.

use super::*;
use crate::actions::{ATTACK_BASE, END_TURN};
use crate::bots::testutil::*;
use crate::bots::{Bot, RandomBot};
use crate::state::Mode;

/// A network: (observation, mask) -> (logits row, value for the player to move).
type Net<'a> = &'a dyn Fn(&[f32], &[u8]) -> ([f32; NUM_ACTIONS], f32);

fn uniform(_: &[f32], _: &[u8]) -> ([f32; NUM_ACTIONS], f32) {
    ([0.0; NUM_ACTIONS], 0.0)
}

/// A deterministic, perspective-only network: a function of the observation
/// that ignores offset 1 (the seat to move), so mirrored positions agree.
fn features(obs: &[f32], _: &[u8]) -> ([f32; NUM_ACTIONS], f32) {
    let mut logits = [0.0; NUM_ACTIONS];
    for (i, l) in logits.iter_mut().enumerate() {
        *l = ((i as f32 * 0.37 + obs[3] * 5.0 + obs[10] * 3.0).sin()) * 0.5;
    }
    let v = ((obs[3] - obs[10]) * 2.0 + (obs[16..116].iter().sum::<f32>() - obs[116..306].iter().sum::<f32>()) * 0.05)
        .tanh();
    (logits, v)
}

/// Runs rounds until every tree has its simulations; returns the number of
/// leaves the network evaluated.
fn run(search: &mut Search, net: Net) -> usize {
    let rows = search.rows();
    let mut obs = vec![0.0; rows * OBS_SIZE];
    let mut masks = vec![0u8; rows * NUM_ACTIONS];
    let mut flags = vec![0u8; rows];
    let mut priors = vec![f32::NAN; rows * NUM_ACTIONS];
    let mut values = vec![f32::NAN; rows];
    let mut evaluated = 0;
    loop {
        let n = search.select(&mut obs, &mut masks, &mut flags).unwrap();
        if n == 0 {
            return evaluated;
        }
        assert_eq!(flags.iter().filter(|&&f| f == 1).count(), n);
        for r in 0..rows {
            if flags[r] == 1 {
                let (p, v) =
                    net(&obs[r * OBS_SIZE..(r + 1) * OBS_SIZE], &masks[r * NUM_ACTIONS..(r + 1) * NUM_ACTIONS]);
                priors[r * NUM_ACTIONS..(r + 1) * NUM_ACTIONS].copy_from_slice(&p);
                values[r] = v;
                evaluated += 1;
            } else {
                // Rows without a leaf are never read: poison them.
                priors[r * NUM_ACTIONS..(r + 1) * NUM_ACTIONS].fill(f32::NAN);
                values[r] = f32::NAN;
            }
        }
        search.expand(&priors, &values).unwrap();
    }
}

fn quiet(simulations: u32) -> SearchConfig {
    SearchConfig { simulations, dirichlet_fraction: 0.0, ..SearchConfig::default() }
}

fn one_tree(game: Game, cfg: SearchConfig, seed: u64) -> Search {
    let mut s = Search::new(1, cfg, seed).unwrap();
    s.set_root(0, Some(game)).unwrap();
    s
}

fn best_action(s: &mut Search) -> u8 {
    let mut a = [0i64; 1];
    s.choose(0.0, &mut a).unwrap();
    a[0] as u8
}

fn child_stats(s: &Search, t: usize, action: u8) -> (u32, f32) {
    let tree = s.tree(t);
    let r = tree.nodes[0];
    let c = tree.nodes[r.first_child as usize..(r.first_child + r.n_children as u32) as usize]
        .iter()
        .find(|c| c.action == action)
        .unwrap();
    let sign = if c.player == r.player { 1.0 } else { -1.0 };
    (c.visits, sign * c.mean())
}

#[test]
fn gamma_and_dirichlet_have_the_right_moments() {
    let mut rng = Rng::new(5);
    for alpha in [0.03, 0.3, 1.0, 2.5] {
        let n = 40_000;
        let xs: Vec<f64> = (0..n).map(|_| gamma(&mut rng, alpha)).collect();
        assert!(xs.iter().all(|x| x.is_finite() && *x >= 0.0));
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        // Gamma(a, 1): mean a, variance a.
        assert!((mean - alpha).abs() < 0.05 * alpha.max(0.2), "alpha {alpha}: mean {mean}");
        assert!((var - alpha).abs() < 0.12 * alpha.max(0.2), "alpha {alpha}: var {var}");
    }
    let mut out = [0.0f32; 20];
    for _ in 0..100 {
        dirichlet(&mut rng, 0.3, &mut out);
        assert!((out.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(out.iter().all(|&x| x >= 0.0));
    }
}

#[test]
fn finds_a_win_in_one_action_with_a_uniform_network() {
    for seed in 0..8 {
        let mut g = bare_game(seed);
        let me = g.current_player();
        g.players[1 - me].life = 2;
        place(&mut g, me, 0, 1, 3);
        place(&mut g, me, 3, 2, 3);
        let mut s = one_tree(g, quiet(64), seed);
        let evaluated = run(&mut s, &uniform);
        let tree = s.tree(0);
        assert_eq!(tree.simulations_done(), 64);
        assert_eq!(tree.nodes[0].visits, 64, "every simulation reaches the root");
        // Terminal visits never go to the network.
        assert!(evaluated < 64, "seed {seed}: {evaluated} evaluations");
        let a = best_action(&mut s);
        let mut next = g;
        next.apply(a as u16).unwrap();
        assert_eq!(next.winner(), Some(me), "seed {seed}: chose {a}");
        let (_, q) = child_stats(&s, 0, a);
        assert_eq!(q, 1.0, "a terminal win is worth exactly +1 to the mover");
        let mut v = [0.0];
        s.root_values(&mut v).unwrap();
        assert!(v[0] > 0.5, "seed {seed}: root value {}", v[0]);
    }
}

/// Two attacks of 2 against 4 life in one turn; passing loses to the 9/9.
/// The follow-up attack is by the same player: backing up must not flip the
/// sign between the two attacks.
#[test]
fn finds_a_two_action_win_within_one_turn() {
    for seed in 0..6 {
        let mut g = bare_game(seed);
        let me = g.current_player();
        let foe = 1 - me;
        g.players[foe].life = 4;
        place(&mut g, me, 0, 2, 2);
        place(&mut g, me, 4, 2, 2);
        g.players[me].life = 1;
        place(&mut g, foe, 2, 9, 9);
        let mut s = one_tree(g, quiet(200), seed);
        run(&mut s, &uniform);
        let first = best_action(&mut s);
        let face = [ATTACK_BASE, ATTACK_BASE + 1, ATTACK_BASE + 5 * 4 + 3, ATTACK_BASE + 5 * 4 + 4];
        assert!(face.contains(&first), "seed {seed}: first action {first} is not a face attack");
        let (_, q) = child_stats(&s, 0, first);
        assert!(q > 0.5, "seed {seed}: first attack valued {q}");
        let (_, q_end) = child_stats(&s, 0, END_TURN);
        assert!(q_end < q);
        g.apply(first as u16).unwrap();
        assert!(!g.is_over() && g.current_player() == me);
        let mut s2 = one_tree(g, quiet(64), seed);
        run(&mut s2, &uniform);
        g.apply(best_action(&mut s2) as u16).unwrap();
        assert_eq!(g.winner(), Some(me), "seed {seed}");
    }
}

/// A network that says "seat 0 is winning" (+1 for seat 0, -1 for seat 1,
/// always for the player to move) must leave every node's mean at +1 when
/// seat 0 moves there and -1 when seat 1 does, however many actions a turn
/// takes: any wrong flip shows up as a mean strictly inside (-1, 1).
#[test]
fn values_are_kept_for_the_player_to_move_at_each_node() {
    let decks = all_decks();
    let mut g = Game::new(4, decks[0], decks[1], Mode::Attrition);
    let mut driver = RandomBot::new(1);
    while g.turn < 7 {
        g.apply_unchecked(driver.choose(&g));
    }
    let net = |obs: &[f32], _: &[u8]| ([0.0; NUM_ACTIONS], if obs[1] == 0.0 { 1.0 } else { -1.0 });
    let mut s = one_tree(g, quiet(400), 3);
    run(&mut s, &net);
    let tree = s.tree(0);
    let mut same_player_edges = 0;
    let mut flips = 0;
    for n in &tree.nodes {
        if n.state == NodeState::Expanded {
            let want = if n.player == 0 { 1.0 } else { -1.0 };
            assert!((n.mean() - want).abs() < 1e-5, "node of seat {} has mean {}", n.player, n.mean());
            if n.parent != NO_PARENT {
                if tree.nodes[n.parent as usize].player == n.player {
                    same_player_edges += 1;
                } else {
                    flips += 1;
                }
            }
        }
    }
    assert!(same_player_edges > 0 && flips > 0, "the tree must cross turns ({same_player_edges}, {flips})");
}

/// With `rollout_weight` 1 every leaf's value is a random playout's result
/// (+1, 0 or -1), whatever the network says. (The mix in between is covered
/// by `batched_search_equals_trees_one_by_one`, which runs it too.)
#[test]
fn rollout_weight_mixes_a_playout_into_each_leaf_value() {
    let g = positions(3)[2];
    let net = |_: &[f32], _: &[u8]| ([0.0; NUM_ACTIONS], 0.37);
    let sums = |w: f32, seed: u64| -> Vec<f32> {
        let mut s = one_tree(g, SearchConfig { rollout_weight: w, ..quiet(300) }, seed);
        run(&mut s, &net);
        s.tree(0).nodes.iter().map(|n| n.value_sum).collect()
    };
    // w = 1: sums of whole results only.
    let pure = sums(1.0, 5);
    assert!(pure.iter().all(|v| (v - v.round()).abs() < 1e-3), "non-integer value sum with w = 1");
    assert_eq!(pure, sums(1.0, 5), "the playouts come from the tree's seeded generator");
    assert_ne!(pure, sums(1.0, 6), "another seed, other playouts");
    // w = 0: the network alone; a node's sum is a count of 0.37s and terminal results.
    let net_only = sums(0.0, 5);
    assert!(net_only.iter().any(|v| (v - v.round()).abs() > 1e-2));
}

/// `rollout_policy` reaches the playouts: greedy playouts also give whole
/// results and repeat with the seed, but another tree than random ones from
/// the same generator.
#[test]
fn rollout_policy_chooses_the_playouts_actions() {
    let g = positions(3)[2];
    let net = |_: &[f32], _: &[u8]| ([0.0; NUM_ACTIONS], 0.37);
    let sums = |policy: Rollout, seed: u64| -> Vec<f32> {
        let cfg = SearchConfig { rollout_weight: 1.0, rollout_policy: policy, ..quiet(200) };
        let mut s = one_tree(g, cfg, seed);
        run(&mut s, &net);
        s.tree(0).nodes.iter().map(|n| n.value_sum).collect()
    };
    let greedy = sums(Rollout::Greedy, 5);
    assert!(greedy.iter().all(|v| (v - v.round()).abs() < 1e-3), "non-integer value sum with w = 1");
    assert_eq!(greedy, sums(Rollout::Greedy, 5), "the playouts come from the tree's seeded generator");
    assert_ne!(greedy, sums(Rollout::Random, 5), "greedy playouts must not be the random ones");
    assert_eq!(SearchConfig::default().rollout_policy, Rollout::Random);
}

/// `rollout_determinized` deals the undrawn cards afresh before each
/// playout: two positions that differ only in the deck order give the same
/// playout results from the same generator, which plain playouts (drawing
/// the real cards) do not.
#[test]
fn determinized_rollouts_do_not_see_the_deck_order() {
    let mut plain_differs = false;
    for (k, g) in positions(6).into_iter().enumerate() {
        let mut other = g;
        let mut rng = Rng::new(k as u64 + 100);
        for p in &mut other.players {
            let n = p.deck_len as usize;
            rng.shuffle(&mut p.deck[..n]);
        }
        if other == g {
            continue; // too few cards left to reorder
        }
        for policy in [Rollout::Random, Rollout::Greedy] {
            let results = |game: &Game, det: bool| -> Vec<f32> {
                let cfg = SearchConfig { rollout_policy: policy, rollout_determinized: det, ..quiet(1) };
                let mut t = Tree::new(k as u64);
                (0..24).map(|_| t.rollout(game, &cfg)).collect()
            };
            assert_eq!(results(&g, true), results(&other, true), "position {k}: determinized playouts saw the order");
            plain_differs |= results(&g, false) != results(&other, false);
        }
    }
    assert!(plain_differs, "plain playouts never depended on the deck order");
    assert!(!SearchConfig::default().rollout_determinized);
}

/// Swapping the seats (boards, hands, decks, whose move) is the same position
/// for the player to move: the same visits and the same value.
#[test]
fn mirrored_positions_give_mirrored_values() {
    let decks = all_decks();
    for seed in 0..4 {
        let mut g = Game::new(seed, decks[(seed as usize) % decks.len()], decks[1], Mode::Attrition);
        let mut driver = RandomBot::new(seed);
        while g.turn < 6 + seed as u16 {
            g.apply_unchecked(driver.choose(&g));
        }
        let mut m = g;
        m.players.swap(0, 1);
        m.decks.swap(0, 1);
        m.active = 1 - g.active;
        assert_eq!(g.legal_mask(), m.legal_mask());
        let mut a = one_tree(g, quiet(96), 0);
        let mut b = one_tree(m, quiet(96), 0);
        run(&mut a, &features);
        run(&mut b, &features);
        let (mut va, mut vb) = ([0.0; NUM_ACTIONS], [0.0; NUM_ACTIONS]);
        a.root_visits(&mut va).unwrap();
        b.root_visits(&mut vb).unwrap();
        assert_eq!(va, vb, "seed {seed}");
        let (mut xa, mut xb) = ([0.0], [0.0]);
        a.root_values(&mut xa).unwrap();
        b.root_values(&mut xb).unwrap();
        assert_eq!(xa, xb, "seed {seed}: values for the player to move");
        // In seat terms: seat 0's value in one is seat 1's value in the other.
        let seat0_a = if g.active == 0 { xa[0] } else { -xa[0] };
        let seat1_b = if m.active == 1 { xb[0] } else { -xb[0] };
        assert_eq!(seat0_a, seat1_b);
    }
}

fn positions(n: usize) -> Vec<Game> {
    let decks = all_decks();
    (0..n)
        .map(|i| {
            let mut g =
                Game::new(100 + i as u64, decks[i % decks.len()], decks[(i + 2) % decks.len()], Mode::Attrition);
            let mut driver = RandomBot::new(i as u64);
            while g.turn < 3 + (i % 5) as u16 && !g.is_over() {
                g.apply_unchecked(driver.choose(&g));
            }
            g
        })
        .collect()
}

/// B trees in one search give exactly what B one-tree searches give (noise,
/// sampling and tree reuse included), over several moves.
#[test]
fn batched_search_equals_trees_one_by_one() {
    let (random, greedy) = (Rollout::Random, Rollout::Greedy);
    for (leaves, rollout_weight, rollout_policy) in
        [(1, 0.0, random), (3, 0.0, random), (1, 0.5, random), (3, 0.5, random), (1, 0.5, greedy)]
    {
        let games = positions(6);
        let cfg = SearchConfig {
            simulations: 48,
            leaves_per_tree: leaves,
            rollout_weight,
            rollout_policy,
            ..SearchConfig::default()
        };
        let mut batch = Search::new(games.len(), cfg, 42).unwrap();
        let mut singles: Vec<Search> = Vec::new();
        for (i, g) in games.iter().enumerate() {
            batch.set_root(i, Some(*g)).unwrap();
            let mut s = one_tree(*g, cfg, 0);
            s.seed_tree(0, tree_seed(42, i as u64)).unwrap();
            singles.push(s);
        }
        for _mv in 0..5 {
            run(&mut batch, &features);
            let mut vb = vec![0.0; games.len() * NUM_ACTIONS];
            batch.root_visits(&mut vb).unwrap();
            let mut actions = vec![0i64; games.len()];
            batch.choose(1.0, &mut actions).unwrap();
            for (i, s) in singles.iter_mut().enumerate() {
                run(s, &features);
                let mut v = [0.0; NUM_ACTIONS];
                s.root_visits(&mut v).unwrap();
                assert_eq!(&vb[i * NUM_ACTIONS..(i + 1) * NUM_ACTIONS], &v[..], "tree {i}, leaves {leaves}");
                let mut a = [0i64];
                s.choose(1.0, &mut a).unwrap();
                assert_eq!(a[0], actions[i]);
                let (mut r, mut d) = ([0.0], [0u8]);
                s.apply(&a, &mut r, &mut d).unwrap();
            }
            let (mut r, mut d) = (vec![0.0; games.len()], vec![0u8; games.len()]);
            batch.apply(&actions, &mut r, &mut d).unwrap();
        }
    }
}

#[test]
fn virtual_loss_gathers_distinct_leaves_and_cleans_up() {
    let mut g = bare_game(1);
    let me = g.current_player();
    g.players[1 - me].life = 2;
    place(&mut g, me, 0, 1, 3);
    place(&mut g, me, 3, 2, 3);
    let cfg = SearchConfig { simulations: 80, leaves_per_tree: 8, dirichlet_fraction: 0.0, ..SearchConfig::default() };
    let mut s = one_tree(g, cfg, 0);
    let rows = s.rows();
    assert_eq!(rows, 8);
    let mut obs = vec![0.0; rows * OBS_SIZE];
    let mut masks = vec![0u8; rows * NUM_ACTIONS];
    let mut flags = vec![0u8; rows];
    // Round 1: only the root is a leaf (everything else is behind it).
    assert_eq!(s.select(&mut obs, &mut masks, &mut flags).unwrap(), 1);
    s.expand(&vec![0.0; rows * NUM_ACTIONS], &vec![0.0; rows]).unwrap();
    // Round 2: several distinct children at once.
    let n = s.select(&mut obs, &mut masks, &mut flags).unwrap();
    assert!(n > 1, "virtual loss should spread the descents, got {n}");
    s.expand(&vec![0.0; rows * NUM_ACTIONS], &vec![0.0; rows]).unwrap();
    run(&mut s, &uniform);
    let tree = s.tree(0);
    assert!(tree.nodes.iter().all(|n| n.vloss == 0 && n.state != NodeState::Pending));
    assert_eq!(tree.nodes[0].visits, 80);
    let a = best_action(&mut s);
    g.apply(a as u16).unwrap();
    assert_eq!(g.winner(), Some(me));
}

#[test]
fn tree_reuse_keeps_the_chosen_subtree() {
    let g = positions(1)[0];
    let mut s = one_tree(g, quiet(100), 0);
    run(&mut s, &features);
    let a = best_action(&mut s);
    let (visits, _) = child_stats(&s, 0, a);
    let (mut r, mut d) = ([0.0], [0u8]);
    s.apply(&[a as i64], &mut r, &mut d).unwrap();
    let tree = s.tree(0);
    if !tree.root().unwrap().is_over() && tree.root().unwrap().legal_mask().count() > 1 {
        assert_eq!(tree.nodes[0].visits, visits);
        assert_eq!(tree.simulations_done(), 0);
        run(&mut s, &features);
        assert_eq!(s.tree(0).nodes[0].visits, visits + 100);
        // The subtree's nodes are consistent after compaction.
        let tree = s.tree(0);
        for (i, n) in tree.nodes.iter().enumerate().skip(1) {
            let p = &tree.nodes[n.parent as usize];
            assert!((p.first_child as usize..(p.first_child + p.n_children as u32) as usize).contains(&i));
        }
    }
}

#[test]
fn a_forced_move_needs_no_search() {
    let mut g = bare_game(0);
    let me = g.current_player();
    assert_eq!(g.legal_mask().count(), 1, "bare game: only end turn");
    let mut s = one_tree(g, quiet(10), 0);
    assert_eq!(run(&mut s, &uniform), 0);
    let mut v = [0.0; NUM_ACTIONS];
    s.root_visits(&mut v).unwrap();
    assert_eq!(v[END_TURN as usize], 10.0);
    assert_eq!(best_action(&mut s), END_TURN);
    let (mut r, mut d) = ([0.0], [0u8]);
    s.apply(&[END_TURN as i64], &mut r, &mut d).unwrap();
    assert_eq!(s.tree(0).root().unwrap().current_player(), 1 - me);
    g.apply(END_TURN as u16).unwrap();
    assert_eq!(s.tree(0).root().unwrap(), &g);
}

#[test]
fn calls_out_of_order_or_with_bad_buffers_are_refused_without_change() {
    let g = positions(1)[0];
    let mut s = Search::new(2, quiet(8), 0).unwrap();
    s.set_root(0, Some(g)).unwrap();
    let rows = s.rows();
    let (mut obs, mut masks, mut flags) = (vec![0.0; rows * OBS_SIZE], vec![0u8; rows * NUM_ACTIONS], vec![0u8; rows]);
    let priors = vec![0.0; rows * NUM_ACTIONS];
    let values = vec![0.0; rows];
    assert!(matches!(s.expand(&priors, &values), Err(SearchError::BadArgument(m)) if m.contains("select")));
    assert!(s.select(&mut obs[1..], &mut masks, &mut flags).is_err());
    assert!(s.select(&mut obs, &mut masks, &mut flags[1..]).is_err());
    assert_eq!(s.select(&mut obs, &mut masks, &mut flags).unwrap(), 1);
    assert_eq!(flags, [1, 0], "tree 1 has no game");
    assert!(s.select(&mut obs, &mut masks, &mut flags).is_err(), "select twice");
    assert!(s.choose(0.0, &mut [0, 0]).is_err());
    assert!(s.set_root(1, Some(g)).is_err());
    let mut nan = priors.clone();
    let legal = g.legal_mask().nth(0) as usize;
    nan[legal] = f32::NAN;
    assert!(matches!(s.expand(&nan, &values), Err(SearchError::BadArgument(m)) if m.contains("priors")));
    // NaN in an illegal action's logit is fine (ignored); NaN in a value is not.
    let mut ok = priors.clone();
    let illegal = (0..NUM_ACTIONS).find(|&a| !g.legal_mask().has(a as u8)).unwrap();
    ok[illegal] = f32::NAN;
    assert!(s.expand(&priors, &[f32::NAN, 0.0]).is_err());
    assert!(s.expand(&priors[1..], &values).is_err());
    assert_eq!(s.tree(0).nodes[0].state, NodeState::Pending, "refused calls change nothing");
    s.expand(&ok, &values).unwrap();
    assert_eq!(s.tree(0).nodes[0].visits, 1);
    assert!(s.apply(&[255, 255], &mut [0.0; 2], &mut [0; 2]).is_err(), "tree 1 has no game");
    let illegal = illegal as i64;
    assert!(matches!(s.apply(&[illegal, -1], &mut [0.0; 2], &mut [0; 2]), Err(SearchError::Illegal { tree: 0, .. })));
    assert!(Search::new(0, quiet(8), 0).is_err());
    assert!(Search::new(1, SearchConfig { c_puct: f32::NAN, ..quiet(8) }, 0).is_err());
    for w in [-0.1, 1.5, f32::NAN] {
        let err = Search::new(1, SearchConfig { rollout_weight: w, ..quiet(8) }, 0).err();
        assert!(matches!(err, Some(SearchError::BadArgument(m)) if m.contains("rollout_weight")), "{w}");
    }
    assert!(Search::new(1, quiet(0), 0).is_err());
}

#[test]
fn probabilities_are_renormalised_over_legal_actions() {
    let g = positions(1)[0];
    let cfg = SearchConfig { priors: PriorKind::Probabilities, ..quiet(4) };
    let mut s = one_tree(g, cfg, 0);
    let (mut obs, mut masks, mut flags) = (vec![0.0; OBS_SIZE], vec![0u8; NUM_ACTIONS], vec![0u8; 1]);
    s.select(&mut obs, &mut masks, &mut flags).unwrap();
    let mut p = vec![1.0; NUM_ACTIONS];
    p[g.legal_mask().nth(0) as usize] = 3.0;
    s.expand(&p, &[0.0]).unwrap();
    let t = s.tree(0);
    let kids = &t.nodes[1..];
    let total: f32 = kids.iter().map(|c| c.prior).sum();
    assert!((total - 1.0).abs() < 1e-5);
    assert!((kids[0].prior - 3.0 / (g.legal_mask().count() as f32 + 2.0)).abs() < 1e-5);
}

/// A path of expanded nodes from the root of tree 0, `depth` actions long,
/// following the most visited child; with the game at its end.
fn visited_path(s: &Search, depth: usize) -> Option<(Vec<u8>, Game, u32)> {
    let tree = s.tree(0);
    let mut g = *tree.root().unwrap();
    let mut i = 0usize;
    let mut path = Vec::new();
    for _ in 0..depth {
        let n = tree.nodes[i];
        if n.state != NodeState::Expanded {
            return None;
        }
        let kids = n.first_child as usize..n.first_child as usize + n.n_children as usize;
        let c = kids.filter(|&c| tree.nodes[c].state == NodeState::Expanded).max_by_key(|&c| tree.nodes[c].visits)?;
        g.apply_unchecked(tree.nodes[c].action);
        path.push(tree.nodes[c].action);
        i = c;
    }
    Some((path, g, tree.nodes[i].visits))
}

/// `set_root_keeping` finds the node for the given position (one or several
/// actions below the root), keeps its statistics, and then searches exactly
/// as a tree re-rooted by `apply` does.
#[test]
fn set_root_keeping_finds_the_position_and_matches_apply() {
    let cfg = quiet(200);
    assert!(cfg.reuse_tree, "reuse is the default");
    for g in positions(4) {
        let mut driven = one_tree(g, cfg, 7);
        let mut kept = one_tree(g, cfg, 7);
        run(&mut driven, &features);
        run(&mut kept, &features);
        let a = best_action(&mut driven);
        let (visits, _) = child_stats(&driven, 0, a);
        let (mut r, mut d) = ([0.0], [0u8]);
        driven.apply(&[a as i64], &mut r, &mut d).unwrap();
        let mut next = g;
        next.apply_unchecked(a);
        if next.is_over() {
            continue;
        }
        assert!(kept.set_root_keeping(0, next).unwrap(), "the child position is in the tree");
        assert_eq!(kept.tree(0).root(), Some(&next));
        assert_eq!(kept.tree(0).nodes[0].visits, visits);
        assert_eq!(kept.tree(0).simulations_done(), 0);
        assert_eq!(kept.tree(0).size(), driven.tree(0).size());
        run(&mut driven, &features);
        run(&mut kept, &features);
        let (mut vd, mut vk) = ([0.0; NUM_ACTIONS], [0.0; NUM_ACTIONS]);
        driven.root_visits(&mut vd).unwrap();
        kept.root_visits(&mut vk).unwrap();
        assert_eq!(vd, vk, "the same statistics after another search");
    }
    // Two and three actions below the root (the opponent's reply included when
    // the search went there): found too, with that node's visits.
    let mut found_deep = 0;
    for g in positions(6) {
        for depth in [2, 3] {
            let mut s = one_tree(g, cfg, 3);
            run(&mut s, &features);
            let Some((_, target, visits)) = visited_path(&s, depth) else { continue };
            if target.is_over() {
                continue;
            }
            // The most visited node for the position: a transposition (two
            // orders of the same actions) can hold it twice.
            assert!(s.set_root_keeping(0, target).unwrap(), "depth {depth}");
            assert!(s.tree(0).nodes[0].visits >= visits);
            found_deep += 1;
        }
    }
    assert!(found_deep >= 6, "too few deep paths to test ({found_deep})");
}

/// A position the tree does not hold (another deal, an unexplored action, or
/// reuse switched off) starts a fresh tree: no statistics are lent.
#[test]
fn set_root_keeping_starts_afresh_for_other_positions() {
    let [g, other] = [positions(2)[0], positions(2)[1]];
    let cfg = quiet(60);
    let mut s = one_tree(g, cfg, 1);
    run(&mut s, &features);
    assert!(!s.set_root_keeping(0, other).unwrap());
    assert_eq!((s.tree(0).size(), s.tree(0).nodes[0].visits), (1, 0));
    assert_eq!(s.tree(0).root(), Some(&other));

    // An action the search never expanded: not in the tree.
    let mut s = one_tree(g, quiet(2), 1);
    run(&mut s, &features);
    let tree = s.tree(0);
    let r = tree.nodes[0];
    let unexpanded = (r.first_child as usize..(r.first_child + r.n_children as u32) as usize)
        .find(|&c| tree.nodes[c].state != NodeState::Expanded)
        .map(|c| tree.nodes[c].action)
        .expect("two simulations leave most children unexpanded");
    let mut next = g;
    next.apply_unchecked(unexpanded);
    assert!(!s.set_root_keeping(0, next).unwrap());
    assert_eq!(s.tree(0).nodes[0].visits, 0);

    // The same position with reuse off: dropped.
    let mut s = one_tree(g, SearchConfig { reuse_tree: false, ..quiet(60) }, 1);
    run(&mut s, &features);
    let a = best_action(&mut s);
    let mut next = g;
    next.apply_unchecked(a);
    assert!(!s.set_root_keeping(0, next).unwrap());
    assert_eq!(s.tree(0).nodes[0].visits, 0);

    // The root position itself is kept whole (nothing to re-root).
    let mut s = one_tree(g, cfg, 1);
    run(&mut s, &features);
    let size = s.tree(0).size();
    assert!(s.set_root_keeping(0, g).unwrap());
    assert_eq!((s.tree(0).size(), s.tree(0).nodes[0].visits, s.tree(0).simulations_done()), (size, 60, 0));
}

/// Over a dozen moves, a tree re-rooted by `set_root_keeping` on the game the
/// caller moved on holds exactly the nodes of one re-rooted by `apply`.
#[test]
fn set_root_keeping_tracks_apply_over_many_moves() {
    for (gi, g0) in positions(6).into_iter().enumerate() {
        let cfg = quiet(48);
        let mut driven = one_tree(g0, cfg, 0);
        let mut kept = one_tree(g0, cfg, 0);
        let mut g = g0;
        for mv in 0..12 {
            if g.is_over() {
                break;
            }
            run(&mut driven, &features);
            run(&mut kept, &features);
            let vd: Vec<u32> = driven.tree(0).nodes.iter().map(|n| n.visits).collect();
            let vk: Vec<u32> = kept.tree(0).nodes.iter().map(|n| n.visits).collect();
            assert_eq!(vd, vk, "game {gi} move {mv} after run");
            let a = best_action(&mut driven);
            let (mut r, mut d) = ([0.0], [0u8]);
            driven.apply(&[a as i64], &mut r, &mut d).unwrap();
            g.apply_unchecked(a);
            if g.is_over() {
                break;
            }
            let k = kept.set_root_keeping(0, g).unwrap();
            let vd: Vec<u32> = driven.tree(0).nodes.iter().map(|n| n.visits).collect();
            let vk: Vec<u32> = kept.tree(0).nodes.iter().map(|n| n.visits).collect();
            assert_eq!(vd, vk, "game {gi} move {mv} action {a} kept {k} after re-root");
        }
    }
}

#[test]
fn leaf_afterstates_are_the_pending_leaves_in_row_order() {
    let ps = positions(3);
    let mut s = Search::new(3, SearchConfig { leaves_per_tree: 2, ..quiet(16) }, 0).unwrap();
    s.set_root(0, Some(ps[0])).unwrap();
    s.set_root(2, Some(ps[2])).unwrap();
    let rows = s.rows();
    let (mut obs, mut masks, mut flags) = (vec![0.0; rows * OBS_SIZE], vec![0u8; rows * NUM_ACTIONS], vec![0u8; rows]);
    assert!(s.leaf_afterstates(&mut [], &mut []).is_err(), "no select yet");
    for round in 0..4 {
        assert!(s.select(&mut obs, &mut masks, &mut flags).unwrap() > 0);
        // The count is the set bits of the flagged mask rows.
        let bits: usize = (0..rows)
            .filter(|&r| flags[r] == 1)
            .map(|r| masks[r * NUM_ACTIONS..(r + 1) * NUM_ACTIONS].iter().filter(|&&b| b == 1).count())
            .sum();
        assert_eq!(s.leaf_afterstate_rows(), bits, "round {round}");
        let (mut ao, mut ar) = (vec![f32::NAN; bits * OBS_SIZE], vec![f32::NAN; bits]);
        assert!(s.leaf_afterstates(&mut ao[1..], &mut ar).is_err());
        assert!(s.leaf_afterstates(&mut ao, &mut ar[1..]).is_err());
        assert!(ar.iter().all(|x| x.is_nan()), "a refused call writes nothing");
        assert_eq!(s.leaf_afterstates(&mut ao, &mut ar).unwrap(), bits);
        // Row by row: each flagged leaf's own afterstates, in row order.
        let mut at = 0;
        for r in (0..rows).filter(|&r| flags[r] == 1) {
            let leaf = &s.tree(r / 2).pending[r % 2].game;
            let mut o = [0f32; OBS_SIZE];
            leaf.observe(&mut o);
            assert_eq!(&obs[r * OBS_SIZE..(r + 1) * OBS_SIZE], &o[..], "row {r} is this leaf");
            let n = leaf.legal_mask().count() as usize;
            let (mut eo, mut er) = (vec![0.0; n * OBS_SIZE], vec![0.0; n]);
            assert_eq!(leaf.afterstates(&mut eo, &mut er), n);
            assert_eq!(&ao[at * OBS_SIZE..(at + n) * OBS_SIZE], &eo[..]);
            assert_eq!(&ar[at..at + n], &er[..]);
            at += n;
        }
        assert_eq!(at, bits);
        s.expand(&vec![0.0; rows * NUM_ACTIONS], &vec![0.0; rows]).unwrap();
        assert!(s.leaf_afterstates(&mut [], &mut []).is_err(), "after expand");
    }
}
