"""Small fully connected networks for assignment a1_backprop, built from your own layers.

Both functions compute class scores for a minibatch and, when labels are given, the loss and the
gradient of the loss with respect to every parameter. Build them from the functions you wrote in
``layers.py`` and ``losses.py`` (already imported below): each layer's forward returns a cache
that its backward consumes.

Conventions:

- ``params`` maps names to arrays and is never modified;
- the data loss is the mean softmax cross-entropy over the batch (``softmax_loss``);
- L2 regularization adds ``0.5 * reg * sum(W ** 2)`` for every weight matrix W (never for the
  biases), so the gradient of each W gains ``reg * W``;
- ``grads`` has exactly the keys of ``params``, each gradient with its parameter's shape.
"""

import numpy as np

from .layers import affine_forward, affine_backward, relu_forward, relu_backward
from .losses import softmax_loss


def two_layer_net(X, params, y=None, reg=0.0):
    """A two-layer network: affine - ReLU - affine, followed by a softmax loss.

    ``scores = relu(X @ W1 + b1) @ W2 + b2`` (each example of X flattened to a vector).

    Args:
        X: input, shape ``(N, d1, ..., dk)`` with ``D = d1 * ... * dk``.
        params: dict with ``'W1'`` ``(D, H)``, ``'b1'`` ``(H,)``, ``'W2'`` ``(H, C)``,
            ``'b2'`` ``(C,)``.
        y: integer labels, shape ``(N,)``, ``0 <= y[i] < C``, or None.
        reg: L2 regularization strength (a Python float).

    Returns:
        If y is None: scores, shape ``(N, C)``.

        Otherwise a tuple ``(loss, grads)``:

        - loss: mean softmax loss over the batch plus
          ``0.5 * reg * (sum(W1 ** 2) + sum(W2 ** 2))``, a Python float.
        - grads: dict with the same keys as params; ``grads[k]`` is the gradient of the loss
          with respect to ``params[k]``, same shape (the weight gradients include ``reg * W``).
    """
    ### BEGIN SOLUTION
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    h, cache1 = affine_forward(X, W1, b1)
    a, cache_relu = relu_forward(h)
    scores, cache2 = affine_forward(a, W2, b2)
    if y is None:
        return scores

    reg = float(reg)
    data_loss, dscores = softmax_loss(scores, y)
    loss = data_loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

    grads = {}
    da, dW2, db2 = affine_backward(dscores, cache2)
    dh = relu_backward(da, cache_relu)
    _, dW1, db1 = affine_backward(dh, cache1)
    grads["W1"] = dW1 + reg * W1
    grads["b1"] = db1
    grads["W2"] = dW2 + reg * W2
    grads["b2"] = db2
    return float(loss), grads
    ### END SOLUTION


def fully_connected_net(X, params, y=None, reg=0.0):
    """A fully connected network with L layers: {affine - ReLU} x (L-1) - affine - softmax.

    The number of layers ``L >= 1`` is given by the parameters present: ``'W1', 'b1', ...,
    'WL', 'bL'``. Layer l maps ``(N, D_{l-1})`` to ``(N, D_l)``; every layer but the last is
    followed by a ReLU; the last layer's output is the class scores. With ``L == 1`` the
    network is a linear softmax classifier.

    Args:
        X: input, shape ``(N, d1, ..., dk)`` with ``D_0 = d1 * ... * dk``.
        params: dict with ``'Wl'`` ``(D_{l-1}, D_l)`` and ``'bl'`` ``(D_l,)`` for
            ``l = 1, ..., L``; ``D_L = C`` is the number of classes.
        y: integer labels, shape ``(N,)``, ``0 <= y[i] < C``, or None.
        reg: L2 regularization strength (a Python float).

    Returns:
        If y is None: scores, shape ``(N, C)``.

        Otherwise a tuple ``(loss, grads)``:

        - loss: mean softmax loss over the batch plus ``0.5 * reg * sum(Wl ** 2)`` summed over
          every weight matrix, a Python float.
        - grads: dict with the same keys as params; ``grads[k]`` is the gradient of the loss
          with respect to ``params[k]``, same shape (the weight gradients include ``reg * W``).
    """
    ### BEGIN SOLUTION
    L = 0
    while f"W{L + 1}" in params:
        L += 1
    if L == 0:
        raise ValueError("params must contain at least W1 and b1")

    caches = []
    out = X
    for l in range(1, L + 1):
        out, affine_cache = affine_forward(out, params[f"W{l}"], params[f"b{l}"])
        relu_cache = None
        if l < L:
            out, relu_cache = relu_forward(out)
        caches.append((affine_cache, relu_cache))
    scores = out
    if y is None:
        return scores

    reg = float(reg)
    data_loss, dout = softmax_loss(scores, y)
    reg_loss = 0.0
    grads = {}
    for l in range(L, 0, -1):
        affine_cache, relu_cache = caches[l - 1]
        if relu_cache is not None:
            dout = relu_backward(dout, relu_cache)
        dout, dW, db = affine_backward(dout, affine_cache)
        W = params[f"W{l}"]
        reg_loss += 0.5 * reg * float(np.sum(W * W))
        grads[f"W{l}"] = dW + reg * W
        grads[f"b{l}"] = db
    loss = data_loss + reg_loss
    return float(loss), grads
    ### END SOLUTION
