"""Inverted dropout for assignment a2_regularization.

Conventions for both functions in this file (those of Stanford's CS231n):

- ``dropout_param["p"]`` is the probability of KEEPING a unit (not of dropping it);
- inverted dropout: in training, ``out = x * mask / p`` where ``mask`` is 1 with probability
  ``p`` and 0 otherwise, drawn independently for every element of x; in test mode the layer is
  the identity, ``out = x``, and the backward passes ``dout`` through unchanged;
- random draws come from numpy; when ``dropout_param`` holds a ``seed``, the same seed must give
  the same mask (for instance ``np.random.default_rng(seed)``, or ``np.random.seed(seed)``
  before drawing);
- inputs (``x``, ``dropout_param``, ``dout``) are never modified; a float32 input gives float32
  outputs; use numpy only.
"""

import numpy as np


def dropout_forward(x, dropout_param):
    """Forward pass of inverted dropout.

    Args:
        x: input of any shape.
        dropout_param: a dict with the keys

            - ``p``: the probability of KEEPING each unit, ``0 < p <= 1``;
            - ``mode``: ``'train'`` or ``'test'``;
            - ``seed`` (optional): an int; when given, the mask is a function of the seed.

    Returns:
        A tuple ``(out, cache)``:

        - out: same shape and dtype as x: ``x * mask / p`` in training, ``x`` in test mode.
        - cache: whatever ``dropout_backward`` needs (the mask and ``dropout_param``).
    """
    ### BEGIN SOLUTION
    p, mode = dropout_param["p"], dropout_param["mode"]
    mask = None
    if mode == "train":
        rng = np.random.default_rng(dropout_param.get("seed"))
        mask = rng.random(x.shape) < p
        out = x * mask / np.asarray(p, dtype=x.dtype)
    else:
        out = x.copy()
    cache = (dict(dropout_param), mask)
    return out, cache
    ### END SOLUTION


def dropout_backward(dout, cache):
    """Backward pass of inverted dropout.

    Args:
        dout: upstream gradient, same shape as x.
        cache: the cache returned by ``dropout_forward``.

    Returns:
        dx: gradient with respect to x, same shape as x: ``dout * mask / p`` with the mask of
        that forward call in training, ``dout`` in test mode (as a new array).
    """
    ### BEGIN SOLUTION
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return dout * mask / np.asarray(dropout_param["p"], dtype=dout.dtype)
    return dout.copy()
    ### END SOLUTION
