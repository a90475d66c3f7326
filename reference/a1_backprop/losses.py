"""Reference losses for a1_backprop: each returns a 0-d tensor; autograd supplies the gradient."""

import torch
import torch.nn.functional as F


def softmax(x: torch.Tensor) -> torch.Tensor:
    """Row-wise softmax of logits x (N, C); torch shifts by the row max, so it is stable."""
    return torch.softmax(x, dim=1)


def log_softmax(x: torch.Tensor) -> torch.Tensor:
    """Row-wise log-softmax of logits x (N, C), computed stably by torch."""
    return torch.log_softmax(x, dim=1)


def softmax_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of logits x (N, C) against integer labels y (N,)."""
    return F.cross_entropy(x, y, reduction="mean")


def cross_entropy_loss(x: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """Mean over N of -sum_c p[n, c] * log_softmax(x)[n, c] for a target distribution p (N, C)."""
    return -(p * log_softmax(x)).sum(dim=1).mean()


def svm_loss(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Multiclass hinge: mean over N of sum_{j != y[n]} max(0, x[n, j] - x[n, y[n]] + 1)."""
    correct_scores = x.gather(1, y[:, None])
    # relu, not clamp: a margin of exactly 0 is inactive (derivative 0), the solution's convention.
    margins = torch.relu(x - correct_scores + 1.0)
    # The correct class would add a constant margin of 1 per row; it is not part of the loss.
    is_correct = F.one_hot(y, num_classes=x.shape[1]).bool()
    margins = margins.masked_fill(is_correct, 0.0)
    return margins.sum() / x.shape[0]


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of (pred - target)**2 over all elements."""
    return ((pred - target) ** 2).mean()


def l1_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean of |pred - target| over all elements (torch.abs has derivative 0 where equal)."""
    return (pred - target).abs().mean()


def huber_loss(pred: torch.Tensor, target: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """Mean of 0.5*r**2 for |r| <= delta, delta*(|r| - 0.5*delta) beyond; r = pred - target."""
    r = pred - target
    abs_r = r.abs()
    # Both branches are finite everywhere, so torch.where's gradient through the unused one is 0.
    per_element = torch.where(abs_r <= delta, 0.5 * r**2, delta * (abs_r - 0.5 * delta))
    return per_element.mean()


def l2_regularization(w: torch.Tensor, reg: float) -> torch.Tensor:
    """Weight decay penalty 0.5 * reg * sum(w**2)."""
    return 0.5 * reg * (w**2).sum()
