"""Layers for assignment a1_backprop: an affine layer and elementwise activations.

Every layer comes as a pair of functions:

- ``NAME_forward(...) -> (out, cache)`` computes the output and returns a ``cache``: whatever
  the matching backward needs (a tuple of your choice; the checker never looks inside it);
- ``NAME_backward(dout, cache) -> grads`` receives ``dout``, the gradient of the loss with
  respect to ``out`` (same shape as ``out``), and returns the gradient of the loss with respect
  to each differentiable input of the forward, in the forward's argument order.

Conventions for every function in this file:

- every returned gradient has exactly the shape of the input it belongs to;
- inputs (including ``dout``) are never modified: return new arrays, never ``dout`` itself or a
  view of an input;
- a float32 input gives float32 outputs (watch out for operations that silently upcast to
  float64);
- use numpy only.
"""

import numpy as np


def affine_forward(x, w, b):
    """Forward pass of a fully connected (affine) layer.

    Each example ``x[i]`` is flattened into a vector of length ``D = d1 * ... * dk``, and the
    layer computes ``out[i] = x[i] @ w + b``.

    Args:
        x: input, shape ``(N, d1, ..., dk)`` (``k >= 1``), a minibatch of N examples.
        w: weights, shape ``(D, M)``.
        b: biases, shape ``(M,)``.

    Returns:
        A tuple ``(out, cache)``:

        - out: output, shape ``(N, M)``.
        - cache: whatever ``affine_backward`` needs.
    """
    ### BEGIN SOLUTION
    x_flat = x.reshape(x.shape[0], -1)
    out = x_flat @ w + b
    cache = (x, w)
    return out, cache
    ### END SOLUTION


def affine_backward(dout, cache):
    """Backward pass of a fully connected (affine) layer.

    Args:
        dout: upstream gradient, shape ``(N, M)``.
        cache: the cache returned by ``affine_forward``.

    Returns:
        A tuple ``(dx, dw, db)``:

        - dx: gradient with respect to x, with x's ORIGINAL shape ``(N, d1, ..., dk)``.
        - dw: gradient with respect to w, shape ``(D, M)``.
        - db: gradient with respect to b, shape ``(M,)`` (not ``(1, M)``).
    """
    ### BEGIN SOLUTION
    x, w = cache
    x_flat = x.reshape(x.shape[0], -1)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x_flat.T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db
    ### END SOLUTION


def relu_forward(x):
    """Forward pass of a rectified linear unit: ``out = max(x, 0)`` elementwise.

    Args:
        x: input of any shape.

    Returns:
        A tuple ``(out, cache)``:

        - out: output, same shape as x.
        - cache: whatever ``relu_backward`` needs.
    """
    ### BEGIN SOLUTION
    out = np.maximum(x, 0)
    cache = (x,)
    return out, cache
    ### END SOLUTION


def relu_backward(dout, cache):
    """Backward pass of a rectified linear unit.

    Convention: the derivative at exactly ``x == 0`` is 0 (the gradient only flows where
    ``x > 0``).

    Args:
        dout: upstream gradient, same shape as x.
        cache: the cache returned by ``relu_forward``.

    Returns:
        dx: gradient with respect to x, same shape as x.
    """
    ### BEGIN SOLUTION
    (x,) = cache
    dx = dout * (x > 0)
    return dx
    ### END SOLUTION


def leaky_relu_forward(x, alpha=0.01):
    """Forward pass of a leaky ReLU.

    ``out = x`` where ``x > 0`` and ``out = alpha * x`` where ``x <= 0``, elementwise.

    Args:
        x: input of any shape.
        alpha: slope for non-positive inputs (a Python float).

    Returns:
        A tuple ``(out, cache)``:

        - out: output, same shape as x.
        - cache: whatever ``leaky_relu_backward`` needs.
    """
    ### BEGIN SOLUTION
    alpha = float(alpha)
    out = np.where(x > 0, x, alpha * x)
    cache = (x, alpha)
    return out, cache
    ### END SOLUTION


def leaky_relu_backward(dout, cache):
    """Backward pass of a leaky ReLU.

    Convention: the slope is 1 where ``x > 0`` and ``alpha`` where ``x <= 0``, so the
    derivative at exactly ``x == 0`` is ``alpha``.

    Args:
        dout: upstream gradient, same shape as x.
        cache: the cache returned by ``leaky_relu_forward``.

    Returns:
        dx: gradient with respect to x, same shape as x.
    """
    ### BEGIN SOLUTION
    x, alpha = cache
    dx = np.where(x > 0, dout, alpha * dout)
    return dx
    ### END SOLUTION


def elu_forward(x, alpha=1.0):
    """Forward pass of an exponential linear unit (ELU).

    ``out = x`` where ``x >= 0`` and ``out = alpha * (exp(x) - 1)`` where ``x < 0``,
    elementwise.

    Take care that no overflow warning is raised for large positive x: the exponential is only
    needed for the negative entries.

    Args:
        x: input of any shape.
        alpha: scale of the negative part (a Python float).

    Returns:
        A tuple ``(out, cache)``:

        - out: output, same shape as x.
        - cache: whatever ``elu_backward`` needs.
    """
    ### BEGIN SOLUTION
    alpha = float(alpha)
    neg = np.minimum(x, 0)
    out = np.where(x >= 0, x, alpha * np.expm1(neg))
    cache = (x, alpha)
    return out, cache
    ### END SOLUTION


def elu_backward(dout, cache):
    """Backward pass of an exponential linear unit (ELU).

    The derivative is 1 where ``x >= 0`` and ``alpha * exp(x)`` where ``x < 0``.

    Args:
        dout: upstream gradient, same shape as x.
        cache: the cache returned by ``elu_forward``.

    Returns:
        dx: gradient with respect to x, same shape as x.
    """
    ### BEGIN SOLUTION
    x, alpha = cache
    neg = np.minimum(x, 0)
    dx = np.where(x >= 0, dout, dout * (alpha * np.exp(neg)))
    return dx
    ### END SOLUTION


def sigmoid_forward(x):
    """Forward pass of the logistic sigmoid: ``out = 1 / (1 + exp(-x))`` elementwise.

    Must be numerically stable: no overflow (and no RuntimeWarning) for ``|x|`` up to 1e4,
    with outputs in ``[0, 1]``. Evaluating ``exp`` of a large positive number overflows, so
    choose a formulation that never does.

    Args:
        x: input of any shape.

    Returns:
        A tuple ``(out, cache)``:

        - out: output, same shape as x, values in ``[0, 1]``.
        - cache: whatever ``sigmoid_backward`` needs.
    """
    ### BEGIN SOLUTION
    z = np.exp(-np.abs(x))  # in (0, 1]: never overflows
    out = np.where(x >= 0, 1 / (1 + z), z / (1 + z))
    cache = (out,)
    return out, cache
    ### END SOLUTION


def sigmoid_backward(dout, cache):
    """Backward pass of the logistic sigmoid.

    Args:
        dout: upstream gradient, same shape as x.
        cache: the cache returned by ``sigmoid_forward``.

    Returns:
        dx: gradient with respect to x, same shape as x.
    """
    ### BEGIN SOLUTION
    (out,) = cache
    dx = dout * out * (1 - out)
    return dx
    ### END SOLUTION


def tanh_forward(x):
    """Forward pass of the hyperbolic tangent: ``out = tanh(x)`` elementwise.

    Args:
        x: input of any shape.

    Returns:
        A tuple ``(out, cache)``:

        - out: output, same shape as x.
        - cache: whatever ``tanh_backward`` needs.
    """
    ### BEGIN SOLUTION
    out = np.tanh(x)
    cache = (out,)
    return out, cache
    ### END SOLUTION


def tanh_backward(dout, cache):
    """Backward pass of the hyperbolic tangent.

    Args:
        dout: upstream gradient, same shape as x.
        cache: the cache returned by ``tanh_forward``.

    Returns:
        dx: gradient with respect to x, same shape as x.
    """
    ### BEGIN SOLUTION
    (out,) = cache
    dx = dout * (1 - out * out)
    return dx
    ### END SOLUTION
