"""The AlphaZero policy-value network: a residual MLP.

Input: the 326-float observation (``docs/OBSERVATION.md``), always from the
perspective of the player to move. Outputs: 256 policy logits (the search
takes the softmax over the legal actions itself, so illegal logits need no
masking here) and a value in [-1, 1] for the player to move.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OBS_SIZE = 326
NUM_ACTIONS = 256
MASKED_LOGIT = -1e9


class ResidualBlock(nn.Module):
    """``x + W2 relu(W1 LayerNorm(x))`` (pre-norm)."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(F.relu(self.fc1(self.norm(x))))


class PolicyValueNet(nn.Module):
    """Residual MLP trunk, a policy head (256 logits) and a tanh value head."""

    def __init__(self, width: int = 256, blocks: int = 4):
        super().__init__()
        self.width, self.blocks = width, blocks
        self.stem = nn.Linear(OBS_SIZE, width)
        self.trunk = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)])
        self.norm = nn.LayerNorm(width)
        self.policy = nn.Linear(width, NUM_ACTIONS)
        self.value = nn.Sequential(nn.Linear(width, width // 2), nn.ReLU(), nn.Linear(width // 2, 1))

    def forward(self, obs: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.norm(self.trunk(F.relu(self.stem(obs)))))
        return self.policy(h), torch.tanh(self.value(h)).squeeze(-1)

    def config(self) -> dict:
        return {"width": self.width, "blocks": self.blocks}

    def grown(self, extra_blocks: int) -> "PolicyValueNet":
        """A copy with ``extra_blocks`` more residual blocks at the end of the trunk that start as the
        identity (their output layer is zero, so ``x + 0``): the copy computes exactly what this network
        does, and training can then use the added depth. Growing a trained network this way keeps what it
        learned, where a larger network from scratch would need its whole training schedule again."""
        if extra_blocks < 0:
            raise ValueError(f"extra_blocks must be >= 0, got {extra_blocks}")
        big = PolicyValueNet(self.width, self.blocks + extra_blocks)
        missing, unexpected = big.load_state_dict(self.state_dict(), strict=False)
        assert not unexpected and all(k.startswith("trunk.") for k in missing), (missing, unexpected)
        with torch.no_grad():
            for block in list(big.trunk)[self.blocks:]:
                block.fc2.weight.zero_()
                block.fc2.bias.zero_()
        return big


class Evaluator:
    """Numpy in, numpy out inference for the search (no grad, eval mode)."""

    def __init__(self, net: PolicyValueNet, device: str = "cpu"):
        self.net = net
        self.device = torch.device(device)

    @torch.inference_mode()
    def __call__(self, obs: np.ndarray, masks: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        was_training = self.net.training
        self.net.eval()
        logits, values = self.net(torch.from_numpy(np.ascontiguousarray(obs)).to(self.device))
        if was_training:
            self.net.train()
        return logits.float().cpu().numpy(), values.float().cpu().numpy()
