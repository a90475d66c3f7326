"""Batch normalisation and layer normalisation for assignment a2_regularization.

Conventions for every function in this file (those of Stanford's CS231n):

- x has shape ``(N, D)``: N examples of D features; gamma and beta have shape ``(D,)``;
- the variance is the BIASED one (divide by N for batch norm, by D for layer norm; numpy's
  ``np.var`` default), and ``eps`` goes inside the square root: ``x_hat = (x - mean) /
  np.sqrt(var + eps)``, ``out = gamma * x_hat + beta``;
- batch norm's statistics are per feature, over the batch (axis 0); layer norm's are per
  example, over the features (axis 1);
- every returned gradient has exactly the shape of its input: dgamma and dbeta are ``(D,)``,
  not ``(1, D)``;
- inputs (including ``dout``) are never modified, except ``bn_param``, whose running statistics
  batch norm updates in place; a float32 input gives float32 outputs; use numpy only.
"""

import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of batch normalisation.

    In training (``mode == 'train'``) each feature is normalised with the mean and the biased
    variance of the minibatch, and the running statistics are updated with::

        running_mean = momentum * running_mean + (1 - momentum) * batch_mean
        running_var = momentum * running_var + (1 - momentum) * batch_var

    and written back into ``bn_param`` (``bn_param["running_mean"] = ...``). In test mode
    (``mode == 'test'``) each feature is normalised with ``running_mean`` and ``running_var``
    instead, and nothing is updated.

    Args:
        x: input, shape ``(N, D)``.
        gamma: scale, shape ``(D,)``.
        beta: shift, shape ``(D,)``.
        bn_param: a dict with the keys

            - ``mode``: ``'train'`` or ``'test'`` (required);
            - ``eps``: added to the variance inside the square root, default ``1e-5``;
            - ``momentum``: for the running statistics, default ``0.9`` (the share of the OLD
              value that is kept);
            - ``running_mean``, ``running_var``: shape ``(D,)``, default zeros when missing.

    Returns:
        A tuple ``(out, cache)``:

        - out: shape ``(N, D)``.
        - cache: whatever ``batchnorm_backward`` and ``batchnorm_backward_alt`` need (both get
          the same cache).
    """
    ### BEGIN SOLUTION
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    d = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(d, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(d, dtype=x.dtype))
    if mode == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    else:
        mean, var = running_mean.astype(x.dtype), running_var.astype(x.dtype)
    inv_std = 1.0 / np.sqrt(var + np.asarray(eps, dtype=x.dtype))
    x_hat = (x - mean) * inv_std
    out = gamma * x_hat + beta
    cache = (x, x_hat, mean, inv_std, gamma)
    return out, cache
    ### END SOLUTION


def batchnorm_backward(dout, cache):
    """Backward pass of batch normalisation (training mode), step by step through the
    computation graph of the forward (mean, centring, variance, inverse square root, scale).

    Args:
        dout: upstream gradient, shape ``(N, D)``.
        cache: the cache returned by ``batchnorm_forward`` in training mode.

    Returns:
        A tuple ``(dx, dgamma, dbeta)`` of shapes ``(N, D)``, ``(D,)``, ``(D,)``.
    """
    ### BEGIN SOLUTION
    x, x_hat, mean, inv_std, gamma = cache
    n = x.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    centred = x - mean
    # x_hat = centred * inv_std, inv_std = (var + eps)^(-1/2), var = mean(centred^2)
    dinv_std = (dx_hat * centred).sum(axis=0)
    dvar = dinv_std * -0.5 * inv_std ** 3
    dcentred = dx_hat * inv_std + dvar * 2.0 * centred / n
    dmean = -dcentred.sum(axis=0)
    dx = dcentred + dmean / n
    return dx, dgamma, dbeta
    ### END SOLUTION


def batchnorm_backward_alt(dout, cache):
    """Backward pass of batch normalisation (training mode) in closed form::

        dx = gamma * inv_std / N * (N * dout - sum(dout) - x_hat * sum(dout * x_hat))

    with the sums over the batch (axis 0) and ``inv_std = 1 / sqrt(var + eps)``.

    Args:
        dout: upstream gradient, shape ``(N, D)``.
        cache: the cache returned by ``batchnorm_forward`` (the same one as for
            ``batchnorm_backward``).

    Returns:
        A tuple ``(dx, dgamma, dbeta)`` of shapes ``(N, D)``, ``(D,)``, ``(D,)``.
    """
    ### BEGIN SOLUTION
    x, x_hat, mean, inv_std, gamma = cache
    n = x.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx = (gamma * inv_std / n) * (n * dout - dbeta - x_hat * dgamma)
    return dx, dgamma, dbeta
    ### END SOLUTION


def layernorm_forward(x, gamma, beta, ln_param):
    """Forward pass of layer normalisation: each example (row) is normalised with the mean and
    the biased variance of its own features, then scaled and shifted per feature. The same in
    training and at test time; there are no running statistics.

    Args:
        x: input, shape ``(N, D)``.
        gamma: scale, shape ``(D,)``.
        beta: shift, shape ``(D,)``.
        ln_param: a dict with the optional key ``eps`` (default ``1e-5``); not modified.

    Returns:
        A tuple ``(out, cache)``:

        - out: shape ``(N, D)``.
        - cache: whatever ``layernorm_backward`` needs.
    """
    ### BEGIN SOLUTION
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    var = x.var(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + np.asarray(eps, dtype=x.dtype))
    x_hat = (x - mean) * inv_std
    out = gamma * x_hat + beta
    cache = (x_hat, inv_std, gamma)
    return out, cache
    ### END SOLUTION


def layernorm_backward(dout, cache):
    """Backward pass of layer normalisation.

    Args:
        dout: upstream gradient, shape ``(N, D)``.
        cache: the cache returned by ``layernorm_forward``.

    Returns:
        A tuple ``(dx, dgamma, dbeta)`` of shapes ``(N, D)``, ``(D,)``, ``(D,)``.
    """
    ### BEGIN SOLUTION
    x_hat, inv_std, gamma = cache
    d = x_hat.shape[1]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    # The closed form of batch norm's backward, with the sums over the features of each example.
    dx = (inv_std / d) * (d * dx_hat - dx_hat.sum(axis=1, keepdims=True)
                          - x_hat * (dx_hat * x_hat).sum(axis=1, keepdims=True))
    return dx, dgamma, dbeta
    ### END SOLUTION
