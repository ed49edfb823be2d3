"""Gymnasium environment: one agent against a built-in bot, a Python policy, or itself.

>>> import gymnasium as gym
>>> import essence_wars.env  # registers "EssenceWars-v0"
>>> env = gym.make("EssenceWars-v0", opponent="greedy", agent_seat="random")
>>> obs, info = env.reset(seed=0)
>>> obs, reward, terminated, truncated, info = env.step(255)  # end the turn

Spaces
    ``observation_space``: ``Dict(observation=Box(-OBS_BOUND, OBS_BOUND, (326,),
    float32), action_mask=Box(0, 1, (256,), int8))``. The observation is the
    engine's 326 floats (``docs/OBSERVATION.md``), always from the agent's
    seat. Values sit in roughly [0, 1]; buffed stats and overkill damage can
    leave that range, so the Box bound is the one no 16-bit engine field can
    exceed (``OBS_BOUND`` = 2**15 / 3), not [0, 1].
    ``action_space``: ``Discrete(256)``. The legal actions are the 1s of
    ``obs["action_mask"]``, of ``info["action_mask"]`` (bool) and of
    :meth:`EssenceWarsEnv.action_masks` (bool; the method sb3-contrib's
    ``MaskablePPO`` calls).

Turns and opponents
    A turn is several actions ended by ``END_TURN`` (255). The opponent
    (``"random"`` by default, ``"greedy"``, ``"mcts"``/``"mcts-N"``/``"mcts-N-greedy"``,
    or any callable ``policy(observation, action_mask) -> action``) plays its
    whole turn inside :meth:`~EssenceWarsEnv.step`, so every observation
    returned is the agent's, until the game ends. With ``opponent=None``
    (self-play) the caller plays both seats: each step is one action of the
    player to move, ``info["current_player"]`` says whose move is next, and
    the reward is for the player who just acted.

Rewards
    +1 win, -1 loss, 0 draw and on every step that does not end the game,
    from the agent's seat (self-play: the seat that acted). The final
    observation is also from that seat.

Illegal actions (``illegal_action``)
    ``"lose"`` (the default): an illegal action ends the episode as a loss,
    reward -1, ``info["illegal_action"] = True``. ``"raise"``: ``step``
    raises :class:`essence_wars.core.IllegalActionError` (a ``ValueError``)
    naming the action and how many actions are legal, and the env is
    unchanged. The default is ``"lose"`` because Gymnasium's ``check_env``
    (and any code written for plain ``Discrete`` spaces) steps with
    ``action_space.sample()``, which ignores the mask: under ``"raise"`` such
    code crashes, under ``"lose"`` it gets a well-defined episode. Either way
    an action outside 0..255, or of a non-integer type, raises.

Seeding
    ``reset(seed=s)`` seeds ``self.np_random``, which then draws, in this
    order, the agent's seat (``agent_seat="random"``), the two decks
    (``"random"`` decks) and the 64-bit game seed; the engine derives the
    opponent bot's seed from the game seed. The same seed gives the same
    episode for the same actions; ``reset()`` without a seed continues the
    generator, so consecutive episodes differ. A callable opponent is called
    as it is: seed it yourself if it is random.

Termination and truncation
    The game has its own turn limit (30 player-turns), so every episode
    terminates: ``truncated`` is always False, unless ``max_steps`` is given,
    in which case an episode that reaches ``max_steps`` agent steps without
    ending is truncated.

Info keys
    ``action_mask`` (bool [256]), ``turn``, ``current_player``,
    ``illegal_action`` (step only), ``agent_seat`` (with an opponent), and
    when the game ends ``winner`` (0, 1, or -1 for a draw).

Engine
    The env drives a one-game :class:`essence_wars.core.Batch`: one native
    call applies the agent's action, lets a built-in bot play its turn, and
    writes the observation and the mask into buffers allocated once.

Registration
    Importing this module registers ``"EssenceWars-v0"`` (``gymnasium.make``
    and ``gymnasium.make_vec`` with ``vectorization_mode="sync"`` or
    ``"async"``). ``gymnasium.make("essence_wars.env:EssenceWars-v0")`` works
    without importing anything first. See :func:`make_vector_env` for the
    shared-memory vector env hook.
"""

from __future__ import annotations

import operator
import re
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.error import ClosedEnvironmentError, ResetNeeded

from essence_wars import core

__all__ = ["ENV_ID", "EssenceWarsEnv", "make_vector_env", "register_envs", "observe_as", "Policy"]

#: The id registered with Gymnasium.
ENV_ID = "EssenceWars-v0"

#: A Python opponent: ``policy(observation, action_mask) -> action``, given the
#: opponent's float32 [326] observation and int8 [256] mask (the same arrays an
#: agent gets, so a frozen copy of an agent's policy can be plugged in). A
#: policy with ``needs_game = True`` is instead asked
#: ``policy.act_in_batch(batch, [0])`` on the env's one-game ``core.Batch``.
Policy = Callable[[np.ndarray, np.ndarray], int]
DeckSpec = Union[str, Sequence[int]]

MODES = ("attrition", "essence_duel")
ILLEGAL_MODES = ("lose", "raise")
RANDOM = "random"
_BOT_RE = re.compile(r"^mcts-(\d+)(?:-(random|greedy))?(?:-det)?$")
_OPPONENT_HELP = (
    "'random', 'greedy', 'mcts' (with opponent_simulations), 'mcts-N', 'mcts-N-greedy', "
    "either MCTS form with '-det' (it does not see the deck order), "
    "a callable policy(observation, action_mask) -> action, or None for self-play"
)
_SEED_BOUND = 1 << 63  # np.random.Generator.integers' exclusive upper bound for int64
_TURN_LIMIT = 30.0  # observation offset 0 is turn / 30 (OBSERVATION.md, version 1)
#: Bound of the observation Box. Every feature is an engine field of at most 16
#: signed bits divided by a scale of at least 3 (OBSERVATION.md), so no reachable
#: value exceeds 2**15 / 3 in magnitude; in play they stay within about [-1, 2].
OBS_BOUND = float(2**15) / 3.0


# ---------------------------------------------------------------------------
# Observing from a seat that is not to move.

def observe_as(game: core.Game, seat: int, out: Optional[np.ndarray] = None) -> np.ndarray:
    """The observation of ``game`` from ``seat``'s side, whoever is to move
    (the final observation of an agent whose opponent ended the game, or a
    PettingZoo agent waiting for its turn)."""
    if game.current_player() == seat:
        return game.observe(out)
    return game.observe(out, seat=seat)


# ---------------------------------------------------------------------------
# Argument checks, shared with the PettingZoo envs.


def check_deck(deck: Any, what: str) -> Union[str, Tuple[int, ...]]:
    """A deck spec as ``"random"``, a preset name, or a tuple of 30 card ids; clear errors otherwise."""
    if isinstance(deck, str):
        if deck.strip().lower() == RANDOM:
            return RANDOM
        try:
            core.deck_cards(deck)
        except core.UnknownDeckError as e:
            raise core.UnknownDeckError(f"{what}: {e}") from None
        return deck
    if isinstance(deck, (bytes, bytearray)) or not hasattr(deck, "__iter__"):
        raise TypeError(
            f"{what} must be a preset deck name {core.list_decks()}, 'random', or a list of "
            f"{core.DECK_SIZE} card ids, got {type(deck).__name__}"
        )
    ids = []
    for x in deck:
        if isinstance(x, (bool, np.bool_)):
            raise TypeError(f"{what}: card ids must be integers, got bool")
        try:
            ids.append(operator.index(x))
        except TypeError:
            raise TypeError(f"{what}: card ids must be integers, got {type(x).__name__} {x!r}") from None
    try:  # the engine checks the deck-building rules; it says what is wrong
        core.Game(seed=0, deck0=ids, deck1=core.list_decks()[0]).close()
    except (core.InvalidDeckError, core.UnknownCardError) as e:
        raise type(e)(f"{what}: {str(e).replace('deck0: ', '')}") from None
    return tuple(ids)


def check_mode(mode: Any) -> str:
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def check_seat(seat: Any, what: str = "agent_seat", allow_random: bool = True) -> Union[int, str]:
    if allow_random and isinstance(seat, str) and seat == RANDOM:
        return RANDOM
    if isinstance(seat, (bool, np.bool_)) or not isinstance(seat, (int, np.integer)) or int(seat) not in (0, 1):
        also = " or 'random'" if allow_random else ""
        raise ValueError(f"{what} must be 0, 1{also}, got {seat!r}")
    return int(seat)


def check_illegal(illegal_action: Any) -> str:
    if illegal_action not in ILLEGAL_MODES:
        raise ValueError(f"illegal_action must be 'lose' or 'raise', got {illegal_action!r}")
    return illegal_action


def check_render_mode(render_mode: Any, modes: Sequence[str]) -> Optional[str]:
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"render_mode must be None or one of {list(modes)}, got {render_mode!r}")
    return render_mode


def bot_name(name: str) -> Optional[str]:
    """``name`` trimmed and lower-cased if it names a built-in bot the engine accepts (``random``,
    ``greedy``, ``mcts-N`` with N in 1..2**32-1, optionally ``-random`` or ``-greedy``, then optionally
    ``-det``), else None. The single env and the vector env both check opponents with it."""
    name = name.strip().lower()
    if name in ("random", "greedy"):
        return name
    m = _BOT_RE.match(name)
    return name if m and 1 <= int(m.group(1)) <= 0xFFFFFFFF else None


def parse_opponent(opponent: Any, simulations: Any = 100) -> Tuple[Optional[str], Optional[Policy], str]:
    """``(bot name for the engine or None, Python policy or None, label)``."""
    if opponent is None:
        return None, None, "self-play"
    if isinstance(opponent, str):
        name = opponent.strip().lower()
        if name == "mcts":
            if isinstance(simulations, (bool, np.bool_)) or not isinstance(simulations, (int, np.integer)):
                raise TypeError(f"opponent_simulations must be an integer, got {type(simulations).__name__}")
            if not 1 <= int(simulations) <= 0xFFFFFFFF:
                raise ValueError(f"opponent_simulations must be in 1..4294967295, got {simulations}")
            name = f"mcts-{int(simulations)}"
            return name, None, name
        if bot_name(name):
            return name, None, name
        raise ValueError(f"unknown opponent {opponent!r}; valid opponents: {_OPPONENT_HELP}")
    if callable(opponent):
        return None, opponent, getattr(opponent, "__name__", type(opponent).__name__)
    raise TypeError(f"opponent must be {_OPPONENT_HELP}; got {type(opponent).__name__}")


def action_index(action: Any) -> int:
    """An action as a Python int in 0..255, or a TypeError/ValueError saying what is wrong."""
    kind = type(action)
    if kind is int or kind is np.int64:
        a = int(action)
    elif isinstance(action, (bool, np.bool_)):
        raise TypeError(f"action must be an integer in 0..255, got bool {action!r}")
    elif isinstance(action, (int, np.integer)):
        a = int(action)
    elif isinstance(action, np.ndarray):
        if action.shape != ():
            raise ValueError(f"action must be a scalar integer in 0..255, got an array of shape {action.shape}")
        if action.dtype.kind not in "iu":
            raise TypeError(f"action must be an integer in 0..255, got a 0-d array of dtype {action.dtype}")
        a = int(action)
    else:
        raise TypeError(f"action must be an integer in 0..255, got {kind.__name__} {action!r}")
    if not 0 <= a <= 255:
        raise ValueError(f"action {a} is out of range: the action space is Discrete(256), actions 0..255")
    return a


def pick_deck(spec: Union[str, Tuple[int, ...]], rng: np.random.Generator) -> Union[str, Tuple[int, ...]]:
    if spec == RANDOM:
        decks = core.list_decks()
        return decks[int(rng.integers(len(decks)))]
    return spec


def illegal_message(action: int, num_legal: int) -> str:
    return (
        f"action {action} ({core.describe_action(action)}) is not legal now; {num_legal} action(s) are "
        "legal (see obs['action_mask'], info['action_mask'] or action_masks())"
    )


def observation_space() -> spaces.Dict:
    """The observation space shared by the Gymnasium and PettingZoo envs."""
    return spaces.Dict(
        {
            "observation": spaces.Box(-OBS_BOUND, OBS_BOUND, shape=(core.OBS_SIZE,), dtype=np.float32),
            "action_mask": spaces.Box(0, 1, shape=(core.NUM_ACTIONS,), dtype=np.int8),
        }
    )


# ---------------------------------------------------------------------------
# The environment.

_NOT_STARTED, _RUNNING, _OVER, _CLOSED = range(4)


class EssenceWarsEnv(gym.Env):
    """Essence Wars for one agent. See the module docstring for the full contract.

    Args:
        deck: the agent's deck: a preset name (:func:`essence_wars.core.list_decks`),
            a list of 30 card ids, or ``"random"`` (a preset drawn each episode).
        opponent_deck: the other seat's deck, same forms.
        mode: ``"attrition"`` or ``"essence_duel"``.
        opponent: ``"random"``, ``"greedy"``, ``"mcts"`` (``opponent_simulations``
            simulations), ``"mcts-N"``, ``"mcts-N-greedy"``, a callable
            ``policy(observation, action_mask) -> action``, or ``None`` for self-play.
        opponent_simulations: simulations per move of ``opponent="mcts"``.
        agent_seat: 0 (moves first), 1, or ``"random"`` (drawn each episode).
            In self-play it only says which seat gets ``deck``.
        illegal_action: ``"lose"`` (default) or ``"raise"``.
        render_mode: None, ``"ansi"`` (``render()`` returns the table as text) or
            ``"human"`` (printed after every reset and step).
        max_steps: optional limit of agent steps per episode (then ``truncated``).
    """

    metadata = {"render_modes": ["ansi", "human"], "render_fps": 4}

    def __init__(
        self,
        deck: DeckSpec = "argentum_control",
        opponent_deck: DeckSpec = "symbiote_aggro",
        mode: str = "attrition",
        opponent: Union[None, str, Policy] = "random",
        opponent_simulations: int = 100,
        agent_seat: Union[int, str] = 0,
        illegal_action: str = "lose",
        render_mode: Optional[str] = None,
        max_steps: Optional[int] = None,
    ):
        self._state = _CLOSED  # until construction succeeds (close() is then a no-op)
        self._batch: Optional[core.Batch] = None
        self._deck = check_deck(deck, "deck")
        self._opponent_deck = check_deck(opponent_deck, "opponent_deck")
        self._mode = check_mode(mode)
        self._seat_spec = check_seat(agent_seat)
        self._illegal = check_illegal(illegal_action)
        self.render_mode = check_render_mode(render_mode, self.metadata["render_modes"])
        if max_steps is not None:
            if isinstance(max_steps, (bool, np.bool_)) or not isinstance(max_steps, (int, np.integer)) or max_steps < 1:
                raise ValueError(f"max_steps must be None or a positive integer, got {max_steps!r}")
            max_steps = int(max_steps)
        self._max_steps = max_steps
        self._bot, self._policy, self._opponent_label = parse_opponent(opponent, opponent_simulations)
        self._pending_opponent: Optional[Tuple[Optional[str], Optional[Policy], str]] = None

        self.observation_space = observation_space()
        self.action_space = spaces.Discrete(core.NUM_ACTIONS)

        # The engine: one game; a built-in bot plays inside the native step.
        first0 = self._deck if self._deck != RANDOM else core.list_decks()[0]
        first1 = self._opponent_deck if self._opponent_deck != RANDOM else core.list_decks()[0]
        self._batch = core.Batch(
            1, first0, first1, self._mode, opponent=self._bot,
            illegal="error" if self._illegal == "raise" else "lose",
        )
        out = self._batch.output
        # Views of the batch's output row, made once (the step reads them in place).
        self._obs_row = out.obs[0]
        self._mask_row = out.masks[0]
        self._mask_i8 = out.masks[0].view(np.int8)
        self._rewards = out.rewards
        self._terminated = out.terminated
        self._illegal_flags = out.illegal
        self._to_move = out.current_player
        self._acts = self._batch.actions
        self._engine_decks: Tuple[Any, Any] = (first0, first1)
        self._engine_bot = self._bot
        self._engine_seat = 0
        self._seat = 0 if self._seat_spec == RANDOM else self._seat_spec
        self._steps = 0
        self._state = _NOT_STARTED

    # -- public helpers -------------------------------------------------------

    @property
    def opponent(self) -> str:
        """A label of the current opponent (bot name, policy name, or ``"self-play"``)."""
        return self._opponent_label

    @property
    def agent_seat(self) -> int:
        """The agent's seat in the current episode."""
        return self._seat

    def set_opponent(self, opponent: Union[None, str, Policy], opponent_simulations: int = 100) -> None:
        """Swaps the opponent from the next :meth:`reset` on (league training).

        Takes the same forms as the ``opponent`` argument; the episode under
        way keeps its opponent.
        """
        self._check_open()
        self._pending_opponent = parse_opponent(opponent, opponent_simulations)
        if self._state == _NOT_STARTED:
            self._apply_pending_opponent()

    def action_masks(self) -> np.ndarray:
        """The legal actions now as a bool [256] array (the sb3-contrib convention)."""
        self._check_started()
        return self._mask_row.copy()

    # -- Gymnasium API --------------------------------------------------------

    def reset(self, *, seed: Optional[int] = None, options: Optional[dict] = None):
        """Deals a new game. Returns ``(observation, info)``.

        ``options`` may hold ``"agent_seat"`` (0, 1 or ``"random"``) for this
        episode; other keys are refused.
        """
        self._check_open()
        seat_spec = self._seat_spec
        if options:
            unknown = set(options) - {"agent_seat"}
            if unknown:
                raise ValueError(f"unknown reset options {sorted(unknown)}; supported: ['agent_seat']")
            if "agent_seat" in options:
                seat_spec = check_seat(options["agent_seat"])
        super().reset(seed=seed)
        self._apply_pending_opponent()
        rng = self.np_random
        seat = int(rng.integers(2)) if seat_spec == RANDOM else seat_spec
        mine = pick_deck(self._deck, rng)
        theirs = pick_deck(self._opponent_deck, rng)
        game_seed = int(rng.integers(_SEED_BOUND))

        batch = self._batch
        decks = (mine, theirs) if seat == 0 else (theirs, mine)
        if decks != self._engine_decks:
            batch.set_decks(list(decks[0]) if isinstance(decks[0], tuple) else decks[0],
                            list(decks[1]) if isinstance(decks[1], tuple) else decks[1], self._mode)
            self._engine_decks = decks
        if seat != self._engine_seat:
            batch.set_agent_seat(seat)
            self._engine_seat = seat
        if self._bot != self._engine_bot:
            batch.set_opponent(self._bot)
            self._engine_bot = self._bot
        batch.reset(seed=game_seed)
        self._seat = seat
        self._steps = 0
        self._state = _RUNNING
        if self._policy is not None:
            self._play_policy_or_stop()
            if self._terminated.item(0):  # pragma: no cover - a game cannot end in its first turn
                self._state = _OVER
        obs = {"observation": self._obs_row.copy(), "action_mask": self._mask_i8.copy()}
        info = {"action_mask": self._mask_row.copy(), "turn": self._turn(self._obs_row),
                "current_player": self._to_move.item(0)}
        if self._bot is not None or self._policy is not None:
            info["agent_seat"] = seat
        if self.render_mode == "human":
            self.render()
        return obs, info

    def step(self, action):
        """Plays ``action`` for the agent (self-play: for the player to move), then
        lets the opponent play until it is the agent's turn again or the game ends.

        Returns ``(observation, reward, terminated, truncated, info)``.
        """
        if self._state != _RUNNING:
            self._refuse_step()
        a = action_index(action)
        acting = self._to_move.item(0)
        if self._illegal == "raise" and not self._mask_row[a]:
            num_legal = int(np.count_nonzero(self._mask_row))
            raise core.IllegalActionError(illegal_message(a, num_legal), a, num_legal)
        self._acts[0] = a
        self._batch.step(self._acts)
        illegal = bool(self._illegal_flags.item(0))
        policy = self._policy
        if policy is not None and not self._terminated.item(0):
            acting = self._play_policy_or_stop()
        reward = self._rewards.item(0)
        terminated = bool(self._terminated.item(0))
        to_move = self._to_move.item(0)
        # The seat the reward and the final observation are for: the agent's, or
        # in self-play the one that acted.
        if self._bot is None and policy is None:
            seat = acting
        else:
            seat = self._seat
            if acting != seat and reward:
                reward = -reward  # a Python opponent moved last: the engine rewarded it
        self._steps += 1
        truncated = not terminated and self._max_steps is not None and self._steps >= self._max_steps
        if terminated and to_move != seat:
            game = self._batch.game(0)
            try:
                observation = observe_as(game, seat)
            finally:
                game.close()
        else:
            observation = self._obs_row.copy()
        obs = {"observation": observation, "action_mask": self._mask_i8.copy()}
        info = {"action_mask": self._mask_row.copy(), "turn": self._turn(observation),
                "current_player": to_move, "illegal_action": illegal}
        if self._bot is not None or policy is not None:
            info["agent_seat"] = seat
        if terminated:
            info["winner"] = -1 if reward == 0.0 else (seat if reward > 0 else 1 - seat)
            self._state = _OVER
        elif truncated:
            self._state = _OVER
        if self.render_mode == "human":
            self.render()
        return obs, reward, terminated, truncated, info

    def render(self):
        """``"ansi"``: the table as text; ``"human"``: prints it and returns None."""
        self._check_started()
        if self.render_mode is None:
            gym.logger.warn(
                "render() was called without a render_mode; pass render_mode='ansi' or 'human' to the env"
            )
            return None
        game = self._batch.game(0)
        try:
            table = game.render()
        finally:
            game.close()
        if self._bot is None and self._policy is None:
            who = "self-play: the caller plays both seats"
        else:
            who = f"agent: P{self._seat}  opponent: P{1 - self._seat} ({self._opponent_label})"
        text = f"{table.rstrip()}\n{who}\n"
        if self.render_mode == "ansi":
            return text
        print(text, flush=True)
        return None

    def close(self) -> None:
        """Frees the native game. Closing twice is allowed; any other use after close raises."""
        if self._batch is not None:
            self._batch.close()
            self._batch = None
        self._state = _CLOSED

    # -- internals ------------------------------------------------------------

    def _apply_pending_opponent(self) -> None:
        if self._pending_opponent is not None:
            self._bot, self._policy, self._opponent_label = self._pending_opponent
            self._pending_opponent = None

    @staticmethod
    def _turn(observation: np.ndarray) -> int:
        # Offset 0 of the observation is turn / 30 (OBSERVATION.md): no native call needed.
        return round(observation.item(0) * _TURN_LIMIT)

    def _play_policy_or_stop(self) -> int:
        """:meth:`_play_policy`; if the policy fails, the episode cannot go on
        (the opponent is mid-turn), so a reset is required."""
        try:
            return self._play_policy()
        except BaseException:
            self._state = _OVER
            raise

    def _play_policy(self) -> int:
        """Lets the Python opponent move until it is the agent's turn or the game ends.
        Returns the seat that acted last (the agent's if the opponent did not move)."""
        policy, seat = self._policy, self._seat
        acting = seat
        while self._to_move.item(0) != seat and not self._terminated.item(0):
            mask = self._mask_i8.copy()
            if getattr(policy, "needs_game", False):
                # A policy that reads the game itself (agents.checkpoint.AfterstatePolicy).
                choice = policy.act_in_batch(self._batch, [0])[0]
            else:
                choice = policy(self._obs_row.copy(), mask)
            try:
                a = action_index(choice)
            except (TypeError, ValueError) as e:
                raise ValueError(f"the opponent policy {self._opponent_label!r} returned a bad action: {e}") from None
            if not mask[a]:
                raise ValueError(
                    f"the opponent policy {self._opponent_label!r} chose an illegal action: "
                    + illegal_message(a, int(np.count_nonzero(mask)))
                )
            acting = 1 - seat
            self._acts[0] = a
            self._batch.step(self._acts)
        return acting

    def _check_open(self) -> None:
        if self._state == _CLOSED:
            raise ClosedEnvironmentError("this EssenceWarsEnv is closed; create a new one")

    def _check_started(self) -> None:
        self._check_open()
        if self._state == _NOT_STARTED:
            raise ResetNeeded("call reset() before using the environment")

    def _refuse_step(self) -> None:
        self._check_started()
        raise ResetNeeded(
            "the episode is over (terminated, truncated, or stopped by an opponent policy error); "
            "call reset() before step()"
        )


# ---------------------------------------------------------------------------
# Registration.


def make_vector_env(num_envs: int = 1, **kwargs: Any):
    """Gymnasium's ``vector_entry_point``: the shared-memory vector env.

    ``gymnasium.make_vec("EssenceWars-v0", num_envs=N)`` (the default mode,
    or ``vectorization_mode="vector_entry_point"``) returns an
    :class:`essence_wars.vec_env.SharedMemoryVectorEnv`. Gymnasium passes a
    custom vector env its options only as keyword arguments, so the env
    options (``deck``, ``opponent``, ...) and the vector options
    (``num_workers``, ``ring_slots``, ...) go side by side, e.g.
    ``make_vec("EssenceWars-v0", num_envs=64, opponent="greedy", num_workers=2)``.
    ``vectorization_mode="sync"`` or ``"async"`` gives Gymnasium's own classes.
    """
    from essence_wars import vec_env

    kwargs.pop("render_mode", None)  # the vector env does not render
    return vec_env.make(num_envs, **kwargs)


def register_envs() -> None:
    """Registers ``EssenceWars-v0`` with Gymnasium (idempotent)."""
    if ENV_ID not in gym.registry:
        gym.register(
            id=ENV_ID,
            entry_point="essence_wars.env:EssenceWarsEnv",
            nondeterministic=False,
            vector_entry_point="essence_wars.env:make_vector_env",
        )


register_envs()
