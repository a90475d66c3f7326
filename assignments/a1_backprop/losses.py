"""Losses for assignment a1_backprop.

Every ``*_loss`` function returns a tuple ``(loss, grad)``:

- ``loss`` is a Python float (use ``float(...)``), averaged over the batch unless a docstring
  says otherwise;
- ``grad`` is the gradient of that (averaged) loss with respect to the first argument, with
  exactly the shape of that argument.

Conventions for every function in this file:

- inputs are never modified; return new arrays;
- a float32 input gives float32 arrays back (watch out for operations that silently upcast to
  float64);
- integer labels ``y`` have shape ``(N,)`` with ``0 <= y[i] < C``;
- use numpy only.
"""

import numpy as np


def softmax(x):
    """Row-wise softmax: ``out[i, j] = exp(x[i, j]) / sum_k exp(x[i, k])``.

    Must be numerically stable: the result is finite (no overflow, no NaN, no RuntimeWarning)
    for logits as large as 1e5 in absolute value. Hint: softmax does not change when the same
    constant is subtracted from every entry of a row.

    Args:
        x: logits, shape ``(N, C)``.

    Returns:
        probs: shape ``(N, C)``, non-negative, each row sums to 1.
    """
    ### BEGIN SOLUTION
    shifted = x - x.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)
    ### END SOLUTION


def log_softmax(x):
    """Row-wise log-softmax: ``out[i, j] = x[i, j] - log(sum_k exp(x[i, k]))``.

    Must be numerically stable (finite for logits as large as 1e5 in absolute value, with no
    RuntimeWarning); in particular do not compute ``log(softmax(x))``, which gives ``-inf``
    when a probability underflows to 0.

    Args:
        x: logits, shape ``(N, C)``.

    Returns:
        log_probs: shape ``(N, C)``.
    """
    ### BEGIN SOLUTION
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    ### END SOLUTION


def softmax_loss(x, y):
    """Softmax cross-entropy loss with integer class labels.

    ``loss = -(1/N) * sum_i log(softmax(x)[i, y[i]])``, the mean over the batch.
    Must be numerically stable: finite and exact for logits up to 1e5, even where
    the correct class's probability underflows to 0.

    Args:
        x: logits, shape ``(N, C)``; ``x[i, j]`` is the score of class j for example i.
        y: integer labels, shape ``(N,)``, ``0 <= y[i] < C``.

    Returns:
        A tuple ``(loss, dx)``:

        - loss: the mean loss, a Python float.
        - dx: gradient of the loss with respect to x, shape ``(N, C)``.
    """
    ### BEGIN SOLUTION
    N = x.shape[0]
    rows = np.arange(N)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[rows, y].sum() / N
    dx = np.exp(log_probs)
    dx[rows, y] -= 1
    dx /= N
    return float(loss), dx
    ### END SOLUTION


def cross_entropy_loss(x, p):
    """Softmax cross-entropy loss against a target distribution (soft labels).

    ``loss = -(1/N) * sum_i sum_j p[i, j] * log(softmax(x)[i, j])``, the mean over the batch.
    This covers soft labels and label smoothing; with one-hot rows of p it equals
    ``softmax_loss``. Must be numerically stable: finite and exact for logits up to 1e5, even where
    the correct class's probability underflows to 0.

    Args:
        x: logits, shape ``(N, C)``.
        p: target distribution, shape ``(N, C)``, non-negative, each row sums to 1.

    Returns:
        A tuple ``(loss, dx)``:

        - loss: the mean loss, a Python float.
        - dx: gradient of the loss with respect to x (not p), shape ``(N, C)``.
    """
    ### BEGIN SOLUTION
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -(p * log_probs).sum() / N
    # d/dx of -sum_j p_j log softmax_j = softmax * sum_j p_j - p  (= softmax - p for rows summing to 1)
    dx = (np.exp(log_probs) * p.sum(axis=1, keepdims=True) - p) / N
    return float(loss), dx
    ### END SOLUTION


def svm_loss(x, y):
    """Multiclass SVM (hinge) loss with margin 1.

    ``loss = (1/N) * sum_i sum_{j != y[i]} max(0, x[i, j] - x[i, y[i]] + 1)``, the mean over
    the batch. The correct class contributes nothing to its own row's sum.

    Args:
        x: scores, shape ``(N, C)``.
        y: integer labels, shape ``(N,)``, ``0 <= y[i] < C``.

    Returns:
        A tuple ``(loss, dx)``:

        - loss: the mean loss, a Python float.
        - dx: gradient of the loss with respect to x, shape ``(N, C)``. A margin that is
          exactly 0 counts as inactive (contributes no gradient).
    """
    ### BEGIN SOLUTION
    N = x.shape[0]
    rows = np.arange(N)
    correct = x[rows, y][:, None]
    margins = np.maximum(x - correct + 1, 0)
    margins[rows, y] = 0
    loss = margins.sum() / N
    active = (margins > 0).astype(x.dtype)
    active[rows, y] = -active.sum(axis=1)
    dx = active / N
    return float(loss), dx
    ### END SOLUTION


def mse_loss(pred, target):
    """Mean squared error: ``loss = mean((pred - target) ** 2)`` over ALL elements.

    Args:
        pred: predictions, any shape.
        target: targets, same shape as pred (not differentiated).

    Returns:
        A tuple ``(loss, dpred)``:

        - loss: a Python float.
        - dpred: gradient of the loss with respect to pred, same shape as pred.
    """
    ### BEGIN SOLUTION
    diff = pred - target
    loss = np.mean(diff * diff)
    dpred = 2 * diff / diff.size
    return float(loss), dpred
    ### END SOLUTION


def l1_loss(pred, target):
    """Mean absolute error: ``loss = mean(abs(pred - target))`` over ALL elements.

    Convention: where ``pred == target`` exactly, the derivative is 0.

    Args:
        pred: predictions, any shape.
        target: targets, same shape as pred (not differentiated).

    Returns:
        A tuple ``(loss, dpred)``:

        - loss: a Python float.
        - dpred: gradient of the loss with respect to pred, same shape as pred.
    """
    ### BEGIN SOLUTION
    diff = pred - target
    loss = np.mean(np.abs(diff))
    dpred = np.sign(diff) / diff.size
    return float(loss), dpred
    ### END SOLUTION


def huber_loss(pred, target, delta=1.0):
    """Huber (smooth L1) loss, averaged over ALL elements.

    With the residual ``r = pred - target``, each element contributes

    - ``0.5 * r**2`` where ``|r| <= delta``,
    - ``delta * (|r| - 0.5 * delta)`` where ``|r| > delta``,

    and the loss is the mean of these contributions.

    Args:
        pred: predictions, any shape.
        target: targets, same shape as pred (not differentiated).
        delta: positive threshold between the quadratic and the linear part (a Python float).

    Returns:
        A tuple ``(loss, dpred)``:

        - loss: a Python float.
        - dpred: gradient of the loss with respect to pred, same shape as pred.
    """
    ### BEGIN SOLUTION
    delta = float(delta)
    r = pred - target
    abs_r = np.abs(r)
    per_elem = np.where(abs_r <= delta, 0.5 * r * r, delta * (abs_r - 0.5 * delta))
    loss = np.mean(per_elem)
    dpred = np.clip(r, -delta, delta) / r.size
    return float(loss), dpred
    ### END SOLUTION


def l2_regularization(w, reg):
    """L2 weight penalty: ``loss = 0.5 * reg * sum(w ** 2)`` (a sum, not a mean).

    Args:
        w: weights, any shape.
        reg: regularization strength, a non-negative Python float.

    Returns:
        A tuple ``(loss, dw)``:

        - loss: a Python float.
        - dw: gradient of the loss with respect to w, same shape as w (a new array).
    """
    ### BEGIN SOLUTION
    reg = float(reg)
    loss = 0.5 * reg * np.sum(w * w)
    dw = reg * w
    return float(loss), dw
    ### END SOLUTION
