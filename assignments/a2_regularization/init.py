"""Weight initialisation for assignment a2_regularization.

Conventions for every function in this file:

- a dense layer's weight has shape ``(D, M)``: ``fan_in = D``, ``fan_out = M`` (the weight is
  used as ``x @ w``, unlike torch's ``(out_features, in_features)``);
- a convolution's weight has shape ``(F, C, HH, WW)``: ``fan_in = C * HH * WW`` and
  ``fan_out = F * HH * WW``;
- every random draw comes from the ``rng`` argument (an ``np.random.Generator``): the same seed
  gives the same array, and numpy's global random state (``np.random.seed``,
  ``np.random.randn``, ...) is never used;
- the result is a float64 array of exactly the given shape; use numpy only.
"""

import numpy as np


def compute_fans(shape):
    """The fan-in and fan-out of a weight of the given shape.

    Args:
        shape: ``(D, M)`` for a dense layer, or ``(F, C, HH, WW)`` for a convolution.

    Returns:
        A tuple of two ints ``(fan_in, fan_out)``: ``(D, M)`` for a dense layer,
        ``(C * HH * WW, F * HH * WW)`` for a convolution.
    """
    ### BEGIN SOLUTION
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = int(np.prod(shape[2:]))
    return shape[1] * receptive_field, shape[0] * receptive_field
    ### END SOLUTION


def xavier_uniform(shape, rng):
    """Glorot/Xavier uniform initialisation: ``U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``
    (variance ``2 / (fan_in + fan_out)``).

    Args:
        shape: the weight's shape (see ``compute_fans``).
        rng: an ``np.random.Generator``, the only source of randomness.

    Returns:
        A float64 array of the given shape.
    """
    ### BEGIN SOLUTION
    fan_in, fan_out = compute_fans(shape)
    bound = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-bound, bound, size=tuple(shape))
    ### END SOLUTION


def xavier_normal(shape, rng):
    """Glorot/Xavier normal initialisation: ``N(0, 2 / (fan_in + fan_out))`` (that is the
    variance; the standard deviation is its square root).

    Args:
        shape: the weight's shape (see ``compute_fans``).
        rng: an ``np.random.Generator``, the only source of randomness.

    Returns:
        A float64 array of the given shape.
    """
    ### BEGIN SOLUTION
    fan_in, fan_out = compute_fans(shape)
    return rng.normal(0.0, np.sqrt(2.0 / (fan_in + fan_out)), size=tuple(shape))
    ### END SOLUTION


def kaiming_uniform(shape, rng):
    """He/Kaiming uniform initialisation (for ReLU layers): ``U(-a, a)`` with
    ``a = sqrt(6 / fan_in)`` (variance ``2 / fan_in``).

    Args:
        shape: the weight's shape (see ``compute_fans``).
        rng: an ``np.random.Generator``, the only source of randomness.

    Returns:
        A float64 array of the given shape.
    """
    ### BEGIN SOLUTION
    fan_in, _ = compute_fans(shape)
    bound = np.sqrt(6.0 / fan_in)
    return rng.uniform(-bound, bound, size=tuple(shape))
    ### END SOLUTION


def kaiming_normal(shape, rng):
    """He/Kaiming normal initialisation (for ReLU layers): ``N(0, 2 / fan_in)`` (that is the
    variance; the standard deviation is ``sqrt(2 / fan_in)``).

    Args:
        shape: the weight's shape (see ``compute_fans``).
        rng: an ``np.random.Generator``, the only source of randomness.

    Returns:
        A float64 array of the given shape.
    """
    ### BEGIN SOLUTION
    fan_in, _ = compute_fans(shape)
    return rng.normal(0.0, np.sqrt(2.0 / fan_in), size=tuple(shape))
    ### END SOLUTION
