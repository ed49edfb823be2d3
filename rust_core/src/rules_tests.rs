//! One or more tests per rule and per keyword of GAME.md. Each builds a small
//! board by hand and checks the exact outcome.

use super::*;
use crate::actions::{ATTACK_BASE, END_TURN};
use crate::cards::{Rarity, CARDS};
use crate::decks::Deck;
use crate::keywords::Keyword::*;

/// The vanilla 1/1 token every test creature is built on (id 0).
const SPARK: u16 = 0;

fn attack_action(a: usize, d: usize) -> u16 {
    (ATTACK_BASE as usize + 5 * a + d) as u16
}

/// A game on turn 1 with empty hands and boards, 10 essence, 3 AP.
fn blank() -> Game {
    let mut g = Game::new(1, Deck { cards: [SPARK; 30] }, Deck { cards: [SPARK; 30] }, Mode::Attrition);
    for p in &mut g.players {
        p.hand = [EMPTY; HAND_MAX];
        p.hand_len = 0;
        p.essence = 10;
        p.max_essence = 10;
    }
    g
}

/// Puts a ready creature with the given stats and keywords in a lane; returns its uid.
fn put(g: &mut Game, seat: usize, slot: usize, attack: i16, health: i16, kw: &[Keyword]) -> u16 {
    put_card(g, seat, slot, SPARK, attack, health, kw)
}

fn put_card(g: &mut Game, seat: usize, slot: usize, card: u16, attack: i16, health: i16, kw: &[Keyword]) -> u16 {
    let uid = g.next_uid;
    g.next_uid += 1;
    let mut c = Creature::new(card, uid);
    c.attack = attack;
    c.health = health;
    c.max_health = health;
    c.keywords = Keywords::of(kw);
    c.flags &= F_HAS_ABILITY; // ready: not summoned this turn
    g.players[seat].board[slot] = c;
    g.refresh();
    uid
}

fn give(g: &mut Game, seat: usize, card: u16) {
    assert!(g.players[seat].add_to_hand(card));
}

fn life(g: &Game, seat: usize) -> i16 {
    g.players[seat].life
}

fn hp(g: &Game, seat: usize, slot: usize) -> i16 {
    let p = &g.players[seat];
    p.health_of(&p.board[slot])
}

fn present(g: &Game, seat: usize, slot: usize) -> bool {
    g.players[seat].board[slot].present()
}

/// Runs a hand-made effect list as if a spell of `seat` resolved it.
fn run(g: &mut Game, seat: usize, effects: &'static [Effect], source: Option<(usize, usize)>) {
    let mut q = Queue::new();
    let mut ctx = Ctx::of(seat as u8);
    if let Some((s, l)) = source {
        ctx.source = g.players[s].board[l].uid;
        ctx.slot = l as u8;
    }
    q.push_all(effects, ctx);
    resolve(g, &mut q);
}

fn first_card(pred: impl Fn(&CardDef) -> bool) -> Option<&'static CardDef> {
    CARDS.iter().find(|c| c.rarity != Rarity::Token && pred(c))
}

use crate::cards::CardDef;

// ---------------------------------------------------------------- setup

#[test]
fn opening_deals_four_and_six_and_starts_player_zero() {
    let g = Game::new(3, Deck { cards: [SPARK; 30] }, Deck { cards: [SPARK; 30] }, Mode::Attrition);
    assert_eq!(g.current_player(), 0);
    assert_eq!(g.turn, 1);
    assert_eq!(g.players[0].hand_len, 5, "4 dealt + 1 drawn at turn start");
    assert_eq!(g.players[1].hand_len, 6, "4 dealt + 2 for moving second");
    assert_eq!((g.players[0].max_essence, g.players[0].essence, g.players[0].ap), (1, 1, 3));
    assert_eq!((g.players[1].max_essence, g.players[1].essence), (0, 0));
    assert_eq!((life(&g, 0), life(&g, 1)), (30, 30));
    assert_eq!((g.players[0].deck_len, g.players[1].deck_len), (25, 24));
}

#[test]
fn the_shuffle_depends_on_the_seed_only() {
    let ids: Vec<u16> = CARDS.iter().filter(|c| c.rarity == Rarity::Common).map(|c| c.id).take(15).collect();
    if ids.len() < 15 {
        return; // placeholder catalogue
    }
    let mut list = [0u16; 30];
    for i in 0..30 {
        list[i] = ids[i / 2];
    }
    let d = Deck { cards: list };
    let a = Game::new(11, d, d, Mode::Attrition);
    let b = Game::new(11, d, d, Mode::Attrition);
    let c = Game::new(12, d, d, Mode::Attrition);
    assert_eq!(a, b);
    assert_ne!(a.players[0].deck, c.players[0].deck);
    assert_ne!(a.players[0].deck, a.players[1].deck, "each seat shuffles independently");
}

// ---------------------------------------------------------------- turns

#[test]
fn ending_the_turn_starts_the_other_players_turn() {
    let mut g = Game::new(3, Deck { cards: [SPARK; 30] }, Deck { cards: [SPARK; 30] }, Mode::Attrition);
    g.apply(END_TURN as u16).unwrap();
    assert_eq!((g.current_player(), g.turn), (1, 2));
    assert_eq!((g.players[1].max_essence, g.players[1].essence, g.players[1].ap), (1, 1, 3));
    assert_eq!(g.players[1].hand_len, 7);
    g.apply(END_TURN as u16).unwrap();
    assert_eq!((g.current_player(), g.turn), (0, 3));
    assert_eq!(g.players[0].max_essence, 2);
}

#[test]
fn essence_caps_at_ten_and_refills() {
    let mut g = blank();
    g.players[1].max_essence = 10;
    g.players[1].essence = 0;
    g.apply(END_TURN as u16).unwrap();
    assert_eq!((g.players[1].max_essence, g.players[1].essence), (10, 10));
}

#[test]
fn a_full_hand_discards_the_drawn_card_and_an_empty_deck_draws_nothing() {
    let mut g = blank();
    for _ in 0..HAND_MAX {
        give(&mut g, 1, SPARK);
    }
    let deck = g.players[1].deck_len;
    g.apply(END_TURN as u16).unwrap();
    assert_eq!(g.players[1].hand_len as usize, HAND_MAX);
    assert_eq!(g.players[1].deck_len, deck - 1, "the card left the deck and was discarded");
    g.players[0].deck_len = 0;
    g.apply(END_TURN as u16).unwrap();
    assert_eq!((g.players[0].hand_len, g.players[0].deck_len), (0, 0));
    assert!(!g.is_over());
}

#[test]
fn creatures_ready_and_ap_resets_at_turn_start() {
    let mut g = blank();
    put(&mut g, 0, 2, 1, 1, &[]);
    g.players[0].board[2].attacks = 1;
    g.players[0].board[2].flags = F_SUMMONED | F_ABILITY_USED;
    g.refresh();
    g.players[0].ap = 0;
    g.apply(END_TURN as u16).unwrap();
    g.apply(END_TURN as u16).unwrap();
    let c = g.players[0].board[2];
    assert_eq!((c.attacks, c.flags, g.players[0].ap), (0, 0, 3));
}

#[test]
fn the_turn_limit_ends_the_game_on_life() {
    let mut g = blank();
    g.turn = TURN_LIMIT - 1;
    g.players[1].life = 12;
    g.apply(END_TURN as u16).unwrap();
    assert!(!g.is_over(), "turn 30 is still played");
    assert_eq!(g.turn, TURN_LIMIT);
    let r = g.apply(END_TURN as u16).unwrap();
    assert_eq!(g.outcome, Outcome::Winner(0));
    assert_eq!((r.reward, r.done), (-1.0, true), "player 1 acted and lost on life");
    assert_eq!(g.turn, TURN_LIMIT);

    let mut g = blank();
    g.turn = TURN_LIMIT;
    g.apply(END_TURN as u16).unwrap();
    assert_eq!(g.outcome, Outcome::Draw);
}

#[test]
fn a_finished_game_refuses_actions() {
    let mut g = blank();
    g.outcome = Outcome::Winner(1);
    assert_eq!(g.apply(END_TURN as u16), Err(ActionError::GameOver));
    assert_eq!(g.legal_mask().count(), 0);
}

#[test]
fn illegal_and_reserved_actions_are_refused_without_change() {
    let mut g = blank();
    put(&mut g, 0, 0, 2, 2, &[]);
    let before = g;
    for a in [0u16, 49, 54, 60, 75, 134, 135, 200, 254, 256, 1000] {
        let err = g.apply(a).unwrap_err();
        assert!(matches!(err, ActionError::Illegal { action, .. } if action == a), "{a}: {err}");
        assert_eq!(g, before);
    }
    let msg = g.apply(60).unwrap_err().to_string();
    assert!(msg.contains("action 60") && msg.contains("lane 2") && msg.contains("legal"), "{msg}");
}

#[test]
fn end_turn_is_always_legal_while_running() {
    let g = blank();
    assert_eq!(g.legal_actions(), vec![END_TURN]);
}

// ---------------------------------------------------------------- playing cards

#[test]
fn playing_a_creature_costs_ap_and_essence_and_fills_the_lane() {
    let Some(c) = first_card(|c| matches!(c.kind, Kind::Creature { .. }) && c.triggers.is_empty() && c.cost >= 1)
    else {
        return;
    };
    let mut g = blank();
    give(&mut g, 0, c.id);
    g.players[0].essence = c.cost;
    g.apply(3).unwrap(); // hand card 0 into lane 3
    assert_eq!(g.players[0].board[3].card, c.id);
    assert_eq!((g.players[0].essence, g.players[0].ap, g.players[0].hand_len), (0, 2, 0));
    // Not enough essence or AP: not legal.
    give(&mut g, 0, c.id);
    assert!(!g.is_legal(0));
    g.players[0].essence = 10;
    g.players[0].ap = 0;
    assert!(!g.is_legal(0));
    g.players[0].ap = 1;
    assert!(g.is_legal(0) && !g.is_legal(3), "lane 3 is occupied");
}

#[test]
fn a_targeted_spell_needs_a_target() {
    let Some(c) = first_card(|c| matches!(c.kind, Kind::Spell { target: TargetRule::EnemyCreature, .. })) else {
        return;
    };
    let mut g = blank();
    give(&mut g, 0, c.id);
    assert_eq!(g.legal_actions(), vec![END_TURN]);
    put(&mut g, 1, 4, 1, 5, &[]);
    put(&mut g, 1, 2, 1, 5, &[Stealth]);
    assert_eq!(g.legal_actions(), vec![4, END_TURN], "stealthed lane 2 is not a target");
}

#[test]
fn hand_order_is_kept_when_a_card_is_played() {
    let mut g = blank();
    let creatures: Vec<u16> = CARDS.iter().filter(|c| c.is_creature() && c.cost <= 3).map(|c| c.id).take(3).collect();
    if creatures.len() < 3 {
        return;
    }
    for &c in &creatures {
        give(&mut g, 0, c);
    }
    g.apply(5).unwrap(); // hand card 1 into lane 0
    assert_eq!(g.players[0].hand(), &[creatures[0], creatures[2]]);
}

// ---------------------------------------------------------------- combat

#[test]
fn a_fresh_creature_cannot_attack_without_rush() {
    let mut g = blank();
    put(&mut g, 0, 0, 2, 2, &[]);
    g.players[0].board[0].flags = F_SUMMONED;
    g.refresh();
    assert!(!g.is_legal(attack_action(0, 0)));
    g.players[0].board[0].keywords = Keywords::of(&[Rush]);
    g.refresh();
    assert!(g.is_legal(attack_action(0, 0)), "Rush attacks at once");
}

#[test]
fn attacks_reach_the_lane_and_its_neighbours_and_empty_lanes_hit_the_player() {
    let mut g = blank();
    put(&mut g, 0, 2, 3, 3, &[]);
    let legal: Vec<u16> = g.legal_actions().into_iter().filter(|&a| a != END_TURN).map(|a| a as u16).collect();
    assert_eq!(legal, vec![attack_action(2, 1), attack_action(2, 2), attack_action(2, 3)]);
    g.apply(attack_action(2, 3)).unwrap();
    assert_eq!(life(&g, 1), 27);
    assert!(!g.is_legal(attack_action(2, 2)), "an attack exhausts the creature");
}

#[test]
fn zero_attack_creatures_cannot_attack() {
    let mut g = blank();
    put(&mut g, 0, 2, 0, 3, &[]);
    assert_eq!(g.legal_actions(), vec![END_TURN]);
}

#[test]
fn creature_combat_is_simultaneous() {
    let mut g = blank();
    put(&mut g, 0, 1, 3, 2, &[]);
    put(&mut g, 1, 1, 2, 5, &[]);
    g.apply(attack_action(1, 1)).unwrap();
    assert!(!present(&g, 0, 1), "attacker took 2 and died");
    assert_eq!(hp(&g, 1, 1), 2);
    assert_eq!(life(&g, 1), 30);
}

#[test]
fn both_players_at_zero_is_a_draw() {
    let mut g = blank();
    g.players[0].life = 2;
    g.players[1].life = 2;
    static BOTH: [Effect; 2] = [Effect::Damage(Target::EnemyPlayer, 2), Effect::Damage(Target::OwnPlayer, 2)];
    // One effect at a time: the enemy dies first.
    run(&mut g, 0, &BOTH, None);
    assert_eq!(g.outcome, Outcome::Winner(0));
    // Both at zero at the same check: an area effect on both players is not in the
    // vocabulary, so drive the check directly.
    let mut g = blank();
    g.players[0].life = 0;
    g.players[1].life = -1;
    check_winner(&mut g);
    assert_eq!(g.outcome, Outcome::Draw);
}

// ---------------------------------------------------------------- keywords

#[test]
fn guard_must_be_attacked_first_unless_stealthed() {
    let mut g = blank();
    put(&mut g, 0, 2, 3, 3, &[]);
    put(&mut g, 1, 3, 1, 4, &[Guard]);
    let attacks: Vec<u8> = g.legal_actions().into_iter().filter(|&a| a != END_TURN).collect();
    assert_eq!(attacks, vec![attack_action(2, 3) as u8], "no face attack through lanes 1/2 while Guard stands");
    g.players[1].board[3].keywords = Keywords::of(&[Guard, Stealth]);
    g.refresh();
    assert!(g.is_legal(attack_action(2, 2)), "a stealthed Guard does not guard");
    assert!(!g.is_legal(attack_action(2, 3)), "and cannot be attacked");
}

#[test]
fn guard_out_of_reach_blocks_the_attack() {
    let mut g = blank();
    put(&mut g, 0, 0, 3, 3, &[]);
    put(&mut g, 1, 4, 1, 4, &[Guard]);
    assert_eq!(g.legal_actions(), vec![END_TURN]);
}

#[test]
fn fortify_takes_one_less_from_hits_above_one() {
    let mut g = blank();
    put(&mut g, 1, 0, 0, 5, &[Fortify]);
    put(&mut g, 1, 1, 0, 5, &[Fortify]);
    run(&mut g, 0, &[Effect::Damage(Target::Opposite, 3)], None);
    assert_eq!(hp(&g, 1, 0), 3);
    static ONE: [Effect; 1] = [Effect::Damage(Target::AllEnemies(Filter::Any), 1)];
    run(&mut g, 0, &ONE, None);
    assert_eq!((hp(&g, 1, 0), hp(&g, 1, 1)), (2, 4), "a hit of 1 is not reduced");
}

#[test]
fn shield_absorbs_the_first_hit_then_breaks() {
    let mut g = blank();
    put(&mut g, 0, 0, 5, 5, &[]);
    put(&mut g, 1, 0, 1, 2, &[Shield]);
    g.apply(attack_action(0, 0)).unwrap();
    assert_eq!(hp(&g, 1, 0), 2, "shield absorbed 5");
    assert!(!g.players[1].keywords_of(&g.players[1].board[0]).has(Shield));
    assert_eq!(hp(&g, 0, 0), 4, "the counter still lands");
    run(&mut g, 0, &[Effect::Damage(Target::Opposite, 1)], None);
    assert_eq!(hp(&g, 1, 0), 1);
}

#[test]
fn piercing_sends_overkill_to_the_player() {
    let mut g = blank();
    put(&mut g, 0, 0, 6, 5, &[Piercing]);
    put(&mut g, 1, 0, 1, 2, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    assert!(!present(&g, 1, 0));
    assert_eq!(life(&g, 1), 26);
}

#[test]
fn rush_and_frenzy_attack_counts() {
    let mut g = blank();
    put(&mut g, 0, 0, 1, 5, &[Frenzy]);
    g.apply(attack_action(0, 0)).unwrap();
    g.apply(attack_action(0, 1)).unwrap();
    assert_eq!(life(&g, 1), 28);
    assert!(!g.is_legal(attack_action(0, 0)), "Frenzy attacks twice, not three times");
}

#[test]
fn lethal_kills_any_creature_it_damages_but_not_through_shield() {
    let mut g = blank();
    put(&mut g, 0, 0, 1, 5, &[Lethal]);
    put(&mut g, 1, 0, 0, 12, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    assert!(!present(&g, 1, 0));
    let mut g = blank();
    put(&mut g, 0, 0, 1, 5, &[Lethal]);
    put(&mut g, 1, 0, 0, 12, &[Shield]);
    g.apply(attack_action(0, 0)).unwrap();
    assert!(present(&g, 1, 0));
}

#[test]
fn lethal_defender_kills_the_attacker_too() {
    let mut g = blank();
    put(&mut g, 0, 0, 2, 9, &[]);
    put(&mut g, 1, 0, 1, 5, &[Lethal]);
    g.apply(attack_action(0, 0)).unwrap();
    assert!(!present(&g, 0, 0));
    assert_eq!(hp(&g, 1, 0), 3);
}

#[test]
fn regenerate_heals_two_at_its_owners_turn_start() {
    let mut g = blank();
    put(&mut g, 1, 0, 1, 6, &[Regenerate]);
    put(&mut g, 0, 0, 1, 6, &[Regenerate]);
    g.players[1].board[0].health = 1;
    g.players[0].board[0].health = 1;
    g.apply(END_TURN as u16).unwrap();
    assert_eq!(hp(&g, 1, 0), 3);
    assert_eq!(hp(&g, 0, 0), 1, "not at the enemy's turn start");
    g.players[1].board[0].health = 5;
    g.apply(END_TURN as u16).unwrap();
    g.apply(END_TURN as u16).unwrap();
    assert_eq!(hp(&g, 1, 0), 6, "never above max health");
}

#[test]
fn volatile_deals_two_to_every_enemy_creature_on_death() {
    let mut g = blank();
    put(&mut g, 0, 0, 3, 3, &[]);
    put(&mut g, 0, 3, 1, 2, &[]);
    put(&mut g, 1, 0, 1, 1, &[Volatile]);
    put(&mut g, 1, 4, 1, 5, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    assert!(!present(&g, 1, 0));
    assert!(!present(&g, 0, 0), "3/3 took 1 in combat then 2 from Volatile");
    assert!(!present(&g, 0, 3), "every enemy creature");
    assert_eq!(hp(&g, 1, 4), 5, "not its own side");
}

#[test]
fn volatile_chains_resolve_without_recursion() {
    let mut g = blank();
    put(&mut g, 0, 0, 1, 1, &[Volatile]);
    put(&mut g, 1, 0, 1, 2, &[Volatile]);
    put(&mut g, 1, 1, 1, 2, &[Volatile]);
    put(&mut g, 0, 4, 1, 3, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    // Attacker dies in combat (1 dmg) and defender takes 1 (2 -> 1); then the
    // attacker's blast kills both enemies, whose blasts hit player 0's lane 4 twice.
    assert!(!present(&g, 1, 0) && !present(&g, 1, 1));
    assert!(!present(&g, 0, 4), "3 health took 2 + 2");
}

#[test]
fn lifesteal_heals_its_owner_by_the_damage_dealt_up_to_thirty() {
    let mut g = blank();
    g.players[0].life = 20;
    put(&mut g, 0, 0, 4, 5, &[Lifesteal]);
    put(&mut g, 1, 0, 1, 2, &[Fortify]);
    g.apply(attack_action(0, 0)).unwrap();
    assert_eq!(life(&g, 0), 23, "4 reduced to 3 by Fortify");
    g.players[0].life = 29;
    g.players[0].board[0].attacks = 0;
    g.refresh();
    g.apply(attack_action(0, 0)).unwrap();
    assert_eq!((life(&g, 0), life(&g, 1)), (30, 26));
}

#[test]
fn quick_strikes_first_and_a_kill_prevents_the_counter() {
    let mut g = blank();
    put(&mut g, 0, 0, 3, 1, &[Quick]);
    put(&mut g, 1, 0, 5, 3, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    assert!(present(&g, 0, 0) && !present(&g, 1, 0));
    // A Quick defender kills the attacker before it strikes.
    let mut g = blank();
    put(&mut g, 0, 0, 5, 2, &[]);
    put(&mut g, 1, 0, 2, 3, &[Quick]);
    g.apply(attack_action(0, 0)).unwrap();
    assert!(!present(&g, 0, 0));
    assert_eq!(hp(&g, 1, 0), 3);
    // Both Quick: simultaneous.
    let mut g = blank();
    put(&mut g, 0, 0, 3, 2, &[Quick]);
    put(&mut g, 1, 0, 2, 3, &[Quick]);
    g.apply(attack_action(0, 0)).unwrap();
    assert!(!present(&g, 0, 0) && !present(&g, 1, 0));
}

#[test]
fn stealth_blocks_enemy_targeting_and_is_lost_on_attack() {
    let mut g = blank();
    put(&mut g, 0, 1, 2, 2, &[]);
    put(&mut g, 1, 1, 1, 1, &[Stealth]);
    assert!(!g.is_legal(attack_action(1, 1)));
    assert!(g.is_legal(attack_action(1, 0)) && g.is_legal(attack_action(1, 2)), "empty lanes are face attacks");
    g.apply(END_TURN as u16).unwrap();
    g.apply(attack_action(1, 1)).unwrap();
    let c = g.players[1].board[1];
    assert!(!g.players[1].keywords_of(&c).has(Stealth));
    // Area effects still hit stealthed creatures.
    let mut g = blank();
    put(&mut g, 1, 2, 1, 1, &[Stealth]);
    static SWEEP: [Effect; 1] = [Effect::Damage(Target::AllEnemies(Filter::Any), 1)];
    run(&mut g, 0, &SWEEP, None);
    assert!(!present(&g, 1, 2));
}

#[test]
fn ephemeral_dies_at_its_owners_end_of_turn() {
    let mut g = blank();
    put(&mut g, 0, 0, 2, 2, &[Ephemeral]);
    put(&mut g, 1, 0, 2, 2, &[Ephemeral]);
    g.apply(END_TURN as u16).unwrap();
    assert!(!present(&g, 0, 0));
    assert!(present(&g, 1, 0), "only the owner's");
}

#[test]
fn ranged_reaches_any_lane_and_takes_no_counter() {
    let mut g = blank();
    put(&mut g, 0, 0, 2, 2, &[Ranged]);
    put(&mut g, 1, 4, 5, 3, &[]);
    assert!(g.is_legal(attack_action(0, 4)) && g.is_legal(attack_action(0, 3)));
    g.apply(attack_action(0, 4)).unwrap();
    assert_eq!((hp(&g, 0, 0), hp(&g, 1, 4)), (2, 1));
}

#[test]
fn charge_adds_two_when_attacking_only() {
    let mut g = blank();
    put(&mut g, 0, 0, 2, 5, &[Charge]);
    g.apply(attack_action(0, 0)).unwrap();
    assert_eq!(life(&g, 1), 26);
    let mut g = blank();
    put(&mut g, 1, 0, 2, 5, &[Charge]);
    put(&mut g, 0, 0, 1, 5, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    assert_eq!(hp(&g, 0, 0), 3, "the counter of a Charge defender is not boosted");
}

#[test]
fn ward_cancels_the_first_enemy_spell_or_ability() {
    let Some(spell) = first_card(|c| {
        matches!(c.kind, Kind::Spell { target: TargetRule::EnemyCreature, effects } if effects.iter().any(|e| matches!(e, Effect::Damage(Target::Chosen, _))))
            && c.cost <= 10
    }) else {
        return;
    };
    let mut g = blank();
    put(&mut g, 1, 2, 1, 12, &[Ward]);
    give(&mut g, 0, spell.id);
    give(&mut g, 0, spell.id);
    g.apply(2).unwrap();
    assert_eq!(hp(&g, 1, 2), 12, "the first spell was cancelled");
    assert!(!g.players[1].keywords_of(&g.players[1].board[2]).has(Ward));
    assert_eq!(g.players[0].hand_len, 1, "its card is spent");
    g.apply(2).unwrap();
    assert!(hp(&g, 1, 2) < 12 || !present(&g, 1, 2), "the second one lands");
}

// ---------------------------------------------------------------- effects and the queue

#[test]
fn effects_hit_what_their_target_names() {
    let mut g = blank();
    put(&mut g, 0, 1, 1, 5, &[]);
    put(&mut g, 0, 2, 1, 5, &[]);
    put(&mut g, 0, 3, 1, 5, &[]);
    put(&mut g, 1, 2, 1, 5, &[]);
    put(&mut g, 1, 3, 1, 2, &[]);
    static OPP: [Effect; 1] = [Effect::Damage(Target::Opposite, 1)];
    run(&mut g, 0, &OPP, Some((0, 2)));
    assert_eq!(hp(&g, 1, 2), 4);
    static ADJ: [Effect; 1] = [Effect::Buff(Target::Adjacent, 1, 1)];
    run(&mut g, 0, &ADJ, Some((0, 2)));
    assert_eq!((hp(&g, 0, 1), hp(&g, 0, 2), hp(&g, 0, 3)), (6, 5, 6));
    assert_eq!(g.players[0].board[1].attack, 2);
    static LOW: [Effect; 1] = [Effect::Destroy(Target::AllEnemies(Filter::HealthAtMost(2)))];
    run(&mut g, 0, &LOW, None);
    assert!(present(&g, 1, 2) && !present(&g, 1, 3));
    static THIS: [Effect; 1] = [Effect::Heal(Target::This, 9)];
    g.players[0].board[2].health = 1;
    run(&mut g, 0, &THIS, Some((0, 2)));
    assert_eq!(hp(&g, 0, 2), 5, "heal stops at max health");
}

#[test]
fn keyword_filters_grants_removals_and_silence() {
    let mut g = blank();
    put(&mut g, 1, 0, 1, 3, &[Guard]);
    put(&mut g, 1, 1, 1, 3, &[]);
    static HIT_GUARDS: [Effect; 1] = [Effect::Damage(Target::AllEnemies(Filter::HasKeyword(Guard)), 2)];
    run(&mut g, 0, &HIT_GUARDS, None);
    assert_eq!((hp(&g, 1, 0), hp(&g, 1, 1)), (1, 3));
    static GRANT: [Effect; 1] = [Effect::Grant(Target::AllEnemies(Filter::Any), Keywords::of(&[Shield]))];
    run(&mut g, 0, &GRANT, None);
    assert!(g.players[1].slot_has(1, Shield));
    static REMOVE: [Effect; 1] = [Effect::Remove(Target::AllEnemies(Filter::Any), Keywords::of(&[Shield]))];
    run(&mut g, 0, &REMOVE, None);
    assert!(!g.players[1].slot_has(1, Shield));
    static SILENCE: [Effect; 1] = [Effect::Silence(Target::AllEnemies(Filter::Any))];
    run(&mut g, 0, &SILENCE, None);
    assert!(!g.players[1].slot_has(0, Guard));
    assert!(g.players[1].board[0].has_flag(F_SILENCED));
}

#[test]
fn draw_gain_essence_summon_and_return_to_hand() {
    let mut g = blank();
    static DRAW: [Effect; 2] = [Effect::Draw(2), Effect::GainEssence(3)];
    g.players[0].essence = 8;
    run(&mut g, 0, &DRAW, None);
    assert_eq!((g.players[0].hand_len, g.players[0].essence), (2, 10));
    static SUMMON: [Effect; 1] = [Effect::Summon(SPARK, 2)];
    put(&mut g, 0, 0, 1, 1, &[]);
    run(&mut g, 0, &SUMMON, None);
    assert!(present(&g, 0, 1) && present(&g, 0, 2) && !present(&g, 0, 3), "leftmost empty lanes");
    assert!(g.players[0].board[1].has_flag(F_SUMMONED));
    let Some(c) = first_card(|c| c.is_creature()) else { return };
    put_card(&mut g, 1, 4, c.id, 9, 9, &[]);
    static BOUNCE: [Effect; 1] = [Effect::ReturnToHand(Target::AllEnemies(Filter::Any))];
    let hand = g.players[1].hand_len;
    run(&mut g, 0, &BOUNCE, None);
    assert!(!present(&g, 1, 4));
    assert_eq!(g.players[1].hand_len, hand + 1);
    assert_eq!(g.players[1].hand[hand as usize], c.id);
    static BOUNCE_OWN: [Effect; 1] = [Effect::ReturnToHand(Target::AllAllies(Filter::Any))];
    let hand = g.players[0].hand_len;
    run(&mut g, 0, &BOUNCE_OWN, None);
    assert_eq!(g.players[0].hand_len, hand, "tokens vanish");
}

#[test]
fn effects_on_a_gone_source_fizzle() {
    let mut g = blank();
    put(&mut g, 0, 0, 1, 1, &[]);
    let mut q = Queue::new();
    let ctx = Ctx { source: 999, needs_source: true, ..Ctx::of(0) };
    static HIT: [Effect; 1] = [Effect::Damage(Target::EnemyPlayer, 5)];
    q.push_all(&HIT, ctx);
    resolve(&mut g, &mut q);
    assert_eq!(life(&g, 1), 30);
}

#[test]
fn the_queue_is_first_in_first_out_and_the_game_ends_mid_queue() {
    let mut g = blank();
    g.players[1].life = 3;
    static SEQ: [Effect; 3] = [
        Effect::Damage(Target::EnemyPlayer, 2),
        Effect::Damage(Target::EnemyPlayer, 1),
        Effect::Heal(Target::EnemyPlayer, 10),
    ];
    run(&mut g, 0, &SEQ, None);
    assert_eq!(g.outcome, Outcome::Winner(0), "the heal queued after the lethal hit never resolves");
    assert_eq!(life(&g, 1), 0);
}

// ---------------------------------------------------------------- supports

#[test]
fn support_auras_apply_and_leave_with_the_support() {
    let Some(s) =
        first_card(|c| matches!(c.kind, Kind::Support { aura, durability } if aura.attack > 0 && durability >= 1))
    else {
        return;
    };
    let Kind::Support { aura, durability } = s.kind else { unreachable!() };
    let mut g = blank();
    put(&mut g, 0, 0, 1, 3, &[]);
    give(&mut g, 0, s.id);
    g.apply(0).unwrap(); // support slot 0
    let p = &g.players[0];
    assert_eq!(p.attack_of(&p.board[0]), 1 + aura.attack as i16);
    assert_eq!(p.supports[0].durability, durability);
    for _ in 0..durability {
        assert!(g.players[0].supports[0].present());
        g.apply(END_TURN as u16).unwrap();
        if !g.is_over() {
            g.apply(END_TURN as u16).unwrap();
        }
    }
    let p = &g.players[0];
    assert!(!p.supports[0].present(), "left after {durability} of its owner's turns");
    assert_eq!(p.attack_of(&p.board[0]), 1);
}

// ---------------------------------------------------------------- modes and rewards

#[test]
fn essence_duel_scores_damage_to_the_enemy_and_wins_at_fifty() {
    let mut g = blank();
    g.mode = Mode::EssenceDuel;
    put(&mut g, 0, 0, 6, 6, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    assert_eq!((g.players[0].vp, life(&g, 1)), (6, 24));
    g.players[0].vp = 47;
    g.players[0].board[0].attacks = 0;
    g.refresh();
    let r = g.apply(attack_action(0, 0)).unwrap();
    assert_eq!(g.outcome, Outcome::Winner(0));
    assert_eq!((r.reward, r.done), (1.0, true));
    // Attrition has no victory points.
    let mut g = blank();
    put(&mut g, 0, 0, 6, 6, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    assert_eq!(g.players[0].vp, 0);
}

#[test]
fn the_winner_is_checked_after_every_action_and_the_reward_is_the_actors() {
    let mut g = blank();
    g.players[1].life = 2;
    put(&mut g, 0, 0, 2, 2, &[]);
    let r = g.apply(attack_action(0, 0)).unwrap();
    assert_eq!((r.reward, r.done, g.winner()), (1.0, true, Some(0)));
    assert_eq!((g.reward(0), g.reward(1)), (1.0, -1.0));
}

// ---------------------------------------------------------------- triggers

/// A creature card with exactly one trigger, of kind `when`, whose effects
/// satisfy `pred`, and no activated ability.
fn creature_with(when: When, pred: impl Fn(&[Effect]) -> bool) -> &'static CardDef {
    CARDS
        .iter()
        .find(|c| {
            matches!(c.kind, Kind::Creature { ability: None, .. })
                && c.triggers.len() == 1
                && c.triggers[0].when == when
                && pred(c.triggers[0].effects)
        })
        .unwrap_or_else(|| panic!("the catalogue has no creature with a matching {when:?} trigger"))
}

fn enemy_damage(effects: &[Effect]) -> i16 {
    effects.iter().map(|e| if let Effect::Damage(Target::EnemyPlayer, n) = e { *n as i16 } else { 0 }).sum()
}

fn own_heal(effects: &[Effect]) -> bool {
    effects.iter().all(|e| matches!(e, Effect::Damage(Target::EnemyPlayer, _) | Effect::Heal(Target::OwnPlayer, _)))
}

#[test]
fn on_play_fires_when_played_from_hand() {
    let c = creature_with(When::OnPlay, |e| enemy_damage(e) > 0 && own_heal(e));
    let n = enemy_damage(c.triggers[0].effects);
    let mut g = blank();
    give(&mut g, 0, c.id);
    g.apply(1).unwrap();
    assert_eq!(life(&g, 1), 30 - n);
}

#[test]
fn on_death_fires_when_it_dies_and_not_when_silenced() {
    let c = creature_with(When::OnDeath, |e| enemy_damage(e) > 0 && own_heal(e));
    let n = enemy_damage(c.triggers[0].effects);
    static KILL: [Effect; 1] = [Effect::Destroy(Target::AllEnemies(Filter::Any))];
    let mut g = blank();
    put_card(&mut g, 1, 0, c.id, 1, 1, &[]);
    run(&mut g, 0, &KILL, None);
    assert!(!present(&g, 1, 0));
    assert_eq!(life(&g, 0), 30 - n, "the dying creature's owner hits player 0");
    let mut g = blank();
    put_card(&mut g, 1, 0, c.id, 1, 1, &[]);
    g.players[1].board[0].flags |= F_SILENCED;
    run(&mut g, 0, &KILL, None);
    assert_eq!(life(&g, 0), 30);
}

#[test]
fn on_attack_resolves_before_combat_damage() {
    let c = creature_with(When::OnAttack, |e| e == [Effect::Buff(Target::This, 1, 0)]);
    let mut g = blank();
    put_card(&mut g, 0, 0, c.id, 2, 3, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    assert_eq!(life(&g, 1), 27, "2 attack + 1 from its own on-attack buff");
}

#[test]
fn on_kill_fires_only_when_it_kills_and_survives() {
    let c = creature_with(When::OnKill, |e| e == [Effect::Buff(Target::This, 1, 1)]);
    let mut g = blank();
    put_card(&mut g, 0, 0, c.id, 3, 3, &[]);
    put(&mut g, 1, 0, 1, 2, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    assert_eq!((g.players[0].board[0].attack, hp(&g, 0, 0)), (4, 3), "3/3 took 1, then +1/+1");
    let mut g = blank();
    put_card(&mut g, 0, 0, c.id, 3, 3, &[]);
    put(&mut g, 1, 0, 1, 9, &[]);
    g.apply(attack_action(0, 0)).unwrap();
    assert_eq!(g.players[0].board[0].attack, 3, "no kill, no buff");
}

#[test]
fn on_damaged_fires_when_it_survives_damage() {
    let c = creature_with(When::OnDamaged, |e| e == [Effect::Buff(Target::This, 1, 0)]);
    static PING: [Effect; 1] = [Effect::Damage(Target::AllEnemies(Filter::Any), 1)];
    let mut g = blank();
    put_card(&mut g, 1, 0, c.id, 2, 3, &[]);
    run(&mut g, 0, &PING, None);
    assert_eq!((g.players[1].board[0].attack, hp(&g, 1, 0)), (3, 2));
    let mut g = blank();
    put_card(&mut g, 1, 0, c.id, 2, 3, &[Shield]);
    run(&mut g, 0, &PING, None);
    assert_eq!(g.players[1].board[0].attack, 2, "a shielded hit deals no damage");
}

#[test]
fn start_and_end_of_turn_fire_for_their_owner_only() {
    let start = creature_with(When::StartOfTurn, |e| enemy_damage(e) > 0 && own_heal(e));
    let n = enemy_damage(start.triggers[0].effects);
    let mut g = blank();
    put_card(&mut g, 1, 0, start.id, 1, 5, &[]);
    g.apply(END_TURN as u16).unwrap();
    assert_eq!(life(&g, 0), 30 - n, "player 1's turn started");
    g.apply(END_TURN as u16).unwrap();
    assert_eq!(life(&g, 0), 30 - n, "not at player 0's turn start");

    let end = creature_with(When::EndOfTurn, |e| matches!(e, [Effect::Summon(_, 1)]));
    let mut g = blank();
    put_card(&mut g, 0, 0, end.id, 1, 5, &[]);
    g.apply(END_TURN as u16).unwrap();
    assert!(present(&g, 0, 1), "a token was summoned at its owner's end of turn");
    g.apply(END_TURN as u16).unwrap();
    assert!(!present(&g, 0, 2), "nothing at the enemy's end of turn");
}

#[test]
fn ally_dies_fires_for_own_deaths_only() {
    let c = creature_with(When::AllyDies, |e| enemy_damage(e) > 0 && own_heal(e));
    let n = enemy_damage(c.triggers[0].effects);
    let mut g = blank();
    put_card(&mut g, 0, 0, c.id, 1, 5, &[]);
    put(&mut g, 0, 1, 1, 1, &[]);
    put(&mut g, 1, 1, 1, 1, &[]);
    static PING_ALL: [Effect; 1] = [Effect::Damage(Target::AllCreatures(Filter::HealthAtMost(1)), 1)];
    run(&mut g, 0, &PING_ALL, None);
    assert!(!present(&g, 0, 1) && !present(&g, 1, 1));
    assert_eq!(life(&g, 1), 30 - n, "fired once, for the ally");
}

#[test]
fn activated_abilities_cost_essence_and_work_once_per_turn() {
    let Some(c) = CARDS.iter().find(|c| matches!(c.kind, Kind::Creature { ability: Some(a), .. } if a.target == TargetRule::EnemyPlayer || a.target == TargetRule::None || a.target == TargetRule::OwnPlayer)) else { return };
    let ab = c.ability().unwrap();
    let mut g = blank();
    put_card(&mut g, 0, 3, c.id, 1, 5, &[]);
    g.players[0].essence = ab.cost;
    let u = if ab.target == TargetRule::EnemyPlayer { crate::actions::ABILITY_ENEMY_PLAYER } else { 0 };
    let action = (crate::actions::ABILITY_BASE + 12 * 3 + u) as u16;
    assert!(g.is_legal(action), "{}", c.name);
    g.apply(action).unwrap();
    assert_eq!(g.players[0].essence, 0);
    g.players[0].essence = 10;
    assert!(!g.is_legal(action), "once per turn");
    g.apply(END_TURN as u16).unwrap();
    g.apply(END_TURN as u16).unwrap();
    assert!(g.is_legal(action), "ready again next turn");
    g.players[0].board[3].flags |= F_SILENCED;
    g.refresh();
    assert!(!g.is_legal(action), "silenced creatures have no ability");
}

#[test]
fn a_summoned_creature_gets_the_lane_sets_a_recompute_gives() {
    // Player::summon looks the sets up (without auras) or marks the lane (with
    // them); either way they must be what the board says, for every creature.
    for c in CARDS.iter().filter(|c| matches!(c.kind, Kind::Creature { .. })) {
        for aura in [false, true] {
            let mut g = blank();
            let p = &mut g.players[0];
            if aura {
                p.aura_attack = 1;
                p.aura_keywords = Keywords::of(&[Stealth]);
                p.refresh_lanes();
            }
            p.summon(2, c.id, 7);
            p.refresh_lanes();
            assert!(p.lanes_fresh(), "{} (aura {aura})", c.name);
        }
    }
}
