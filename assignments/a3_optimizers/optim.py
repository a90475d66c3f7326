"""First-order update rules for assignment a3_optimizers, and gradient clipping.

Every update rule has the same interface:

    next_w, config = RULE(w, dw, config=None)

- ``w``: the current weights (an array of any shape);
- ``dw``: the gradient of the loss with respect to ``w`` (same shape); never modify it;
- ``config``: a dict holding the rule's hyperparameters and its state between calls. When it is
  None, or a key is missing, use the default stated in the rule's docstring (``config.setdefault``
  does this in one line). The rule's state (velocity, cache, moments, step counter) lives in
  ``config`` under the names given below: the caller passes the config returned by one step to
  the next, and two optimizers (one per parameter array) must never share state, so keep
  nothing in globals.

Returns ``next_w``, the updated weights (same shape and dtype as ``w``), and the config to pass to
the next call. You may update ``w`` in place and return it (``w -= lr * dw``).

A float32 ``w`` and ``dw`` give a float32 ``next_w``: create state with ``np.zeros_like(w)``.
Use numpy only.
"""

import numpy as np


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: ``next_w = w - learning_rate * dw``.

    config:
        learning_rate: step size (default 1e-2).

    Returns:
        A tuple ``(next_w, config)``.
    """
    ### BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    next_w = w - config["learning_rate"] * dw
    return next_w, config
    ### END SOLUTION


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum.

    The velocity holds the step, learning rate included (CS231n's form)::

        v = momentum * v - learning_rate * dw
        next_w = w + v

    (Not the ``v = momentum * v + dw; w -= learning_rate * v`` form of some libraries: the two
    keep different numbers in ``velocity``.)

    config:
        learning_rate: step size (default 1e-2).
        momentum: in [0, 1) (default 0.9).
        velocity: the state, an array like w (default zeros).

    Returns:
        A tuple ``(next_w, config)``, with the new velocity in ``config["velocity"]``.
    """
    ### BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config
    ### END SOLUTION


def nesterov_momentum(w, dw, config=None):
    """Nesterov momentum in the form that uses the gradient at w itself::

        v_prev = v
        v = momentum * v - learning_rate * dw
        next_w = w - momentum * v_prev + (1 + momentum) * v

    config:
        learning_rate: step size (default 1e-2).
        momentum: in [0, 1) (default 0.9).
        velocity: the state, an array like w (default zeros).

    Returns:
        A tuple ``(next_w, config)``, with the new velocity in ``config["velocity"]``.
    """
    ### BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    mu = config["momentum"]
    v_prev = config.get("velocity", np.zeros_like(w))
    v = mu * v_prev - config["learning_rate"] * dw
    config["velocity"] = v
    return w - mu * v_prev + (1 + mu) * v, config
    ### END SOLUTION


def adagrad(w, dw, config=None):
    """Adagrad: per-element step sizes from the sum of all squared gradients so far::

        cache = cache + dw**2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    (epsilon is added outside the square root.)

    config:
        learning_rate: step size (default 1e-2).
        epsilon: small number against division by zero (default 1e-8).
        cache: the state, an array like w (default zeros).

    Returns:
        A tuple ``(next_w, config)``, with the new cache in ``config["cache"]``.
    """
    ### BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("epsilon", 1e-8)
    cache = config.get("cache", np.zeros_like(w)) + dw * dw
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config
    ### END SOLUTION


def rmsprop(w, dw, config=None):
    """RMSprop: per-element step sizes from a moving average of squared gradients::

        cache = decay_rate * cache + (1 - decay_rate) * dw**2
        next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)

    config:
        learning_rate: step size (default 1e-2).
        decay_rate: in [0, 1), the weight of the old cache (default 0.99).
        epsilon: small number against division by zero, outside the square root (default 1e-8).
        cache: the state, an array like w (default zeros).

    Returns:
        A tuple ``(next_w, config)``, with the new cache in ``config["cache"]``.
    """
    ### BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    d = config["decay_rate"]
    cache = d * config.get("cache", np.zeros_like(w)) + (1 - d) * dw * dw
    config["cache"] = cache
    return w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"]), config
    ### END SOLUTION


def adam(w, dw, config=None):
    """Adam with bias-corrected first and second moments. The step counter is incremented
    FIRST, so the first call uses t = 1::

        t = t + 1
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw**2
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        next_w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon)

    config:
        learning_rate: step size (default 1e-3).
        beta1: decay of the first moment (default 0.9).
        beta2: decay of the second moment (default 0.999).
        epsilon: small number against division by zero, outside the square root (default 1e-8).
        m, v: the moments, arrays like w (default zeros).
        t: the number of steps taken so far (default 0).

    Returns:
        A tuple ``(next_w, config)``, with the new ``m``, ``v`` and ``t`` in ``config``.
    """
    ### BEGIN SOLUTION
    if config is None:
        config = {}
    for key, default in (("learning_rate", 1e-3), ("beta1", 0.9), ("beta2", 0.999), ("epsilon", 1e-8), ("t", 0)):
        config.setdefault(key, default)
    b1, b2 = config["beta1"], config["beta2"]
    config["t"] += 1
    t = config["t"]
    config["m"] = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
    config["v"] = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw * dw
    m_hat = config["m"] / (1 - b1 ** t)
    v_hat = config["v"] / (1 - b2 ** t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    return next_w, config
    ### END SOLUTION


def adamw(w, dw, config=None):
    """AdamW: Adam with DECOUPLED weight decay. The weights first shrink, then take the Adam
    step (with the same t, incremented once per call)::

        w = w - learning_rate * weight_decay * w
        next_w = (the Adam step from this w, as in adam)

    The decay is not added to the gradient (``dw + weight_decay * w`` is Adam with L2, a
    different rule).

    config:
        as adam (learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8, m, v, t), plus
        weight_decay: the decoupled decay rate (default 1e-2).

    Returns:
        A tuple ``(next_w, config)``, with the new ``m``, ``v`` and ``t`` in ``config``.
    """
    ### BEGIN SOLUTION
    if config is None:
        config = {}
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("weight_decay", 1e-2)
    decayed = w - config["learning_rate"] * config["weight_decay"] * w
    return adam(decayed, dw, config)
    ### END SOLUTION


def clip_grad_norm(grads, max_norm):
    """Clip a set of gradients by their GLOBAL L2 norm.

    total_norm is the L2 norm of all the gradients' elements together (as if concatenated into
    one vector). When total_norm > max_norm, every gradient is multiplied by the same factor
    max_norm / total_norm (so the direction is kept and the new global norm is max_norm);
    otherwise the values are left as they are.

    Args:
        grads: dict name -> gradient array (any shapes). Do not modify it or its arrays.
        max_norm: a positive number.

    Returns:
        A tuple ``(clipped, total_norm)``:

        - clipped: a NEW dict name -> NEW array (same keys, shapes and dtypes as grads);
        - total_norm: the global norm BEFORE clipping, a Python float or 0-d array.
    """
    ### BEGIN SOLUTION
    total_norm = float(np.sqrt(sum(np.sum(g * g) for g in grads.values())))
    scale = max_norm / total_norm if total_norm > max_norm else 1.0
    clipped = {name: (g * scale).astype(g.dtype, copy=False) for name, g in grads.items()}
    return clipped, total_norm
    ### END SOLUTION
