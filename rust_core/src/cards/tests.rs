//! Content tests: the card table and the preset decks obey the data rules the
//! engine relies on and the content targets of GAME.md.

use super::*;
use crate::keywords::Keyword;
use presets::PRESETS;

fn collectible() -> impl Iterator<Item = &'static CardDef> {
    CARDS.iter().filter(|c| c.rarity != Rarity::Token)
}

/// Every effect list of a card, with the trigger it belongs to (`None` for
/// spell effects and activated abilities) and the target rule that gives
/// `Target::Chosen` its meaning (`None` inside triggers).
fn effect_lists(c: &CardDef) -> Vec<(Option<When>, Option<TargetRule>, &'static [Effect])> {
    let mut out = Vec::new();
    match c.kind {
        Kind::Spell { target, effects } => out.push((None, Some(target), effects)),
        Kind::Creature { ability: Some(a), .. } => out.push((None, Some(a.target), a.effects)),
        _ => {}
    }
    for t in c.triggers {
        out.push((Some(t.when), None, t.effects));
    }
    out
}

fn all_effects() -> impl Iterator<Item = (&'static CardDef, Effect)> {
    CARDS.iter().flat_map(|c| effect_lists(c).into_iter().flat_map(move |(_, _, es)| es.iter().map(move |e| (c, *e))))
}

fn effect_target(e: Effect) -> Option<Target> {
    match e {
        Effect::Damage(t, _)
        | Effect::Heal(t, _)
        | Effect::Buff(t, _, _)
        | Effect::Destroy(t)
        | Effect::Grant(t, _)
        | Effect::Remove(t, _)
        | Effect::Silence(t)
        | Effect::ReturnToHand(t) => Some(t),
        Effect::Draw(_) | Effect::Summon(_, _) | Effect::GainEssence(_) => None,
    }
}

fn effect_index(e: Effect) -> usize {
    match e {
        Effect::Damage(..) => 0,
        Effect::Heal(..) => 1,
        Effect::Buff(..) => 2,
        Effect::Draw(..) => 3,
        Effect::Destroy(..) => 4,
        Effect::Summon(..) => 5,
        Effect::Grant(..) => 6,
        Effect::Remove(..) => 7,
        Effect::Silence(..) => 8,
        Effect::GainEssence(..) => 9,
        Effect::ReturnToHand(..) => 10,
    }
}

fn when_index(w: When) -> usize {
    match w {
        When::OnPlay => 0,
        When::OnDeath => 1,
        When::OnAttack => 2,
        When::OnKill => 3,
        When::OnDamaged => 4,
        When::StartOfTurn => 5,
        When::EndOfTurn => 6,
        When::AllyDies => 7,
    }
}

fn target_index(t: Target) -> usize {
    match t {
        Target::Chosen => 0,
        Target::This => 1,
        Target::Opposite => 2,
        Target::Adjacent => 3,
        Target::Other => 4,
        Target::AllEnemies(_) => 5,
        Target::AllAllies(_) => 6,
        Target::AllCreatures(_) => 7,
        Target::EnemyPlayer => 8,
        Target::OwnPlayer => 9,
    }
}

fn filter_of(t: Target) -> Option<Filter> {
    match t {
        Target::AllEnemies(f) | Target::AllAllies(f) | Target::AllCreatures(f) => Some(f),
        _ => None,
    }
}

fn filter_index(f: Filter) -> usize {
    match f {
        Filter::Any => 0,
        Filter::HealthAtMost(_) => 1,
        Filter::HasKeyword(_) => 2,
    }
}

fn rule_index(r: TargetRule) -> usize {
    match r {
        TargetRule::None => 0,
        TargetRule::EnemyCreature => 1,
        TargetRule::OwnCreature => 2,
        TargetRule::EnemyPlayer => 3,
        TargetRule::OwnPlayer => 4,
    }
}

// ---------------------------------------------------------------------------
// Rules text, rendered from the data. Every card's `text` must equal it, so a
// card's text can never drift away from what the card does.
// ---------------------------------------------------------------------------

fn join_and(parts: &[String]) -> String {
    match parts.len() {
        0 => String::new(),
        1 => parts[0].clone(),
        n => format!("{} and {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

fn keyword_names(k: Keywords) -> Vec<String> {
    k.iter().map(|k| k.name().to_string()).collect()
}

fn capitalize(s: &str) -> String {
    let mut cs = s.chars();
    match cs.next() {
        Some(f) => f.to_uppercase().collect::<String>() + cs.as_str(),
        None => String::new(),
    }
}

fn filter_suffix(f: Filter) -> String {
    match f {
        Filter::Any => String::new(),
        Filter::HealthAtMost(n) => format!(" with {n} or less health"),
        Filter::HasKeyword(k) => format!(" with {}", k.name()),
    }
}

/// Renders one effect list. `chosen` is the phrase for the first mention of
/// `Target::Chosen` (later mentions read "it").
struct Render {
    when: Option<When>,
    chosen: &'static str,
    chosen_named: bool,
}

impl Render {
    fn target(&mut self, t: Target) -> String {
        match t {
            Target::Chosen => {
                if self.chosen_named {
                    "it".into()
                } else {
                    self.chosen_named = true;
                    self.chosen.into()
                }
            }
            Target::This => "this creature".into(),
            Target::Opposite => "the enemy creature opposite".into(),
            Target::Adjacent => "adjacent allies".into(),
            Target::Other => match self.when {
                Some(When::OnKill) => "the victim".into(),
                _ => "the defender".into(),
            },
            Target::AllEnemies(f) => format!("all enemy creatures{}", filter_suffix(f)),
            Target::AllAllies(f) => format!("your creatures{}", filter_suffix(f)),
            Target::AllCreatures(f) => format!("all creatures{}", filter_suffix(f)),
            Target::EnemyPlayer => "the enemy player".into(),
            Target::OwnPlayer => "you".into(),
        }
    }

    fn effect(&mut self, e: Effect) -> String {
        match e {
            Effect::Damage(Target::OwnPlayer, n) => format!("lose {n} life"),
            Effect::Heal(Target::OwnPlayer, n) => format!("gain {n} life"),
            Effect::Heal(Target::EnemyPlayer, n) => format!("the enemy player gains {n} life"),
            Effect::Damage(t, n) => format!("deal {n} damage to {}", self.target(t)),
            Effect::Heal(t, n) => format!("heal {} for {n}", self.target(t)),
            Effect::Buff(t, a, h) => format!("give {} {a:+}/{h:+}", self.target(t)),
            Effect::Draw(1) => "draw a card".into(),
            Effect::Draw(n) => format!("draw {n} cards"),
            Effect::Destroy(t) => format!("destroy {}", self.target(t)),
            Effect::Summon(id, n) => {
                let name = card(id).name;
                if n == 1 {
                    let vowel = name.starts_with(['A', 'E', 'I', 'O', 'U']);
                    format!("summon {} {name}", if vowel { "an" } else { "a" })
                } else {
                    format!("summon {n} {name}s")
                }
            }
            Effect::Grant(t, k) => {
                format!("give {} {}", self.target(t), join_and(&keyword_names(k)))
            }
            Effect::Remove(t, k) => {
                format!("remove {} from {}", join_and(&keyword_names(k)), self.target(t))
            }
            Effect::Silence(t) => format!("silence {}", self.target(t)),
            Effect::GainEssence(n) => format!("gain {n} essence this turn"),
            Effect::ReturnToHand(t) => format!("return {} to its owner's hand", self.target(t)),
        }
    }

    fn effects(when: Option<When>, rule: Option<TargetRule>, es: &[Effect]) -> String {
        let chosen = match rule {
            Some(TargetRule::EnemyCreature) => "an enemy creature",
            Some(TargetRule::OwnCreature) => "a friendly creature",
            _ => "the target",
        };
        let mut r = Render { when, chosen, chosen_named: false };
        let parts: Vec<String> = es.iter().map(|e| r.effect(*e)).collect();
        join_and(&parts)
    }
}

fn when_text(w: When) -> &'static str {
    match w {
        When::OnPlay => "On play",
        When::OnDeath => "On death",
        When::OnAttack => "On attack",
        When::OnKill => "On kill",
        When::OnDamaged => "When damaged",
        When::StartOfTurn => "At the start of your turn",
        When::EndOfTurn => "At the end of your turn",
        When::AllyDies => "When an ally dies",
    }
}

/// The canonical rules text of a card.
fn render(c: &CardDef) -> String {
    let mut parts: Vec<String> = Vec::new();
    match c.kind {
        Kind::Creature { keywords, .. } => {
            if !keywords.is_empty() {
                parts.push(format!("{}.", keyword_names(keywords).join(", ")));
            }
        }
        Kind::Spell { target, effects } => {
            parts.push(format!("{}.", capitalize(&Render::effects(None, Some(target), effects))));
        }
        Kind::Support { aura, .. } => {
            let mut bits = Vec::new();
            if aura.attack != 0 || aura.health != 0 {
                bits.push(format!("{:+}/{:+}", aura.attack, aura.health));
            }
            bits.extend(keyword_names(aura.keywords));
            if !bits.is_empty() {
                parts.push(format!("Your creatures have {}.", join_and(&bits)));
            }
        }
    }
    for t in c.triggers {
        parts.push(format!("{}: {}.", when_text(t.when), Render::effects(Some(t.when), None, t.effects)));
    }
    if let Kind::Creature { ability: Some(a), .. } = c.kind {
        parts.push(format!("Activate ({}): {}.", a.cost, Render::effects(None, Some(a.target), a.effects)));
    }
    parts.join(" ")
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

#[test]
fn ids_match_positions() {
    for (i, c) in CARDS.iter().enumerate() {
        assert_eq!(c.id as usize, i, "{}", c.name);
    }
    assert!(CARDS.len() < CardId::MAX as usize);
}

#[test]
fn names_are_unique_and_lookups_work() {
    for (i, c) in CARDS.iter().enumerate() {
        assert!(!c.name.trim().is_empty() && c.name.trim() == c.name, "card {i} has a bad name");
        for d in &CARDS[..i] {
            assert!(!c.name.eq_ignore_ascii_case(d.name), "duplicate name {}", c.name);
        }
        assert_eq!(by_name(c.name).map(|x| x.id), Some(c.id));
        assert_eq!(get(c.id).map(|x| x.name), Some(c.name));
    }
    assert!(get(CARDS.len() as CardId).is_none());
}

#[test]
fn the_first_card_is_the_spark_token() {
    let c = card(0);
    assert_eq!(c.name, "Spark");
    assert_eq!(c.rarity, Rarity::Token);
    assert_eq!(c.faction, Faction::Neutral);
    assert_eq!(c.kind, Kind::Creature { attack: 1, health: 1, keywords: Keywords::NONE, ability: None });
    assert!(c.triggers.is_empty());
}

#[test]
fn faction_sizes_meet_the_targets() {
    let count = |f: Faction| collectible().filter(|c| c.faction == f).count();
    assert!(count(Faction::Argentum) >= 30, "Argentum: {}", count(Faction::Argentum));
    assert!(count(Faction::Symbiote) >= 30, "Symbiote: {}", count(Faction::Symbiote));
    assert!(count(Faction::Obsidion) >= 30, "Obsidion: {}", count(Faction::Obsidion));
    assert!(count(Faction::Neutral) >= 20, "Neutral: {}", count(Faction::Neutral));
    assert!(collectible().count() >= 120);
}

#[test]
fn every_faction_has_every_card_type_and_a_legendary() {
    for f in [Faction::Argentum, Faction::Symbiote, Faction::Obsidion, Faction::Neutral] {
        let of = || collectible().filter(move |c| c.faction == f);
        assert!(of().any(|c| matches!(c.kind, Kind::Creature { .. })), "{} creature", f.name());
        assert!(of().any(|c| matches!(c.kind, Kind::Spell { .. })), "{} spell", f.name());
        assert!(of().any(|c| matches!(c.kind, Kind::Support { .. })), "{} support", f.name());
        assert!(of().any(|c| c.rarity == Rarity::Legendary), "{} legendary", f.name());
    }
}

#[test]
fn every_keyword_is_printed_on_a_collectible_creature() {
    for k in Keyword::ALL {
        assert!(
            collectible().any(|c| matches!(c.kind, Kind::Creature { keywords, .. } if keywords.has(k))),
            "no creature has {}",
            k.name()
        );
    }
}

#[test]
fn each_faction_leans_on_its_own_keywords() {
    use Keyword::*;
    let own: [(Faction, &[Keyword]); 4] = [
        (Faction::Argentum, &[Guard, Fortify, Shield, Piercing]),
        (Faction::Symbiote, &[Rush, Lethal, Regenerate, Frenzy, Volatile]),
        (Faction::Obsidion, &[Lifesteal, Quick, Stealth, Ephemeral]),
        (Faction::Neutral, &[Ranged, Charge, Ward]),
    ];
    for (f, kws) in own {
        for k in kws {
            let n = collectible()
                .filter(|c| c.faction == f)
                .filter(|c| matches!(c.kind, Kind::Creature { keywords, .. } if keywords.has(*k)))
                .count();
            assert!(n >= 2, "{} has only {n} creatures with {}", f.name(), k.name());
        }
    }
}

#[test]
fn the_whole_vocabulary_is_used() {
    let mut effects = [false; 11];
    let mut whens = [false; 8];
    let mut targets = [false; 10];
    let mut filters = [false; 3];
    let mut rules = [false; 5];
    let mut ability_rules = [false; 5];
    for (_, e) in all_effects() {
        effects[effect_index(e)] = true;
        if let Some(t) = effect_target(e) {
            targets[target_index(t)] = true;
            if let Some(f) = filter_of(t) {
                filters[filter_index(f)] = true;
            }
        }
    }
    for c in CARDS {
        for t in c.triggers {
            whens[when_index(t.when)] = true;
        }
        if let Kind::Spell { target, .. } = c.kind {
            rules[rule_index(target)] = true;
        }
        if let Some(a) = c.ability() {
            ability_rules[rule_index(a.target)] = true;
        }
    }
    assert!(effects.iter().all(|&x| x), "unused effect variant: {effects:?}");
    assert!(whens.iter().all(|&x| x), "unused trigger event: {whens:?}");
    assert!(targets.iter().all(|&x| x), "unused target: {targets:?}");
    assert!(filters.iter().all(|&x| x), "unused filter: {filters:?}");
    assert!(rules.iter().all(|&x| x), "unused spell target rule: {rules:?}");
    assert!(ability_rules.iter().filter(|&&x| x).count() >= 3, "abilities: {ability_rules:?}");

    let supports = || {
        CARDS.iter().filter_map(|c| match c.kind {
            Kind::Support { aura, .. } => Some(aura),
            _ => None,
        })
    };
    assert!(supports().any(|a| a.attack > 0), "no attack aura");
    assert!(supports().any(|a| a.health > 0), "no health aura");
    assert!(supports().any(|a| !a.keywords.is_empty()), "no keyword aura");
    assert!(CARDS.iter().filter(|c| c.ability().is_some()).count() >= 4);
}

#[test]
fn numbers_are_in_range() {
    for c in CARDS {
        assert!(c.cost <= 10, "{}: cost {}", c.name, c.cost);
        match c.kind {
            Kind::Creature { attack, health, ability, .. } => {
                assert!((0..=12).contains(&attack), "{}: attack {attack}", c.name);
                assert!((1..=12).contains(&health), "{}: health {health}", c.name);
                if let Some(a) = ability {
                    assert!(a.cost >= 1 && a.cost <= 10, "{}: ability cost {}", c.name, a.cost);
                    assert!(!a.effects.is_empty());
                }
            }
            Kind::Spell { effects, .. } => assert!(!effects.is_empty(), "{}: empty spell", c.name),
            Kind::Support { durability, aura } => {
                assert!((1..=5).contains(&durability), "{}: durability {durability}", c.name);
                assert!((0..=3).contains(&aura.attack) && (0..=3).contains(&aura.health), "{}", c.name);
                assert!(
                    aura.attack != 0 || aura.health != 0 || !aura.keywords.is_empty() || !c.triggers.is_empty(),
                    "{}: a support that does nothing",
                    c.name
                );
            }
        }
        for (_, _, es) in effect_lists(c) {
            assert!((1..=3).contains(&es.len()), "{}: {} effects in one list", c.name, es.len());
        }
        assert!(c.triggers.len() <= 2, "{}: too many triggers", c.name);
    }
    for (c, e) in all_effects() {
        match e {
            Effect::Damage(_, n) | Effect::Heal(_, n) => assert!((1..=10).contains(&n), "{}", c.name),
            Effect::Buff(_, a, h) => {
                assert!((a, h) != (0, 0) && (-6..=6).contains(&a) && (-6..=6).contains(&h), "{}", c.name)
            }
            Effect::Draw(n) | Effect::GainEssence(n) => assert!((1..=3).contains(&n), "{}", c.name),
            Effect::Summon(_, n) => assert!((1..=5).contains(&n), "{}", c.name),
            Effect::Grant(_, k) | Effect::Remove(_, k) => assert!(!k.is_empty(), "{}", c.name),
            _ => {}
        }
    }
}

#[test]
fn vanilla_creatures_follow_the_stat_curve() {
    for c in collectible() {
        if let Kind::Creature { attack, health, keywords, ability } = c.kind {
            if keywords.is_empty() && ability.is_none() && c.triggers.is_empty() {
                let budget = 2 * c.cost as i32 + 1;
                let stats = (attack + health) as i32;
                assert!(stats <= budget && stats >= budget - 2, "{}: {stats} stats for {}", c.name, c.cost);
            }
        }
    }
}

#[test]
fn summons_name_tokens_and_tokens_cannot_chain() {
    let mut summoned = vec![false; CARDS.len()];
    for (c, e) in all_effects() {
        if let Effect::Summon(id, _) = e {
            let t = get(id).unwrap_or_else(|| panic!("{} summons unknown id {id}", c.name));
            assert_eq!(t.rarity, Rarity::Token, "{} summons {}, not a token", c.name, t.name);
            assert!(t.is_creature(), "{} summons a non-creature", c.name);
            // A token that summons could loop (e.g. summon itself on death).
            assert_ne!(c.rarity, Rarity::Token, "token {} summons", c.name);
            summoned[id as usize] = true;
        }
    }
    for c in CARDS.iter().filter(|c| c.rarity == Rarity::Token) {
        assert!(c.is_creature(), "token {} is not a creature", c.name);
        assert!(c.id == 0 || summoned[c.id as usize], "token {} is never summoned", c.name);
        assert!(c.ability().is_none(), "token {} has an ability", c.name);
    }
}

#[test]
fn targets_make_sense_where_they_are_used() {
    for c in CARDS {
        if let Kind::Spell { .. } = c.kind {
            assert!(c.triggers.is_empty(), "{}: spells have no triggers", c.name);
        }
        for (when, rule, es) in effect_lists(c) {
            let uses_chosen = es.iter().any(|e| effect_target(*e) == Some(Target::Chosen));
            match rule {
                Some(TargetRule::EnemyCreature | TargetRule::OwnCreature) => {
                    assert!(uses_chosen, "{}: a targeted card that ignores its target", c.name)
                }
                Some(_) => assert!(!uses_chosen, "{}: Chosen without a creature target", c.name),
                None => assert!(!uses_chosen, "{}: triggers have no chosen target", c.name),
            }
            for e in es {
                let t = effect_target(*e);
                if t == Some(Target::Other) {
                    assert!(
                        matches!(when, Some(When::OnAttack | When::OnKill)),
                        "{}: Other outside OnAttack/OnKill",
                        c.name
                    );
                }
                if matches!(t, Some(Target::This | Target::Opposite | Target::Adjacent | Target::Other)) {
                    assert!(c.is_creature(), "{}: a creature-relative target on a non-creature", c.name);
                }
                // A damaged creature that deals damage could ping-pong with another.
                if when == Some(When::OnDamaged) {
                    assert!(!matches!(e, Effect::Damage(..) | Effect::Destroy(..)), "{}", c.name);
                }
                if let Effect::Buff(Target::EnemyPlayer | Target::OwnPlayer, ..)
                | Effect::Grant(Target::EnemyPlayer | Target::OwnPlayer, _)
                | Effect::Remove(Target::EnemyPlayer | Target::OwnPlayer, _)
                | Effect::Silence(Target::EnemyPlayer | Target::OwnPlayer)
                | Effect::Destroy(Target::EnemyPlayer | Target::OwnPlayer)
                | Effect::ReturnToHand(Target::EnemyPlayer | Target::OwnPlayer) = e
                {
                    panic!("{}: a creature effect aimed at a player", c.name);
                }
            }
        }
        for t in c.triggers {
            if matches!(t.when, When::OnAttack | When::OnKill | When::OnDamaged | When::OnDeath) {
                assert!(c.is_creature(), "{}: a combat trigger on a non-creature", c.name);
            }
        }
    }
}

#[test]
fn texts_match_the_data() {
    let mut bad = Vec::new();
    for c in CARDS {
        let want = render(c);
        if c.text != want {
            bad.push(format!("{}:\n   has  {:?}\n   want {:?}", c.name, c.text, want));
        }
    }
    assert!(bad.is_empty(), "{} texts differ:\n{}", bad.len(), bad.join("\n"));
}

#[test]
fn rendered_texts_read_as_expected() {
    let text = |name: &str| render(by_name(name).unwrap_or_else(|| panic!("no card {name}")));
    // Spot checks of the renderer itself, on small made-up rows.
    static SPELL: CardDef = CardDef {
        id: 0,
        name: "x",
        faction: Faction::Neutral,
        rarity: Rarity::Common,
        cost: 1,
        kind: Kind::Spell {
            target: TargetRule::EnemyCreature,
            effects: &[Effect::Damage(Target::Chosen, 3), Effect::Grant(Target::Chosen, Keywords(0b11))],
        },
        triggers: &[],
        text: "",
    };
    assert_eq!(render(&SPELL), "Deal 3 damage to an enemy creature and give it Guard and Fortify.");
    static BODY: CardDef = CardDef {
        id: 0,
        name: "y",
        faction: Faction::Neutral,
        rarity: Rarity::Common,
        cost: 1,
        kind: Kind::Creature { attack: 1, health: 1, keywords: Keywords(0b101), ability: None },
        triggers: &[Trigger { when: When::OnDeath, effects: &[Effect::Damage(Target::EnemyPlayer, 2)] }],
        text: "",
    };
    assert_eq!(render(&BODY), "Guard, Shield. On death: deal 2 damage to the enemy player.");
    assert_eq!(text("Spark"), "");
}

// ---------------------------------------------------------------------------
// The preset decks
// ---------------------------------------------------------------------------

const PRESET_NAMES: [&str; 6] =
    ["argentum_control", "argentum_midrange", "symbiote_aggro", "symbiote_tempo", "obsidion_burst", "obsidion_control"];

#[test]
fn presets_are_the_six_decks_in_order() {
    let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, PRESET_NAMES);
}

#[test]
fn presets_hold_no_tokens_and_respect_copy_limits() {
    for (name, list) in PRESETS {
        for &id in list {
            let c = get(id).unwrap_or_else(|| panic!("{name}: unknown id {id}"));
            assert_ne!(c.rarity, Rarity::Token, "{name}: token {}", c.name);
            let n = list.iter().filter(|&&x| x == id).count();
            let max = if c.rarity == Rarity::Legendary { 1 } else { 2 };
            assert!(n <= max, "{name}: {n} copies of {}", c.name);
        }
    }
}

#[test]
fn presets_are_faction_decks_with_a_sensible_curve() {
    let factions = [Faction::Argentum, Faction::Symbiote, Faction::Obsidion];
    for (i, (name, list)) in PRESETS.iter().enumerate() {
        let faction = factions[i / 2];
        assert!(name.starts_with(&faction.name().to_ascii_lowercase()));
        let cards: Vec<&CardDef> = list.iter().map(|&id| card(id)).collect();
        for c in &cards {
            assert!(
                c.faction == faction || c.faction == Faction::Neutral,
                "{name}: {} is {}",
                c.name,
                c.faction.name()
            );
        }
        let own = cards.iter().filter(|c| c.faction == faction).count();
        assert!(own >= 20, "{name}: only {own} faction cards");
        let creatures = cards.iter().filter(|c| c.is_creature()).count();
        assert!((14..=24).contains(&creatures), "{name}: {creatures} creatures");
        let cheap = cards.iter().filter(|c| (1..=5).contains(&c.cost)).count();
        assert!(cheap >= 22, "{name}: only {cheap} cards cost 1-5");
        let early = cards.iter().filter(|c| c.cost <= 2).count();
        assert!(early >= 6, "{name}: only {early} cards cost 2 or less");
        let top = cards.iter().filter(|c| c.cost >= 7).count();
        assert!(top <= 4, "{name}: {top} cards cost 7 or more");
        let avg = cards.iter().map(|c| c.cost as f64).sum::<f64>() / 30.0;
        assert!((2.0..=4.5).contains(&avg), "{name}: average cost {avg:.2}");
    }
}

#[test]
fn the_two_decks_of_a_faction_play_differently() {
    for pair in PRESETS.chunks(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let mut shared = 0;
        let mut rest: Vec<CardId> = b.1.to_vec();
        for id in a.1 {
            if let Some(p) = rest.iter().position(|&x| x == id) {
                rest.swap_remove(p);
                shared += 1;
            }
        }
        assert!(shared <= 18, "{} and {} share {shared} cards", a.0, b.0);
        let avg = |l: &[CardId; 30]| l.iter().map(|&id| card(id).cost as f64).sum::<f64>() / 30.0;
        assert!((avg(&a.1) - avg(&b.1)).abs() >= 0.2, "{} and {} have the same curve", a.0, b.0);
    }
}
