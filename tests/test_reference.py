"""Checks of the trusted a1_backprop oracles: autograd against finite differences, plus values."""

from collections.abc import Callable

import pytest
import torch

from dlgrade.reference.a1_backprop.layers import affine, elu, leaky_relu, relu, sigmoid, tanh
from dlgrade.reference.a1_backprop.losses import (
    cross_entropy_loss,
    huber_loss,
    l1_loss,
    l2_regularization,
    log_softmax,
    mse_loss,
    softmax,
    softmax_loss,
    svm_loss,
)
from dlgrade.reference.a1_backprop.net import fully_connected_net, two_layer_net

SEED = 1234
# Finite differences step by ~1e-6, so any input at least this far from a kink sees smooth code.
KINK_GAP = 0.1

Case = tuple[Callable[..., torch.Tensor], tuple[torch.Tensor, ...]]


def _randn(gen: torch.Generator, *shape: int, scale: float = 1.0) -> torch.Tensor:
    """Standard normal float64 draws from gen, times scale."""
    return scale * torch.randn(*shape, generator=gen, dtype=torch.float64)


def _rand(gen: torch.Generator, *shape: int) -> torch.Tensor:
    """Uniform [0, 1) float64 draws from gen."""
    return torch.rand(*shape, generator=gen, dtype=torch.float64)


def _random_sign(gen: torch.Generator, *shape: int) -> torch.Tensor:
    """Independent +1 / -1 float64 draws from gen."""
    return torch.where(_rand(gen, *shape) < 0.5, -1.0, 1.0).to(torch.float64)


def _away_from_zero(t: torch.Tensor, gap: float = KINK_GAP) -> torch.Tensor:
    """Push every element outwards by gap so that |result| >= gap."""
    return t + gap * torch.where(t >= 0, 1.0, -1.0).to(t.dtype)


def _labels(gen: torch.Generator, n: int, c: int) -> torch.Tensor:
    """Integer labels (n,) in [0, c) as int64."""
    return torch.randint(c, (n,), generator=gen, dtype=torch.int64)


def _svm_inputs(gen: torch.Generator, n: int, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels whose hinge margins all sit at least KINK_GAP away from 0."""
    y = _labels(gen, n, c)
    is_correct = torch.nn.functional.one_hot(y, c).bool()
    # Margins couple pairs of logits, so redraw until no pair is near the kink (deterministic
    # given the seed; a handful of tries at these sizes).
    while True:
        x = _randn(gen, n, c, scale=2.0)
        margins = x - x.gather(1, y[:, None]) + 1.0
        if ((margins.abs() >= KINK_GAP) | is_correct).all():
            return x, y


def _huber_residuals(gen: torch.Generator, delta: float, n: int) -> torch.Tensor:
    """Residuals (2, n): a row inside |r| <= delta and a row beyond, 0.1*delta from the seams."""
    inside = delta * (0.1 + 0.8 * _rand(gen, n))
    beyond = delta * (1.1 + 2.0 * _rand(gen, n))
    return torch.stack([inside, beyond]) * _random_sign(gen, 2, n)


def _net_fn(
    net: Callable[..., torch.Tensor],
    names: list[str],
    y: torch.Tensor | None = None,
    reg: float = 0.0,
) -> Callable[..., torch.Tensor]:
    """Wrap a net so gradcheck can pass X and the parameters positionally."""

    def fn(X: torch.Tensor, *tensors: torch.Tensor) -> torch.Tensor:
        return net(X, dict(zip(names, tensors)), y=y, reg=reg)

    return fn


def _net_params(gen: torch.Generator, dims: list[int]) -> tuple[list[str], list[torch.Tensor]]:
    """Names W1, b1, ..., WL, bL and random tensors for layer sizes dims = [D, H1, ..., C]."""
    names, tensors = [], []
    for layer, (fan_in, fan_out) in enumerate(zip(dims[:-1], dims[1:]), start=1):
        names += [f"W{layer}", f"b{layer}"]
        tensors += [_randn(gen, fan_in, fan_out, scale=fan_in**-0.5), _randn(gen, fan_out)]
    return names, tensors


# Each builder draws its inputs from the generator and returns (function, inputs). The net cases
# rely on randn never landing within ~1e-6 of a ReLU kink, which has negligible probability.
def _affine(gen: torch.Generator) -> Case:
    return affine, (_randn(gen, 3, 2, 2), _randn(gen, 4, 5), _randn(gen, 5))


def _relu(gen: torch.Generator) -> Case:
    return relu, (_away_from_zero(_randn(gen, 3, 4)),)


def _leaky_relu(gen: torch.Generator) -> Case:
    return (lambda x: leaky_relu(x, alpha=0.2)), (_away_from_zero(_randn(gen, 3, 4)),)


def _elu(gen: torch.Generator) -> Case:
    return (lambda x: elu(x, alpha=1.5)), (_away_from_zero(_randn(gen, 3, 4, scale=2.0)),)


def _sigmoid(gen: torch.Generator) -> Case:
    return sigmoid, (_randn(gen, 3, 4, scale=3.0),)


def _tanh(gen: torch.Generator) -> Case:
    return tanh, (_randn(gen, 3, 4, scale=2.0),)


def _softmax(gen: torch.Generator) -> Case:
    return softmax, (_randn(gen, 3, 5, scale=2.0),)


def _log_softmax(gen: torch.Generator) -> Case:
    return log_softmax, (_randn(gen, 3, 5, scale=2.0),)


def _softmax_loss(gen: torch.Generator) -> Case:
    x, y = _randn(gen, 4, 5, scale=2.0), _labels(gen, 4, 5)
    return (lambda logits: softmax_loss(logits, y)), (x,)


def _cross_entropy_loss(gen: torch.Generator) -> Case:
    x, p = _randn(gen, 4, 5, scale=2.0), torch.softmax(_randn(gen, 4, 5), dim=1)
    return cross_entropy_loss, (x, p)


def _svm_loss(gen: torch.Generator) -> Case:
    x, y = _svm_inputs(gen, 4, 5)
    return (lambda logits: svm_loss(logits, y)), (x,)


def _mse_loss(gen: torch.Generator) -> Case:
    return mse_loss, (_randn(gen, 3, 4), _randn(gen, 3, 4))


def _l1_loss(gen: torch.Generator) -> Case:
    target = _randn(gen, 3, 4)
    return l1_loss, (target + _away_from_zero(_randn(gen, 3, 4)), target)


def _huber_loss(gen: torch.Generator) -> Case:
    delta = 0.7
    target = _randn(gen, 2, 5)
    pred = target + _huber_residuals(gen, delta, 5)
    return (lambda p, t: huber_loss(p, t, delta=delta)), (pred, target)


def _l2_regularization(gen: torch.Generator) -> Case:
    return (lambda w: l2_regularization(w, reg=0.3)), (_randn(gen, 4, 3),)


def _two_layer_scores(gen: torch.Generator) -> Case:
    names, tensors = _net_params(gen, [6, 5, 3])
    return _net_fn(two_layer_net, names), (_randn(gen, 4, 2, 3), *tensors)


def _two_layer_loss(gen: torch.Generator) -> Case:
    names, tensors = _net_params(gen, [6, 5, 3])
    y = _labels(gen, 4, 3)
    return _net_fn(two_layer_net, names, y=y, reg=0.1), (_randn(gen, 4, 2, 3), *tensors)


def _fc_one_layer_scores(gen: torch.Generator) -> Case:
    names, tensors = _net_params(gen, [6, 3])
    return _net_fn(fully_connected_net, names), (_randn(gen, 4, 6), *tensors)


def _fc_three_layer_loss(gen: torch.Generator) -> Case:
    names, tensors = _net_params(gen, [6, 5, 4, 3])
    y = _labels(gen, 4, 3)
    return _net_fn(fully_connected_net, names, y=y, reg=0.2), (_randn(gen, 4, 6), *tensors)


GRADCHECK_CASES = [
    pytest.param(_affine, id="affine"),
    pytest.param(_relu, id="relu"),
    pytest.param(_leaky_relu, id="leaky_relu"),
    pytest.param(_elu, id="elu"),
    pytest.param(_sigmoid, id="sigmoid"),
    pytest.param(_tanh, id="tanh"),
    pytest.param(_softmax, id="softmax"),
    pytest.param(_log_softmax, id="log_softmax"),
    pytest.param(_softmax_loss, id="softmax_loss"),
    pytest.param(_cross_entropy_loss, id="cross_entropy_loss"),
    pytest.param(_svm_loss, id="svm_loss"),
    pytest.param(_mse_loss, id="mse_loss"),
    pytest.param(_l1_loss, id="l1_loss"),
    pytest.param(_huber_loss, id="huber_loss"),
    pytest.param(_l2_regularization, id="l2_regularization"),
    pytest.param(_two_layer_scores, id="two_layer_net-scores"),
    pytest.param(_two_layer_loss, id="two_layer_net-loss"),
    pytest.param(_fc_one_layer_scores, id="fully_connected_net-L1-scores"),
    pytest.param(_fc_three_layer_loss, id="fully_connected_net-L3-loss"),
]


@pytest.mark.parametrize("build", GRADCHECK_CASES)
def test_autograd_matches_finite_differences(build: Callable[[torch.Generator], Case]) -> None:
    fn, inputs = build(torch.Generator().manual_seed(SEED))
    assert all(t.dtype == torch.float64 for t in inputs)
    leaves = tuple(t.detach().clone().requires_grad_(True) for t in inputs)
    assert torch.autograd.gradcheck(fn, leaves)


@pytest.mark.parametrize(
    "loss", [pytest.param(f, id=f.__name__) for f in (softmax_loss, svm_loss, mse_loss, l1_loss)]
)
def test_losses_return_0d(loss: Callable[..., torch.Tensor]) -> None:
    gen = torch.Generator().manual_seed(SEED)
    x = _randn(gen, 4, 3)
    second = _labels(gen, 4, 3) if loss in (softmax_loss, svm_loss) else _randn(gen, 4, 3)
    assert loss(x, second).shape == ()


def test_softmax_rows_sum_to_one() -> None:
    x = _randn(torch.Generator().manual_seed(SEED), 5, 7, scale=10.0)
    torch.testing.assert_close(softmax(x).sum(dim=1), torch.ones(5, dtype=torch.float64))


def test_softmax_is_stable_at_huge_logits() -> None:
    x = torch.tensor([[1e5, 0.0, -1e5]], dtype=torch.float64)
    torch.testing.assert_close(softmax(x), torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64))
    torch.testing.assert_close(
        log_softmax(x), torch.tensor([[0.0, -1e5, -2e5]], dtype=torch.float64)
    )
    assert torch.isfinite(softmax_loss(x, torch.tensor([2]))).item()


@pytest.mark.parametrize(
    "fn, expected",
    [
        pytest.param(relu, 0.0, id="relu-0"),
        pytest.param(lambda x: leaky_relu(x), 0.01, id="leaky_relu-default-alpha"),
        pytest.param(lambda x: leaky_relu(x, alpha=0.3), 0.3, id="leaky_relu-alpha-0.3"),
        # The contract's "alpha*(exp(x)-1) for x < 0" leaves x = 0 on the identity branch.
        pytest.param(lambda x: elu(x, alpha=2.0), 1.0, id="elu-1"),
    ],
)
def test_derivative_at_exactly_zero(
    fn: Callable[[torch.Tensor], torch.Tensor], expected: float
) -> None:
    x = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    fn(x).sum().backward()
    assert x.grad.item() == expected


@pytest.mark.parametrize(
    "fn",
    [pytest.param(f, id=f.__name__) for f in (sigmoid, elu, tanh)],
)
def test_no_overflow_at_large_inputs(fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
    x = torch.tensor([-1e4, -800.0, 800.0, 1e4], dtype=torch.float64, requires_grad=True)
    out = fn(x)
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    "r, delta, expected",
    [
        pytest.param(0.3, 1.0, 0.5 * 0.3**2, id="inside"),
        pytest.param(-0.4, 0.5, 0.5 * 0.4**2, id="inside-negative"),
        pytest.param(1.0, 1.0, 0.5, id="at-delta"),
        pytest.param(2.5, 1.0, 1.0 * (2.5 - 0.5), id="beyond"),
        pytest.param(-4.0, 0.5, 0.5 * (4.0 - 0.25), id="beyond-negative"),
    ],
)
def test_huber_piecewise_values(r: float, delta: float, expected: float) -> None:
    target = torch.tensor([1.5], dtype=torch.float64)
    loss = huber_loss(target + r, target, delta=delta)
    torch.testing.assert_close(loss, torch.tensor(expected, dtype=torch.float64))


def test_svm_loss_hand_example() -> None:
    x = torch.tensor(
        [[1.0, 2.0, 3.0], [3.0, 1.0, 0.5], [0.2, 0.5, -1.0]], dtype=torch.float64
    )
    y = torch.tensor([0, 0, 1])
    # Row 0: (2-1+1) + (3-1+1) = 5; row 1: both margins negative = 0; row 2: (0.2-0.5+1) = 0.7.
    expected = (5.0 + 0.0 + 0.7) / 3
    torch.testing.assert_close(svm_loss(x, y), torch.tensor(expected, dtype=torch.float64))


def test_cross_entropy_with_one_hot_targets_is_softmax_loss() -> None:
    gen = torch.Generator().manual_seed(SEED)
    x, y = _randn(gen, 4, 5), _labels(gen, 4, 5)
    one_hot = torch.nn.functional.one_hot(y, 5).to(torch.float64)
    torch.testing.assert_close(cross_entropy_loss(x, one_hot), softmax_loss(x, y))


def test_two_layer_net_shapes() -> None:
    gen = torch.Generator().manual_seed(SEED)
    names, tensors = _net_params(gen, [6, 5, 3])
    params = dict(zip(names, tensors))
    X = _randn(gen, 4, 2, 3)
    assert two_layer_net(X, params).shape == (4, 3)
    assert two_layer_net(X, params, y=_labels(gen, 4, 3), reg=0.1).shape == ()


def test_net_regularization_covers_every_weight_and_no_bias() -> None:
    gen = torch.Generator().manual_seed(SEED)
    names, tensors = _net_params(gen, [6, 5, 4, 3])
    params = dict(zip(names, tensors))
    X, y, reg = _randn(gen, 4, 6), _labels(gen, 4, 3), 0.7
    penalty = 0.5 * reg * sum((params[f"W{i}"] ** 2).sum() for i in (1, 2, 3))
    torch.testing.assert_close(
        fully_connected_net(X, params, y=y, reg=reg) - fully_connected_net(X, params, y=y),
        penalty,
    )


def test_fully_connected_net_with_one_layer_is_affine() -> None:
    gen = torch.Generator().manual_seed(SEED)
    X, w, b, y = _randn(gen, 4, 2, 3), _randn(gen, 6, 3), _randn(gen, 3), _labels(gen, 4, 3)
    params = {"W1": w, "b1": b}
    torch.testing.assert_close(fully_connected_net(X, params), affine(X, w, b))
    torch.testing.assert_close(
        fully_connected_net(X, params, y=y, reg=0.5),
        softmax_loss(affine(X, w, b), y) + 0.25 * (w**2).sum(),
    )
