//! The rules: applying actions, the turn structure, combat, and the effect queue.
//!
//! Effects resolve one at a time through a first-in first-out queue. After
//! each effect, deaths are handled (death and ally-dies triggers are queued,
//! then Volatile), and the winner is checked; nothing recurses.

use crate::actions::{self, Action, ABILITY_ENEMY_PLAYER, ABILITY_ENEMY_SLOT, ABILITY_OWN_SLOT};
use crate::cards::{self, Effect, Filter, Kind, Target, TargetRule, When};
use crate::keywords::{Keyword, Keywords};
use crate::state::*;
use std::fmt;

/// Why an action was refused. The game is unchanged when an error is returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActionError {
    /// The game has already ended.
    GameOver,
    /// The index is not legal now (`legal` is how many actions were legal).
    Illegal { action: u16, legal: u32 },
}

impl fmt::Display for ActionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ActionError::GameOver => write!(f, "the game is over; reset it to play again"),
            ActionError::Illegal { action, legal } => {
                write!(f, "action {action} ({}) is not legal now; {legal} action(s) are legal", describe(*action))
            }
        }
    }
}

impl std::error::Error for ActionError {}

/// A human description of an action index.
pub fn describe(action: u16) -> String {
    if action > 255 {
        return "out of range 0..255".into();
    }
    match Action::decode(action as u8) {
        Some(Action::Play { hand, arg }) => format!("play hand card {hand} with argument {arg}"),
        Some(Action::Attack { attacker, defender }) => {
            format!("attack from lane {attacker} into enemy lane {defender}")
        }
        Some(Action::Ability { slot, target }) => format!("ability of lane {slot}, target {target}"),
        Some(Action::EndTurn) => "end turn".into(),
        None => "reserved index".into(),
    }
}

/// What a successful action did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepResult {
    /// Reward for the player who acted: +1 win, -1 loss, 0 otherwise.
    pub reward: f32,
    /// True when the game ended with this action.
    pub done: bool,
}

// ---------------------------------------------------------------------------
// The effect queue.

/// Who an effect comes from and what it may refer to.
#[derive(Clone, Copy, Debug)]
struct Ctx {
    /// The seat that owns the effect.
    owner: u8,
    /// The source creature's lane (its last lane if it has died).
    slot: u8,
    /// The source creature (0: none, e.g. a spell or support).
    source: u16,
    /// The chosen creature target (0: none).
    chosen: u16,
    /// The chosen player target: 0 none, 1 the enemy, 2 the owner.
    chosen_player: u8,
    /// The other creature of a combat event (0: none).
    other: u16,
    /// When true, the effect fizzles if the source has left the board.
    needs_source: bool,
}

impl Ctx {
    const fn of(owner: u8) -> Ctx {
        Ctx { owner, slot: 0, source: 0, chosen: 0, chosen_player: 0, other: 0, needs_source: false }
    }
}

const QUEUE_CAP: usize = 256;

/// Pending effects, FIFO. One queue per thread is reused by every action
/// (see [`with_queue`]), so an action never pays to initialise it.
struct Queue {
    items: [(Option<&'static Effect>, Ctx); QUEUE_CAP],
    head: usize,
    len: usize,
    /// The lanes (bit `5 * seat + slot`) whose creature may have died since
    /// the last death check: lethal damage, a destroy, a health debuff, an
    /// aura leaving (all lanes of its side). The death check looks at these
    /// only; every other creature is alive. Damage flags its lane only when
    /// the creature hit is due to die (see `damage_creature`).
    maybe_dead: u16,
    /// Set when a player's life or victory points went down or up since the
    /// last winner check (and at the start of each action), so the check is
    /// skipped while nothing it reads has changed.
    maybe_over: bool,
}

/// Every lane of both sides, as `Queue::maybe_dead` bits.
const ALL_LANES: u16 = (1 << (2 * LANES)) - 1;

/// The `Queue::maybe_dead` bit of a lane.
#[inline(always)]
const fn lane_bit(seat: usize, slot: usize) -> u16 {
    1 << (LANES * seat + slot)
}

static VOLATILE_BLAST: Effect = Effect::Damage(Target::AllEnemies(Filter::Any), 2);

thread_local! {
    // A const initializer: no lazy-initialisation check on each access (and
    // no destructor to register: the queue holds no heap data).
    static QUEUE: std::cell::RefCell<Queue> = const { std::cell::RefCell::new(Queue::new()) };
}

/// Runs `f` with this thread's (empty) effect queue. Actions never nest, so
/// the queue is never borrowed twice; a panic unwinds through the borrow guard
/// and the next call starts from a cleared queue.
#[inline]
fn with_queue<R>(f: impl FnOnce(&mut Queue) -> R) -> R {
    QUEUE.with(|cell| {
        let mut q = cell.borrow_mut();
        q.head = 0;
        q.len = 0;
        q.maybe_dead = 0;
        q.maybe_over = true;
        f(&mut q)
    })
}

impl Queue {
    const fn new() -> Queue {
        Queue { items: [(None, Ctx::of(0)); QUEUE_CAP], head: 0, len: 0, maybe_dead: ALL_LANES, maybe_over: true }
    }

    fn push_all(&mut self, effects: &'static [Effect], ctx: Ctx) {
        for e in effects {
            // The card set is checked never to chain this deep; if it ever
            // did, further effects are dropped rather than growing without bound.
            debug_assert!(self.len < QUEUE_CAP, "effect queue overflow");
            if self.len < QUEUE_CAP {
                self.items[(self.head + self.len) % QUEUE_CAP] = (Some(e), ctx);
                self.len += 1;
            }
        }
    }

    fn pop(&mut self) -> Option<(&'static Effect, Ctx)> {
        if self.len == 0 {
            return None;
        }
        let (e, c) = self.items[self.head];
        self.head = (self.head + 1) % QUEUE_CAP;
        self.len -= 1;
        e.map(|e| (e, c))
    }
}

// ---------------------------------------------------------------------------
// Public entry points.

impl Game {
    /// The legal actions of the player to move, as a bit set.
    #[inline]
    pub fn legal_mask(&self) -> actions::ActionMask {
        actions::legal_mask(self)
    }

    /// True when `action` is legal now.
    pub fn is_legal(&self, action: u16) -> bool {
        action <= 255 && self.legal_mask().has(action as u8)
    }

    /// The legal actions, in index order.
    pub fn legal_actions(&self) -> Vec<u8> {
        self.legal_mask().iter().collect()
    }

    /// Applies an action of the player to move. On error nothing changes.
    pub fn apply(&mut self, action: u16) -> Result<StepResult, ActionError> {
        if self.is_over() {
            return Err(ActionError::GameOver);
        }
        let mask = self.legal_mask();
        if action > 255 || !mask.has(action as u8) {
            return Err(ActionError::Illegal { action, legal: mask.count() });
        }
        let actor = self.active as usize;
        self.apply_unchecked(action as u8);
        Ok(StepResult { reward: self.reward(actor), done: self.is_over() })
    }

    /// Applies an action known to be legal (from this state's mask). Search
    /// code uses this to skip the second legality check.
    pub fn apply_unchecked(&mut self, action: u8) {
        debug_assert!(self.legal_mask().has(action), "illegal action {action}");
        self.actions += 1;
        with_queue(|q| match Action::decode(action) {
            Some(Action::Play { hand, arg }) => play_card(self, q, hand as usize, arg as usize),
            Some(Action::Attack { attacker, defender }) => attack(self, q, attacker as usize, defender as usize),
            Some(Action::Ability { slot, target }) => use_ability(self, q, slot as usize, target),
            Some(Action::EndTurn) => end_turn(self, q),
            None => unreachable!("reserved actions are never legal"),
        });
        self.players[0].refresh_lanes();
        self.players[1].refresh_lanes();
    }
}

// ---------------------------------------------------------------------------
// Actions.

fn play_card(g: &mut Game, q: &mut Queue, h: usize, arg: usize) {
    let me = g.active as usize;
    let id = g.players[me].take_from_hand(h);
    let card = cards::card(id);
    let p = &mut g.players[me];
    p.essence -= card.cost;
    p.ap -= 1;
    match card.kind {
        Kind::Creature { .. } => {
            let uid = g.next_uid;
            g.next_uid = g.next_uid.wrapping_add(1).max(1);
            g.players[me].summon(arg, id, uid);
            let ctx = Ctx { slot: arg as u8, source: uid, needs_source: true, ..Ctx::of(me as u8) };
            queue_triggers(q, card.id, When::OnPlay, ctx);
        }
        Kind::Support { durability, .. } => {
            g.players[me].supports[arg] = Support { card: id, durability };
            g.players[me].recompute_auras();
            queue_triggers(q, card.id, When::OnPlay, Ctx::of(me as u8));
        }
        Kind::Spell { target, effects } => {
            let mut ctx = Ctx::of(me as u8);
            match target {
                TargetRule::EnemyCreature => {
                    if ward_cancels(g, 1 - me, arg) {
                        return finish(g, q);
                    }
                    ctx.chosen = g.players[1 - me].board[arg].uid;
                }
                TargetRule::OwnCreature => ctx.chosen = g.players[me].board[arg].uid,
                TargetRule::EnemyPlayer => ctx.chosen_player = 1,
                TargetRule::OwnPlayer => ctx.chosen_player = 2,
                TargetRule::None => {}
            }
            q.push_all(effects, ctx);
        }
    }
    finish(g, q);
}

fn use_ability(g: &mut Game, q: &mut Queue, slot: usize, target: u8) {
    let me = g.active as usize;
    let c = g.players[me].board[slot];
    let ab = cards::card(c.card).ability().expect("legal ability");
    g.players[me].essence -= ab.cost;
    g.players[me].spend_ability(slot);
    let mut ctx = Ctx { slot: slot as u8, source: c.uid, ..Ctx::of(me as u8) };
    match target {
        ABILITY_ENEMY_PLAYER => ctx.chosen_player = 1,
        t if (ABILITY_ENEMY_SLOT..ABILITY_OWN_SLOT).contains(&t) => {
            let d = (t - ABILITY_ENEMY_SLOT) as usize;
            if ward_cancels(g, 1 - me, d) {
                return finish(g, q);
            }
            ctx.chosen = g.players[1 - me].board[d].uid;
        }
        t if (ABILITY_OWN_SLOT..ABILITY_ENEMY_PLAYER).contains(&t) => {
            ctx.chosen = g.players[me].board[(t - ABILITY_OWN_SLOT) as usize].uid;
        }
        _ => {
            if ab.target == TargetRule::OwnPlayer {
                ctx.chosen_player = 2;
            }
        }
    }
    q.push_all(ab.effects, ctx);
    finish(g, q);
}

/// Ward: the first enemy spell or ability aimed at the creature is cancelled
/// whole (its cost stays paid) and the Ward is used up.
fn ward_cancels(g: &mut Game, seat: usize, slot: usize) -> bool {
    let p = &mut g.players[seat];
    if p.slot_has(slot, Keyword::Ward) {
        // Ward is no lane-set input: the lane is not marked.
        let c = &mut p.board[slot];
        c.keywords = c.keywords.minus(Keyword::Ward.set());
        c.suppressed = c.suppressed.union(Keyword::Ward.set());
        true
    } else {
        false
    }
}

fn attack(g: &mut Game, q: &mut Queue, a: usize, d: usize) {
    let me = g.active as usize;
    let foe = 1 - me;
    // One more attack made; Stealth is lost when the creature attacks.
    g.players[me].attack_with(a);
    let attacker_uid = g.players[me].board[a].uid;
    let defender_uid = g.players[foe].board[d].uid * g.players[foe].board[d].present() as u16;
    let ctx = Ctx { slot: a as u8, source: attacker_uid, other: defender_uid, needs_source: true, ..Ctx::of(me as u8) };
    let card = cards::card(g.players[me].board[a].card);
    if !g.players[me].board[a].has_flag(F_SILENCED) {
        queue_triggers(q, card.id, When::OnAttack, ctx);
        resolve(g, q);
        if g.is_over() {
            return;
        }
    }
    // The attacker must still stand; a declared defender must still stand.
    // Creatures never change lanes and identities are unique, so "still
    // stands" is "its lane still holds it".
    if !holds(g, me, a, attacker_uid) {
        return finish(g, q);
    }
    let kw = g.players[me].keywords_of(&g.players[me].board[a]);
    let charge = if kw.has(Keyword::Charge) { 2 } else { 0 };
    let hit = g.players[me].attack_of(&g.players[me].board[a]) + charge;
    if defender_uid == 0 {
        // Face attack.
        damage_player(g, q, foe, hit, me);
        if kw.has(Keyword::Lifesteal) {
            heal_player(g, me, hit);
        }
        return finish(g, q);
    }
    if !holds(g, foe, d, defender_uid) {
        return finish(g, q);
    }
    let dkw = g.players[foe].keywords_of(&g.players[foe].board[d]);
    let counter = if kw.has(Keyword::Ranged) { 0 } else { g.players[foe].attack_of(&g.players[foe].board[d]) };
    let a_quick = kw.has(Keyword::Quick);
    let d_quick = dkw.has(Keyword::Quick) && counter > 0;

    let mut attacker_dealt = 0;
    let mut defender_dealt = 0;
    let mut defender_died = false;
    if a_quick && !d_quick {
        let (dealt, died) = strike(g, q, (me, a), (foe, d), hit, kw, true);
        attacker_dealt = dealt;
        defender_died = died;
        if !died && counter > 0 {
            defender_dealt = strike(g, q, (foe, d), (me, a), counter, dkw, false).0;
        }
    } else if d_quick && !a_quick {
        let (dealt, attacker_died) = strike(g, q, (foe, d), (me, a), counter, dkw, false);
        defender_dealt = dealt;
        if !attacker_died {
            let r = strike(g, q, (me, a), (foe, d), hit, kw, true);
            attacker_dealt = r.0;
            defender_died = r.1;
        }
    } else {
        // Simultaneous: both strike with the stats they had when combat began.
        let r = strike(g, q, (me, a), (foe, d), hit, kw, true);
        attacker_dealt = r.0;
        defender_died = r.1;
        if counter > 0 {
            defender_dealt = strike(g, q, (foe, d), (me, a), counter, dkw, false).0;
        }
    }
    if kw.has(Keyword::Lifesteal) && attacker_dealt > 0 {
        heal_player(g, me, attacker_dealt);
    }
    if dkw.has(Keyword::Lifesteal) && defender_dealt > 0 {
        heal_player(g, foe, defender_dealt);
    }
    if defender_died && is_dying(g, me, a) == Some(false) && !g.players[me].board[a].has_flag(F_SILENCED) {
        queue_triggers(q, card.id, When::OnKill, ctx);
    }
    finish(g, q);
}

/// True when lane `slot` of `seat` holds the creature `uid` (never 0 for a
/// creature). Same as `g.find(uid) == Some((seat, slot))`: creatures never
/// move and identities are unique among creatures on the board.
#[inline(always)]
fn holds(g: &Game, seat: usize, slot: usize, uid: u16) -> bool {
    let c = &g.players[seat].board[slot];
    let here = c.present() && c.uid == uid && uid != 0;
    debug_assert_eq!(here, g.find(uid) == Some((seat, slot)));
    here
}

/// `Some(true)` when the creature in the slot is present and due to die,
/// `Some(false)` when present and alive, `None` for an empty slot.
#[inline]
fn is_dying(g: &Game, seat: usize, slot: usize) -> Option<bool> {
    let p = &g.players[seat];
    let c = &p.board[slot];
    c.present().then(|| p.health_of(c) <= 0 || c.has_flag(F_DOOMED))
}

/// One combat hit from `from` to `to`. Returns (damage dealt to the creature,
/// whether it is now due to die). Piercing sends the overkill on to its owner.
/// Inlined into `attack` (its only caller): seven arguments and a pair
/// result cost more to pass than the body's setup.
#[inline(always)]
fn strike(
    g: &mut Game,
    q: &mut Queue,
    from: (usize, usize),
    to: (usize, usize),
    amount: i16,
    from_kw: Keywords,
    attacking: bool,
) -> (i16, bool) {
    let before = g.players[to.0].health_of(&g.players[to.0].board[to.1]);
    let dealt = damage_creature(g, q, to.0, to.1, amount, from.0);
    if dealt > 0 && from_kw.has(Keyword::Lethal) {
        // F_DOOMED is no lane-set input (a doomed creature is removed before
        // the next mask), so the lane is not marked.
        g.players[to.0].board[to.1].flags |= F_DOOMED;
        q.maybe_dead |= lane_bit(to.0, to.1);
    }
    if attacking && from_kw.has(Keyword::Piercing) && dealt > before.max(0) {
        let over = dealt - before.max(0);
        damage_player(g, q, to.0, over, from.0);
    }
    (dealt, is_dying(g, to.0, to.1) == Some(true))
}

fn end_turn(g: &mut Game, q: &mut Queue) {
    let me = g.active as usize;
    fire_turn_triggers(g, q, me, When::EndOfTurn);
    resolve(g, q);
    if g.is_over() {
        return;
    }
    // Ephemeral creatures die at their owner's end of turn.
    let mut ephemeral = g.players[me].lane_sets().get(LaneSets::EPHEMERAL);
    while ephemeral != 0 {
        let s = ephemeral.trailing_zeros() as usize;
        ephemeral &= ephemeral - 1;
        // No lane-set input (see `strike`).
        g.players[me].board[s].flags |= F_DOOMED;
        q.maybe_dead |= lane_bit(me, s);
    }
    handle_deaths(g, q);
    resolve(g, q);
    if g.is_over() {
        return;
    }
    // Supports wear out.
    let mut changed = false;
    for s in g.players[me].supports.iter_mut().filter(|s| s.present()) {
        s.durability = s.durability.saturating_sub(1);
        if s.durability == 0 {
            *s = Support::NONE;
            changed = true;
        }
    }
    if changed {
        g.players[me].recompute_auras();
        q.maybe_dead |= 0b11111 << (LANES * me);
        handle_deaths(g, q);
        resolve(g, q);
        if g.is_over() {
            return;
        }
    }
    if g.turn >= TURN_LIMIT {
        let (l0, l1) = (g.players[0].life, g.players[1].life);
        g.outcome = match l0.cmp(&l1) {
            std::cmp::Ordering::Greater => Outcome::Winner(0),
            std::cmp::Ordering::Less => Outcome::Winner(1),
            std::cmp::Ordering::Equal => Outcome::Draw,
        };
        return;
    }
    g.active = 1 - g.active;
    start_turn_with(g, q);
}

/// Starts the turn of `g.active`: counter, essence, draw, AP, ready, Regenerate,
/// start-of-turn triggers.
pub(crate) fn start_turn(g: &mut Game) {
    with_queue(|q| start_turn_with(g, q));
    g.players[0].refresh_lanes();
    g.players[1].refresh_lanes();
}

/// Inlined: one call per turn from `end_turn`, whose saved registers it shares.
#[inline(always)]
fn start_turn_with(g: &mut Game, q: &mut Queue) {
    let me = g.active as usize;
    g.turn += 1;
    let p = &mut g.players[me];
    p.max_essence = (p.max_essence + 1).min(MAX_ESSENCE);
    p.essence = p.max_essence;
    p.draw();
    p.ap = AP_PER_TURN;
    let mut regen = p.lane_sets().get(LaneSets::REGENERATE);
    while regen != 0 {
        let s = regen.trailing_zeros() as usize;
        regen &= regen - 1;
        // Health is no lane-set input.
        let c = &mut p.board[s];
        c.health = (c.health + 2).min(c.max_health).max(c.health);
    }
    p.ready_all();
    fire_turn_triggers(g, q, me, When::StartOfTurn);
    resolve(g, q);
}

/// Queues the supports' then the creatures' triggers of one player for a turn event.
///
/// Inlined test, out-of-line work: most turns no support and no creature has
/// a trigger of this kind, and then this is two table lookups and a lane-set
/// test rather than a call.
#[inline(always)]
fn fire_turn_triggers(g: &Game, q: &mut Queue, seat: usize, when: When) {
    let p = &g.players[seat];
    if support_trigger_kinds(p) & (1 << when as u8) != 0 || p.lane_sets().get(LaneSets::TURN_TRIGGERS) != 0 {
        queue_turn_triggers(g, q, seat, when);
    }
}

/// The union of the player's supports' trigger kinds (bit `When as u8`):
/// two table lookups, so callers skip the supports when none can fire.
#[inline(always)]
fn support_trigger_kinds(p: &Player) -> u8 {
    // An empty support slot reads the row of `EMPTY & 0xFF`, which is past the last card: no trigger.
    p.supports.iter().fold(0, |k, s| k | cards::TRIGGER_KINDS[s.card as usize & (cards::ID_ROWS - 1)])
}

/// The work of [`fire_turn_triggers`] when something may fire.
#[inline(never)]
fn queue_turn_triggers(g: &Game, q: &mut Queue, seat: usize, when: When) {
    let p = &g.players[seat];
    for s in p.supports.iter().filter(|s| s.present()) {
        queue_triggers(q, s.card, when, Ctx::of(seat as u8));
    }
    // Only unsilenced creatures with a turn trigger can queue anything, left to right.
    let mut lanes = p.lane_sets().get(LaneSets::TURN_TRIGGERS);
    while lanes != 0 {
        let slot = lanes.trailing_zeros() as usize;
        lanes &= lanes - 1;
        let c = &p.board[slot];
        let ctx = Ctx { slot: slot as u8, source: c.uid, needs_source: true, ..Ctx::of(seat as u8) };
        queue_triggers(q, c.card, when, ctx);
    }
}

#[inline]
fn queue_triggers(q: &mut Queue, card: cards::CardId, when: When, ctx: Ctx) {
    // Most cards have no trigger of this kind: a compile-time bit table says so.
    if cards::TRIGGER_KINDS[card as usize & (cards::ID_ROWS - 1)] & (1 << when as u8) == 0 {
        return;
    }
    for t in cards::card(card).triggers {
        if t.when == when {
            q.push_all(t.effects, ctx);
        }
    }
}

/// Handles deaths and then drains the queue.
fn finish(g: &mut Game, q: &mut Queue) {
    handle_deaths(g, q);
    resolve(g, q);
}

/// Resolves queued effects one at a time, handling deaths after each, until
/// the queue is empty or the game ends.
#[inline(always)]
fn resolve(g: &mut Game, q: &mut Queue) {
    // Most calls find the queue empty: no call then.
    if q.len != 0 {
        resolve_queue(g, q);
    }
}

fn resolve_queue(g: &mut Game, q: &mut Queue) {
    while !g.is_over() {
        let Some((effect, ctx)) = q.pop() else { break };
        // An effect that needs its source fizzles once the source has left
        // its lane (the context's lane is the source's).
        if ctx.needs_source && !holds(g, ctx.owner as usize, ctx.slot as usize, ctx.source) {
            continue;
        }
        apply_effect(g, q, effect, &ctx);
        handle_deaths(g, q);
    }
}

/// Removes dead creatures if any may have died, then checks the winner if
/// a life or victory point total has changed.
#[inline(always)]
fn handle_deaths(g: &mut Game, q: &mut Queue) {
    if q.maybe_dead != 0 {
        remove_dead(g, q);
    }
    if q.maybe_over {
        q.maybe_over = false;
        check_winner(g);
    }
}

/// Removes dead creatures (the player to move's lanes first, left to right),
/// queues their death triggers and their allies' ally-dies triggers, then
/// their Volatile blasts.
fn remove_dead(g: &mut Game, q: &mut Queue) {
    let candidates = q.maybe_dead;
    q.maybe_dead = 0;
    debug_assert!(
        (0..2 * LANES).all(|i| candidates >> i & 1 != 0 || is_dying(g, i / LANES, i % LANES) != Some(true)),
        "a creature is due to die in an unflagged lane"
    );
    let first = g.active as usize;
    let mut volatile: [(u8, u8, u16); 2 * LANES] = [(0, 0, 0); 2 * LANES];
    let mut n_volatile = 0;
    // One pass over the candidates in removal order: the player to move's
    // lanes as bits 0..=4, the other player's as bits 5..=9.
    let mine = candidates >> (LANES * first) & 0b11111;
    let theirs = candidates >> (LANES * (1 - first)) & 0b11111;
    let mut order = mine | theirs << LANES;
    while order != 0 {
        let i = order.trailing_zeros() as usize;
        order &= order - 1;
        let (seat, s) = if i < LANES { (first, i) } else { (1 - first, i - LANES) };
        if is_dying(g, seat, s) != Some(true) {
            continue;
        }
        let c = g.players[seat].board[s];
        let kw = g.players[seat].keywords_of(&c);
        g.players[seat].clear_lane(s);
        let ctx = Ctx { slot: s as u8, source: c.uid, ..Ctx::of(seat as u8) };
        if !c.has_flag(F_SILENCED) {
            queue_triggers(q, c.card, When::OnDeath, ctx);
        }
        let p = &g.players[seat];
        // Only unsilenced creatures with an ally-dies trigger can queue anything.
        let mut allies = p.lane_sets().get(LaneSets::ALLY_TRIGGERS);
        while allies != 0 {
            let slot = allies.trailing_zeros() as usize;
            allies &= allies - 1;
            let ally = &p.board[slot];
            let actx =
                Ctx { slot: slot as u8, source: ally.uid, other: c.uid, needs_source: true, ..Ctx::of(seat as u8) };
            queue_triggers(q, ally.card, When::AllyDies, actx);
        }
        if support_trigger_kinds(p) & (1 << When::AllyDies as u8) != 0 {
            for sup in p.supports.iter().filter(|x| x.present()) {
                queue_triggers(q, sup.card, When::AllyDies, Ctx::of(seat as u8));
            }
        }
        if kw.has(Keyword::Volatile) {
            volatile[n_volatile] = (seat as u8, s as u8, c.uid);
            n_volatile += 1;
        }
    }
    for &(seat, slot, uid) in &volatile[..n_volatile] {
        let ctx = Ctx { slot, source: uid, ..Ctx::of(seat) };
        q.push_all(std::slice::from_ref(&VOLATILE_BLAST), ctx);
    }
}

fn check_winner(g: &mut Game) {
    if g.is_over() {
        return;
    }
    let dead0 = g.players[0].life <= 0;
    let dead1 = g.players[1].life <= 0;
    // Usually both live in attrition mode: the game runs on, nothing written.
    if !dead0 && !dead1 && g.mode != Mode::EssenceDuel {
        return;
    }
    g.outcome = match (dead0, dead1) {
        (true, true) => Outcome::Draw,
        (true, false) => Outcome::Winner(1),
        (false, true) => Outcome::Winner(0),
        (false, false) if g.mode == Mode::EssenceDuel => {
            match (g.players[0].vp >= VP_TO_WIN, g.players[1].vp >= VP_TO_WIN) {
                (true, true) => Outcome::Draw,
                (true, false) => Outcome::Winner(0),
                (false, true) => Outcome::Winner(1),
                _ => Outcome::Running,
            }
        }
        _ => Outcome::Running,
    };
}

// ---------------------------------------------------------------------------
// Damage and healing.

/// Deals damage to a player; in `essence_duel` the enemy of the victim earns
/// one victory point per point dealt.
fn damage_player(g: &mut Game, q: &mut Queue, seat: usize, amount: i16, source_owner: usize) {
    if amount <= 0 {
        return;
    }
    q.maybe_over = true;
    g.players[seat].life -= amount;
    if g.mode == Mode::EssenceDuel && source_owner != seat {
        g.players[source_owner].vp += amount;
    }
}

fn heal_player(g: &mut Game, seat: usize, amount: i16) {
    let p = &mut g.players[seat];
    p.life = (p.life + amount.max(0)).min(START_LIFE).max(p.life);
}

/// Deals damage to a creature through Shield and Fortify; returns the damage
/// dealt and queues its on-damaged trigger (which fires only if it survives).
fn damage_creature(g: &mut Game, q: &mut Queue, seat: usize, slot: usize, amount: i16, _from: usize) -> i16 {
    if amount <= 0 {
        return 0;
    }
    let p = &mut g.players[seat];
    let kw = p.keywords_of(&p.board[slot]);
    if kw.has(Keyword::Shield) {
        // Shield is no lane-set input: the lane is not marked.
        let c = &mut p.board[slot];
        c.keywords = c.keywords.minus(Keyword::Shield.set());
        c.suppressed = c.suppressed.union(Keyword::Shield.set());
        return 0;
    }
    // Health is no lane-set input: the lane is not marked.
    let c = &mut p.board[slot];
    let dealt = if kw.has(Keyword::Fortify) && amount > 1 { amount - 1 } else { amount };
    c.health -= dealt;
    // Only this creature's health changed, and no other creature is due to
    // die here (deaths are handled after every effect; nothing else leaves a
    // creature at 0 health unflagged: see `cards::CREATURES_ENTER_ALIVE`).
    if c.health + p.aura_health <= 0 || c.has_flag(F_DOOMED) {
        q.maybe_dead |= lane_bit(seat, slot);
    }
    if !c.has_flag(F_SILENCED) {
        let ctx = Ctx { slot: slot as u8, source: c.uid, needs_source: true, ..Ctx::of(seat as u8) };
        queue_triggers(q, c.card, When::OnDamaged, ctx);
    }
    dealt
}

// ---------------------------------------------------------------------------
// Effects.

/// Calls `f(seat, slot)` for every creature the target names.
fn for_each_target(g: &Game, target: Target, ctx: &Ctx, mut f: impl FnMut(usize, usize)) {
    let me = ctx.owner as usize;
    let foe = 1 - me;
    let passes = |seat: usize, slot: usize, filter: Filter| {
        let p = &g.players[seat];
        let c = &p.board[slot];
        c.present()
            && match filter {
                Filter::Any => true,
                Filter::HealthAtMost(n) => p.health_of(c) <= n as i16,
                Filter::HasKeyword(k) => p.keywords_of(c).has(k),
            }
    };
    match target {
        Target::Chosen => {
            if let Some((s, l)) = g.find(ctx.chosen) {
                f(s, l)
            }
        }
        Target::This => {
            if let Some((s, l)) = g.find(ctx.source) {
                f(s, l)
            }
        }
        Target::Other => {
            if let Some((s, l)) = g.find(ctx.other) {
                f(s, l)
            }
        }
        Target::Opposite => {
            if g.players[foe].board[ctx.slot as usize].present() {
                f(foe, ctx.slot as usize)
            }
        }
        Target::Adjacent => {
            let s = ctx.slot as usize;
            if s > 0 && g.players[me].board[s - 1].present() {
                f(me, s - 1)
            }
            if s + 1 < LANES && g.players[me].board[s + 1].present() {
                f(me, s + 1)
            }
        }
        Target::AllEnemies(filter) => (0..LANES).filter(|&s| passes(foe, s, filter)).for_each(|s| f(foe, s)),
        Target::AllAllies(filter) => (0..LANES).filter(|&s| passes(me, s, filter)).for_each(|s| f(me, s)),
        Target::AllCreatures(filter) => {
            for seat in [me, foe] {
                (0..LANES).filter(|&s| passes(seat, s, filter)).for_each(|s| f(seat, s));
            }
        }
        Target::EnemyPlayer | Target::OwnPlayer => {}
    }
}

/// The player an effect names, if it names one: `Some(seat)`.
fn target_player(target: Target, ctx: &Ctx) -> Option<usize> {
    let me = ctx.owner as usize;
    match target {
        Target::EnemyPlayer => Some(1 - me),
        Target::OwnPlayer => Some(me),
        Target::Chosen => match ctx.chosen_player {
            1 => Some(1 - me),
            2 => Some(me),
            _ => None,
        },
        _ => None,
    }
}

/// Collects the target creatures first, so an effect hits the set of creatures
/// that were there (and passed its filter) when it began.
fn targets(g: &Game, target: Target, ctx: &Ctx) -> ([(u8, u8); 2 * LANES], usize) {
    let mut out = [(0u8, 0u8); 2 * LANES];
    let mut n = 0;
    for_each_target(g, target, ctx, |seat, slot| {
        if n < out.len() {
            out[n] = (seat as u8, slot as u8);
            n += 1;
        }
    });
    (out, n)
}

fn apply_effect(g: &mut Game, q: &mut Queue, effect: &'static Effect, ctx: &Ctx) {
    let me = ctx.owner as usize;
    match *effect {
        Effect::Damage(t, n) => {
            if let Some(seat) = target_player(t, ctx) {
                damage_player(g, q, seat, n as i16, me);
            }
            let (list, len) = targets(g, t, ctx);
            for &(seat, slot) in &list[..len] {
                damage_creature(g, q, seat as usize, slot as usize, n as i16, me);
            }
        }
        Effect::Heal(t, n) => {
            if let Some(seat) = target_player(t, ctx) {
                heal_player(g, seat, n as i16);
            }
            let (list, len) = targets(g, t, ctx);
            for &(seat, slot) in &list[..len] {
                // Health is no lane-set input.
                let c = &mut g.players[seat as usize].board[slot as usize];
                c.health = (c.health + n as i16).min(c.max_health).max(c.health);
            }
        }
        Effect::Buff(t, a, h) => {
            let (list, len) = targets(g, t, ctx);
            for &(seat, slot) in &list[..len] {
                let c = g.players[seat as usize].lane_mut(slot as usize);
                c.attack = (c.attack + a as i16).max(0);
                c.max_health += h as i16;
                c.health += h as i16;
                if h < 0 {
                    q.maybe_dead |= lane_bit(seat as usize, slot as usize);
                }
            }
        }
        Effect::Draw(n) => {
            for _ in 0..n {
                g.players[me].draw();
            }
        }
        Effect::Destroy(t) => {
            let (list, len) = targets(g, t, ctx);
            for &(seat, slot) in &list[..len] {
                // No lane-set input (see `strike`).
                g.players[seat as usize].board[slot as usize].flags |= F_DOOMED;
                q.maybe_dead |= lane_bit(seat as usize, slot as usize);
            }
        }
        Effect::Summon(card, count) => {
            for _ in 0..count {
                let Some(slot) = (0..LANES).find(|&s| !g.players[me].board[s].present()) else { break };
                let uid = g.next_uid;
                g.next_uid = g.next_uid.wrapping_add(1).max(1);
                g.players[me].summon(slot, card, uid);
            }
        }
        Effect::Grant(t, k) => {
            let (list, len) = targets(g, t, ctx);
            for &(seat, slot) in &list[..len] {
                let c = g.players[seat as usize].lane_mut(slot as usize);
                c.keywords = c.keywords.union(k);
                c.suppressed = c.suppressed.minus(k);
            }
        }
        Effect::Remove(t, k) => {
            let (list, len) = targets(g, t, ctx);
            for &(seat, slot) in &list[..len] {
                let c = g.players[seat as usize].lane_mut(slot as usize);
                c.keywords = c.keywords.minus(k);
                c.suppressed = c.suppressed.union(k);
            }
        }
        Effect::Silence(t) => {
            let (list, len) = targets(g, t, ctx);
            for &(seat, slot) in &list[..len] {
                let c = g.players[seat as usize].lane_mut(slot as usize);
                c.keywords = Keywords::NONE;
                c.suppressed = Keywords::ALL;
                c.flags |= F_SILENCED;
            }
        }
        Effect::GainEssence(n) => {
            let p = &mut g.players[me];
            p.essence = (p.essence + n).min(MAX_ESSENCE).max(p.essence);
        }
        Effect::ReturnToHand(t) => {
            let (list, len) = targets(g, t, ctx);
            for &(seat, slot) in &list[..len] {
                let p = &mut g.players[seat as usize];
                let c = p.board[slot as usize];
                p.clear_lane(slot as usize);
                if cards::card(c.card).rarity != cards::Rarity::Token {
                    p.add_to_hand(c.card);
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
