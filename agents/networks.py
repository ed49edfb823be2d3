"""Networks shared by the agents: the masked actor-critic MLP and the running
observation normaliser.

The observation (326 floats, ``docs/OBSERVATION.md``) is always from the
perspective of the player to move, so one network plays both seats and its
value is "how good is this for the player to move".
"""

from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Categorical

OBS_SIZE = 326
NUM_ACTIONS = 256

# A large negative logit rather than -inf: softmax gives exactly 0 probability
# in float32 (exp(-1e9 - max) underflows), while entropy and log-prob stay
# finite (0 * -1e9 = 0, whereas 0 * -inf = nan).
MASKED_LOGIT = -1e9


class RunningMeanStd(nn.Module):
    """Running mean and variance of the observations (Chan et al.'s parallel
    update), kept as buffers so they travel with ``state_dict``.

    ``normalize(x)`` gives ``clip((x - mean) / sqrt(var + eps), -clip, clip)``.
    The statistics change only through :meth:`update` (called by the trainer on
    each rollout), never during inference.
    """

    def __init__(self, size: int = OBS_SIZE, clip: float = 10.0, epsilon: float = 1e-8):
        super().__init__()
        self.register_buffer("mean", torch.zeros(size, dtype=torch.float64))
        self.register_buffer("var", torch.ones(size, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))
        self.clip = clip
        self.epsilon = epsilon

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        x = x.reshape(-1, self.mean.shape[0]).to(torch.float64)
        batch_mean = x.mean(0)
        batch_var = x.var(0, unbiased=False)
        batch_count = x.shape[0]
        delta = batch_mean - self.mean
        total = self.count + batch_count
        new_mean = self.mean + delta * batch_count / total
        m2 = self.var * self.count + batch_var * batch_count + delta.pow(2) * self.count * batch_count / total
        self.mean.copy_(new_mean)
        self.var.copy_(m2 / total)
        self.count.copy_(total)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean = self.mean.to(x.dtype)
        std = torch.sqrt(self.var + self.epsilon).to(x.dtype)
        return torch.clamp((x - mean) / std, -self.clip, self.clip)


def layer_init(layer: nn.Linear, std: float = np.sqrt(2), bias_const: float = 0.0) -> nn.Linear:
    """Orthogonal weights, constant bias (the PPO implementation-details default)."""
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


def masked_logits(logits: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """Logits with every illegal action set to :data:`MASKED_LOGIT`."""
    return torch.where(action_mask.bool(), logits, torch.full_like(logits, MASKED_LOGIT))


def masked_entropy(logits: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
    """Entropy of the masked distribution, summed over legal actions only.

    ``logits`` must already be masked. Illegal actions have probability 0 and
    contribute nothing (written out so that no ``0 * -1e9`` term can leak).
    """
    logp = torch.log_softmax(logits, dim=-1)
    p = logp.exp()
    return -torch.where(action_mask.bool(), p * logp, torch.zeros_like(p)).sum(-1)


# Entities an action can name, as rows of a per-position table: 10 hand cards,
# 5 own lanes, 5 enemy lanes, 5 own lanes again (an ability's own-creature
# target, projected with its own weights), 2 own support slots, and "nothing".
_HAND, _MY, _ENEMY, _OWN2, _SUP, _NONE = 0, 10, 15, 20, 25, 27


def action_feature_tables() -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """What each action is about (docs/GAME.md's action table).

    Returns ``(actions, entities, constants)``: the action ids that can ever
    be legal (0..134 and 255), for each the 5 entities it names ``[A, 5]``
    (hand card, own lane, enemy lane, own target lane, support slot; an entity
    index into the table above, ``_NONE`` when absent), and constant features
    ``[A, 8]`` (action type and target kind, one-hot).
    """
    actions = list(range(135)) + [255]
    entities = torch.full((len(actions), 5), _NONE, dtype=torch.long)
    const = torch.zeros(len(actions), 8)
    for row, a in enumerate(actions):
        if a < 50:  # play hand card h at own slot / enemy target / support slot t
            h, t = divmod(a, 5)
            entities[row, 0], entities[row, 1], entities[row, 2] = _HAND + h, _MY + t, _ENEMY + t
            if t < 2:
                entities[row, 4] = _SUP + t
            const[row, 0] = 1
        elif a < 75:  # attack: own slot att into enemy slot d
            att, d = divmod(a - 50, 5)
            entities[row, 1], entities[row, 2] = _MY + att, _ENEMY + d
            const[row, 1] = 1
        elif a < 135:  # ability of own creature s with target u
            s, u = divmod(a - 75, 12)
            entities[row, 1] = _MY + s
            if 1 <= u <= 5:
                entities[row, 2] = _ENEMY + u - 1
                const[row, 5] = 1
            elif 6 <= u <= 10:
                entities[row, 3] = _OWN2 + u - 6
                const[row, 6] = 1
            else:
                const[row, 4 if u == 0 else 7] = 1
            const[row, 2] = 1
        else:  # end turn
            const[row, 3] = 1
    return torch.tensor(actions), entities, const


class _EntityHead(nn.Module):
    """What both action heads share: one projection per entity kind (hand
    card, own lane, enemy lane, own target lane, support slot), shared by
    every hand position and lane, plus projections of the action's type and
    of the actor's embedding. :meth:`entity_table` projects the 27 entities
    of each position once (row 27 is "nothing", all zeros)."""

    def __init__(self, hidden: int, width: int):
        super().__init__()
        actions, entities, const = action_feature_tables()
        self.register_buffer("actions", actions, persistent=False)
        self.register_buffer("entities", entities, persistent=False)
        self.register_buffer("const", const, persistent=False)
        self.width = width
        self.hand = layer_init(nn.Linear(5, width))
        self.my_lane = layer_init(nn.Linear(19, width))
        self.enemy_lane = layer_init(nn.Linear(19, width))
        self.own_target = layer_init(nn.Linear(19, width))
        self.support = layer_init(nn.Linear(5, width))
        self.kind = layer_init(nn.Linear(const.shape[1], width))
        self.emb = layer_init(nn.Linear(hidden, width))

    def entity_table(self, obs: torch.Tensor) -> torch.Tensor:
        """``[N, 28, W]``: the projected entities of each position."""
        n = obs.shape[0]
        my = obs[:, 116:211].reshape(n, 5, 19)
        return torch.cat([
            self.hand(obs[:, 16:66].reshape(n, 10, 5)),
            self.my_lane(my),
            self.enemy_lane(obs[:, 211:306].reshape(n, 5, 19)),
            self.own_target(my),
            self.support(obs[:, 306:316].reshape(n, 2, 5)),
            obs.new_zeros(n, 1, self.width),
        ], dim=1)


class ActionFeatureHead(_EntityHead):
    """Adds to each action's logit a score of what the action is about.

    ``score(a) = w . tanh(sum of projections of the entities a names (a hand
    card, lanes, a support slot) + a projection of its type + W_e emb)``, with
    ``emb`` the actor's last hidden layer. One projection per entity kind is
    shared by every hand position and lane, so what is learned about "attack
    a 3/2 into a 1/1" holds in every lane. Entities are projected once per
    position (27 per observation), then summed per action: cheap.
    """

    def __init__(self, hidden: int, width: int = 64):
        super().__init__(hidden, width)
        # The sum over an action's entities as one matmul: [A, 28] 0/1 (a
        # gather's backward is a slow scatter on the CPU; a matmul is not).
        entities = self.entities
        select = torch.zeros(len(self.actions), _NONE + 1)
        for k in range(entities.shape[1]):
            select[torch.arange(len(self.actions)), entities[:, k]] += 1
        select[:, _NONE] = 0
        self.register_buffer("select", select, persistent=False)
        self.out = layer_init(nn.Linear(width, 1), std=0.01)

    def forward(self, obs: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        n = obs.shape[0]
        table = self.entity_table(obs)  # [N, 28, W]
        h = torch.matmul(self.select, table) + self.kind(self.const)[None] + self.emb(emb)[:, None, :]  # [N, A, W]
        scores = self.out(torch.tanh(h)).squeeze(-1)  # [N, A]
        return obs.new_zeros(n, NUM_ACTIONS).index_copy(1, self.actions, scores)


class LegalActionHead(_EntityHead):
    """A two-layer MLP score for each *legal* action, over what the action names.

    Like :class:`ActionFeatureHead`, the first layer is a sum of projections
    of the entities an action names, of its type and of the actor's
    embedding; then a second hidden layer, so interactions such as "this
    attacker against that defender" are modelled beyond one additive layer.
    It scores only the legal (position, action) pairs (7.7 of 136 candidates
    on average in greedy play), which makes the deeper head cheaper than
    scoring all 136.
    """

    def __init__(self, hidden: int, width: int = 64):
        super().__init__(hidden, width)
        row_of = torch.full((NUM_ACTIONS,), -1, dtype=torch.long)
        row_of[self.actions] = torch.arange(len(self.actions))
        self.register_buffer("row_of", row_of, persistent=False)
        self.fc2 = layer_init(nn.Linear(width, width))
        self.out = layer_init(nn.Linear(width, 1), std=0.01)

    def forward(self, obs: torch.Tensor, emb: torch.Tensor, action_mask: torch.Tensor = None) -> torch.Tensor:
        n = obs.shape[0]
        table = self.entity_table(obs).reshape(n * (_NONE + 1), self.width)  # [N * 28, W]
        if action_mask is None:
            action_mask = torch.zeros(n, NUM_ACTIONS, dtype=torch.bool, device=obs.device)
            action_mask[:, self.actions] = True
        candidates = action_mask.bool() & (self.row_of >= 0)[None]
        pos, act = candidates.nonzero(as_tuple=True)  # the legal (position, action) pairs
        rows = self.row_of[act]
        ent = self.entities[rows] + (pos * (_NONE + 1))[:, None]  # [P, 5] rows of the flat table
        h = table.index_select(0, ent.reshape(-1)).reshape(-1, ent.shape[1], self.width).sum(1)
        h = h + self.kind(self.const)[rows] + self.emb(emb)[pos]
        scores = self.out(torch.tanh(self.fc2(torch.tanh(h)))).squeeze(-1)
        logits = obs.new_zeros(n, NUM_ACTIONS)
        return logits.index_put((pos, act), scores)


def chosen_afterstate_rows(masks: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """Index of the row of the action taken, for each position, in the stored afterstates of ``masks``
    (the block layout of :func:`afterstate_rows`: one block per position, its legal actions ascending).
    Every action must be legal in its position."""
    masks = masks.bool()
    counts = masks.sum(1)
    starts = torch.cumsum(counts, 0) - counts
    rank = masks.cumsum(1).gather(1, actions.long().reshape(-1, 1)).squeeze(1) - 1
    return starts + rank


def afterstate_rows(counts: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """Indices of the afterstate rows of positions ``rows``, in order.

    The afterstates of a set of positions are stored as one block per
    position (``counts[i]`` rows for position i, its legal actions in
    ascending order), blocks one after another. This returns, for the
    positions ``rows`` (in that order), the indices of their rows in the
    stored array, so ``after[afterstate_rows(counts, rows)]`` is laid out
    like the legal entries of ``masks[rows]`` read row by row.
    """
    counts = counts.long()
    starts = torch.cumsum(counts, 0) - counts
    c = counts[rows]
    total = int(c.sum())
    if total == 0:
        return torch.zeros(0, dtype=torch.long)
    base = torch.repeat_interleave(starts[rows] - (torch.cumsum(c, 0) - c), c)
    return base + torch.arange(total)


class AfterstateHead(nn.Module):
    """Scores each legal action by the position it leads to.

    The engine applies each legal action to a copy of the game and observes
    the result from the mover's seat (``Batch.afterstates``: the same
    one-ply look the greedy bot takes, without any search beyond it). This
    head reads each such observation (normalised like the current one),
    plus the action's immediate result (+1 won, -1 lost, 0 otherwise), and
    outputs one score per legal action: a learned evaluation of where each
    action leads, which a current-observation MLP has to infer from the
    action's index. Costs one small MLP pass per legal action (7.7 per
    position on average).

    With ``value=True`` the head also has a value output on the same hidden
    features (:meth:`values`): an estimate of the mover's return after the
    action, which PPO can train with the return of the action actually taken
    (``--afterstate-value-coef``). That is dense supervised signal for the
    features the scores are read from, where the scores alone only get the
    policy gradient.
    """

    def __init__(self, width: int = 128, value: bool = False):
        super().__init__()
        self.width = width
        self.net = nn.Sequential(
            layer_init(nn.Linear(OBS_SIZE + 1, width)), nn.Tanh(),
            layer_init(nn.Linear(width, width)), nn.Tanh(),
            layer_init(nn.Linear(width, 1), std=0.01),
        )
        self.value_out = layer_init(nn.Linear(width, 1), std=1.0) if value else None

    def values(self, x_after: torch.Tensor, result: torch.Tensor) -> torch.Tensor:
        """[R] value estimates of the normalised afterstates ``x_after`` [R, 326] (needs ``value=True``)."""
        if self.value_out is None:
            raise ValueError("this afterstate head has no value output (built with value=False)")
        hidden = self.net[:-1](torch.cat([x_after, result.reshape(-1, 1).to(x_after.dtype)], 1))
        return self.value_out(hidden).squeeze(-1)

    def forward(self, x_after: torch.Tensor, result: torch.Tensor, action_mask: torch.Tensor) -> torch.Tensor:
        """``x_after`` [R, 326] normalised afterstates, ``result`` [R], ``action_mask`` [N, 256] with R legal
        entries; returns [N, 256] scores (0 off the legal entries)."""
        pos, act = action_mask.bool().nonzero(as_tuple=True)
        if pos.numel() != x_after.shape[0]:
            raise ValueError(f"{x_after.shape[0]} afterstate rows for {pos.numel()} legal actions")
        scores = self.net(torch.cat([x_after, result.reshape(-1, 1).to(x_after.dtype)], 1)).squeeze(-1)
        return x_after.new_zeros(action_mask.shape[0], NUM_ACTIONS).index_put((pos, act), scores)


class ActorCritic(nn.Module):
    """Separate actor and critic MLPs over the normalised observation.

    ``hidden`` units in each of ``layers`` tanh layers. The actor outputs one
    logit per action (256); illegal actions are masked before sampling.
    With ``afterstate`` > 0, an :class:`AfterstateHead` of that width adds its
    score to each legal action's logit; the network then needs the
    afterstates (``after=(obs [R,326], result [R])``) wherever it computes
    logits.
    """

    def __init__(self, hidden: int = 256, layers: int = 2, action_features: bool = False, action_mlp: bool = False,
                 afterstate: int = 0, afterstate_value: bool = False):
        super().__init__()
        if action_features and action_mlp:
            raise ValueError("choose one action head: action_features or action_mlp")
        self.hidden = hidden
        self.layers = layers
        self.action_features = action_features
        self.action_mlp = action_mlp
        self.afterstate = int(afterstate)
        if afterstate_value and not self.afterstate:
            raise ValueError("afterstate_value needs the afterstate head (afterstate > 0)")
        self.afterstate_value = bool(afterstate_value)
        self.obs_rms = RunningMeanStd(OBS_SIZE)

        def trunk() -> list:
            mods, width = [], OBS_SIZE
            for _ in range(layers):
                mods += [layer_init(nn.Linear(width, hidden)), nn.Tanh()]
                width = hidden
            return mods

        self.critic = nn.Sequential(*trunk(), layer_init(nn.Linear(hidden, 1), std=1.0))
        self.actor_trunk = nn.Sequential(*trunk())
        self.actor_out = layer_init(nn.Linear(hidden, NUM_ACTIONS), std=0.01)
        self.action_head = ActionFeatureHead(hidden) if action_features else None
        self.legal_head = LegalActionHead(hidden) if action_mlp else None
        self.after_head = AfterstateHead(self.afterstate, self.afterstate_value) if self.afterstate else None

    def constructor_args(self) -> dict:
        """The arguments that rebuild this network (stored in checkpoints)."""
        return {"hidden": self.hidden, "layers": self.layers, "action_features": self.action_features,
                "action_mlp": self.action_mlp, "afterstate": self.afterstate,
                "afterstate_value": self.afterstate_value}

    def actor_logits(self, obs: torch.Tensor, x: torch.Tensor, action_mask: torch.Tensor = None,
                     after: Optional[Tuple[torch.Tensor, torch.Tensor]] = None) -> torch.Tensor:
        """Unmasked logits from the raw observation ``obs`` and its normalised form ``x``.

        With the legal-action head, only the actions set in ``action_mask``
        get its score (the others keep the trunk's logit; they are masked
        anyway); without a mask it scores every action that can ever be legal.
        With the afterstate head, ``after`` holds the afterstates of the legal
        entries of ``action_mask`` read row by row (see :func:`afterstate_rows`).
        """
        emb = self.actor_trunk(x)
        logits = self.actor_out(emb)
        if self.action_head is not None:
            logits = logits + self.action_head(obs, emb)
        if self.legal_head is not None:
            logits = logits + self.legal_head(obs, emb, action_mask)
        if self.after_head is not None:
            if after is None or action_mask is None:
                raise ValueError("this network scores afterstates: pass action_mask and after=(obs, result) "
                                 "from Batch.afterstates / Game.afterstates")
            logits = logits + self.after_head(self.obs_rms.normalize(after[0]), after[1], action_mask)
        return logits

    def get_value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(self.obs_rms.normalize(obs)).squeeze(-1)

    def get_logits(self, obs: torch.Tensor, action_mask: torch.Tensor,
                   after: Optional[Tuple[torch.Tensor, torch.Tensor]] = None) -> torch.Tensor:
        """Masked logits: illegal actions at :data:`MASKED_LOGIT`."""
        return masked_logits(self.actor_logits(obs, self.obs_rms.normalize(obs), action_mask, after), action_mask)

    def get_action_and_value(
        self, obs: torch.Tensor, action_mask: torch.Tensor, action: torch.Tensor = None,
        after: Optional[Tuple[torch.Tensor, torch.Tensor]] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(action, log-prob, entropy over legal actions, value); samples when
        ``action`` is None, else scores the given actions."""
        x = self.obs_rms.normalize(obs)
        logits = masked_logits(self.actor_logits(obs, x, action_mask, after), action_mask)
        dist = Categorical(logits=logits)
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), masked_entropy(logits, action_mask), self.critic(x).squeeze(-1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, action_mask: torch.Tensor, deterministic: bool = False,
            after: Optional[Tuple[torch.Tensor, torch.Tensor]] = None) -> torch.Tensor:
        """Actions only (no value): sampled, or the most likely legal one."""
        logits = self.get_logits(obs, action_mask, after)
        if deterministic:
            return logits.argmax(-1)
        return Categorical(logits=logits).sample()
