"""Reference networks for a1_backprop, built from the reference layers and losses."""

import torch

from dlgrade.reference.a1_backprop.layers import affine, relu
from dlgrade.reference.a1_backprop.losses import l2_regularization, softmax_loss


def fully_connected_net(
    X: torch.Tensor,
    params: dict[str, torch.Tensor],
    y: torch.Tensor | None = None,
    reg: float = 0.0,
) -> torch.Tensor:
    """{affine-relu} x (L-1) - affine on W1, b1, ..., WL, bL: scores (N, C), or loss given y."""
    num_layers = sum(1 for key in params if key.startswith("W"))
    if num_layers < 1:
        raise ValueError("params must hold at least W1 and b1")

    hidden = X
    for layer in range(1, num_layers):
        hidden = relu(affine(hidden, params[f"W{layer}"], params[f"b{layer}"]))
    scores = affine(hidden, params[f"W{num_layers}"], params[f"b{num_layers}"])
    if y is None:
        return scores

    loss = softmax_loss(scores, y)
    for layer in range(1, num_layers + 1):
        loss = loss + l2_regularization(params[f"W{layer}"], reg)
    return loss


def two_layer_net(
    X: torch.Tensor,
    params: dict[str, torch.Tensor],
    y: torch.Tensor | None = None,
    reg: float = 0.0,
) -> torch.Tensor:
    """Affine-relu-affine on W1, b1, W2, b2: scores (N, C), or softmax loss + L2 if y is given."""
    # The two-layer net is the L = 2 case; picking the four keys keeps stray entries out of it.
    two_layer_params = {key: params[key] for key in ("W1", "b1", "W2", "b2")}
    return fully_connected_net(X, two_layer_params, y=y, reg=reg)
