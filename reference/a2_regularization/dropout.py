"""Reference oracle for a2_regularization's dropout: inverted dropout with a given mask.

Forward values only (float64 torch); autograd supplies the backward. Dropout is random, so its
oracle takes the mask (recovered by the checker from the student's own output) as an argument.
"""

from __future__ import annotations

import torch


def dropout(x: torch.Tensor, mask: torch.Tensor, p: float, mode: str = "train") -> torch.Tensor:
    """Inverted dropout with the given 0/1 mask: ``x * mask / p`` in training, ``x`` in test mode."""
    if mode == "test":
        return x * 1.0
    return x * mask.to(x.dtype) / p
