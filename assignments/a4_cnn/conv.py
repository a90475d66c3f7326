"""Layers for assignment a4_cnn: convolution, pooling, spatial normalisation, and two small
calculations about convolutional networks.

Every layer comes as a pair of functions:

- ``NAME_forward(...) -> (out, cache)`` computes the output and returns a ``cache``: whatever
  the matching backward needs (a tuple of your choice; the checker never looks inside it);
- ``NAME_backward(dout, cache) -> grads`` receives ``dout``, the gradient of the loss with
  respect to ``out`` (same shape as ``out``), and returns the gradient of the loss with respect
  to each differentiable input of the forward, in the forward's argument order.

Conventions for every function in this file:

- images are ``(N, C, H, W)``: batch, channels, height, width;
- every returned gradient has exactly the shape of the input it belongs to;
- inputs (including ``dout``) are never modified, except ``bn_param``, into which
  ``spatial_batchnorm_forward`` writes its running statistics: return new arrays;
- a float32 input gives float32 outputs (watch out for operations that silently upcast);
- use numpy only. Loops over output positions are fine ("naive"), but keep them few.
"""

import numpy as np


def conv_forward_naive(x, w, b, conv_param):
    """Forward pass of a convolutional layer (a cross-correlation: the kernel is not flipped).

    Args:
        x: input, shape ``(N, C, H, W)``.
        w: filters, shape ``(F, C, HH, WW)``.
        b: biases, shape ``(F,)``.
        conv_param: dict with ``'stride'`` (pixels between neighbouring windows, in both
            directions) and ``'pad'`` (zeros added on EVERY side: top, bottom, left and right).

    Returns:
        A tuple ``(out, cache)``:

        - out: shape ``(N, F, H', W')`` with ``H' = 1 + (H + 2 * pad - HH) // stride`` and
          ``W' = 1 + (W + 2 * pad - WW) // stride``;
          ``out[n, f, i, j] = sum(x_pad[n, :, i*stride : i*stride+HH, j*stride : j*stride+WW] * w[f]) + b[f]``.
        - cache: whatever ``conv_backward_naive`` needs.
    """
    ### BEGIN SOLUTION
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    out_h, out_w = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.empty((N, F, out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    cache = (x, w, conv_param)
    return out, cache
    ### END SOLUTION


def conv_backward_naive(dout, cache):
    """Backward pass of a convolutional layer.

    Args:
        dout: upstream gradient, shape ``(N, F, H', W')``.
        cache: the cache returned by ``conv_forward_naive``.

    Returns:
        A tuple ``(dx, dw, db)`` with the shapes of x ``(N, C, H, W)``, w ``(F, C, HH, WW)``
        and b ``(F,)``. Windows overlap when stride < kernel size: accumulate (``+=``).
    """
    ### BEGIN SOLUTION
    x, w, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, out_h, out_w = dout.shape
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad = np.zeros_like(x_pad)
    dw = np.zeros_like(w)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
            d = dout[:, :, i, j]                                   # (N, F)
            dw += np.tensordot(d, x_pad[:, :, rows, cols], axes=([0], [0]))
            dx_pad[:, :, rows, cols] += np.tensordot(d, w, axes=([1], [0]))
    dx = dx_pad[:, :, pad:pad + H, pad:pad + W].copy()
    db = dout.sum(axis=(0, 2, 3))
    return dx, dw, db
    ### END SOLUTION


def max_pool_forward_naive(x, pool_param):
    """Forward pass of a max-pooling layer (no padding).

    Args:
        x: input, shape ``(N, C, H, W)``.
        pool_param: dict with ``'pool_height'``, ``'pool_width'`` and ``'stride'``. Windows may
            overlap (stride smaller than the window).

    Returns:
        A tuple ``(out, cache)``:

        - out: shape ``(N, C, H', W')`` with ``H' = 1 + (H - pool_height) // stride`` and
          ``W' = 1 + (W - pool_width) // stride``: the maximum of each window.
        - cache: whatever ``max_pool_backward_naive`` needs.
    """
    ### BEGIN SOLUTION
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out_h, out_w = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.empty((N, C, out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].max(axis=(2, 3))
    cache = (x, pool_param)
    return out, cache
    ### END SOLUTION


def max_pool_backward_naive(dout, cache):
    """Backward pass of a max-pooling layer.

    Args:
        dout: upstream gradient, shape ``(N, C, H', W')``.
        cache: the cache returned by ``max_pool_forward_naive``.

    Returns:
        dx, shape ``(N, C, H, W)``: each ``dout[n, c, i, j]`` goes to the maximum of its window;
        where windows overlap, an element that is the maximum of several windows receives the
        SUM of their gradients.
    """
    ### BEGIN SOLUTION
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    _, _, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for i in range(out_h):
        for j in range(out_w):
            rows, cols = slice(i * stride, i * stride + ph), slice(j * stride, j * stride + pw)
            window = x[:, :, rows, cols]
            is_max = window == window.max(axis=(2, 3), keepdims=True)
            dx[:, :, rows, cols] += is_max * dout[:, :, i, j][:, :, None, None]
    return dx
    ### END SOLUTION


def avg_pool_forward_naive(x, pool_param):
    """Forward pass of an average-pooling layer (no padding).

    Args:
        x: input, shape ``(N, C, H, W)``.
        pool_param: as for ``max_pool_forward_naive``.

    Returns:
        A tuple ``(out, cache)``: out ``(N, C, H', W')`` (sizes as for max pooling), the mean of
        each window; cache: whatever ``avg_pool_backward_naive`` needs.
    """
    ### BEGIN SOLUTION
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    out_h, out_w = 1 + (H - ph) // stride, 1 + (W - pw) // stride
    out = np.empty((N, C, out_h, out_w), dtype=x.dtype)
    for i in range(out_h):
        for j in range(out_w):
            out[:, :, i, j] = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw].mean(axis=(2, 3))
    cache = (x.shape, x.dtype, pool_param)
    return out, cache
    ### END SOLUTION


def avg_pool_backward_naive(dout, cache):
    """Backward pass of an average-pooling layer.

    Args:
        dout: upstream gradient, shape ``(N, C, H', W')``.
        cache: the cache returned by ``avg_pool_forward_naive``.

    Returns:
        dx, shape ``(N, C, H, W)``: each ``dout[n, c, i, j]`` is spread evenly over its window
        (``/ (pool_height * pool_width)``), summed where windows overlap.
    """
    ### BEGIN SOLUTION
    shape, dtype, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    _, _, out_h, out_w = dout.shape
    dx = np.zeros(shape, dtype=dout.dtype)
    for i in range(out_h):
        for j in range(out_w):
            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] += dout[:, :, i, j][:, :, None, None] / (ph * pw)
    return dx
    ### END SOLUTION


def global_avg_pool_forward(x):
    """Global average pooling: the mean of each channel over its whole feature map.

    Args:
        x: input, shape ``(N, C, H, W)``.

    Returns:
        A tuple ``(out, cache)``: out ``(N, C)``; cache: whatever the backward needs.
    """
    ### BEGIN SOLUTION
    return x.mean(axis=(2, 3)), x.shape
    ### END SOLUTION


def global_avg_pool_backward(dout, cache):
    """Backward pass of global average pooling.

    Args:
        dout: upstream gradient, shape ``(N, C)``.
        cache: the cache returned by ``global_avg_pool_forward``.

    Returns:
        dx, shape ``(N, C, H, W)``: ``dout[n, c] / (H * W)`` at every position of map (n, c).
    """
    ### BEGIN SOLUTION
    N, C, H, W = cache
    dx = np.empty((N, C, H, W), dtype=dout.dtype)
    dx[...] = dout[:, :, None, None] / (H * W)
    return dx
    ### END SOLUTION


def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Forward pass of spatial batch normalisation: per channel, statistics over N, H and W.

    Args:
        x: input, shape ``(N, C, H, W)``.
        gamma: scale, shape ``(C,)``.
        beta: shift, shape ``(C,)``.
        bn_param: dict with
            - ``'mode'``: ``'train'`` or ``'test'`` (required);
            - ``'eps'``: added to the variance, default 1e-5;
            - ``'momentum'``: default 0.9;
            - ``'running_mean'``, ``'running_var'``: shape ``(C,)``, default zeros.

    In train mode, normalise with the batch mean and the biased batch variance (divided by
    N*H*W) of each channel, then update
    ``running = momentum * running + (1 - momentum) * batch`` for both and WRITE them back into
    ``bn_param``. In test mode, normalise with the running statistics (bn_param unchanged).
    ``out = gamma * (x - mean) / sqrt(var + eps) + beta``, per channel.

    Returns:
        A tuple ``(out, cache)``: out ``(N, C, H, W)``; cache: whatever the backward needs.
    """
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    mode = bn_param["mode"]
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    running_mean = bn_param.get("running_mean", np.zeros(C, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(C, dtype=x.dtype))
    if mode == "train":
        mean, var = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
        bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * mean
        bn_param["running_var"] = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        mean, var = running_mean, running_var
    else:
        raise ValueError(f"invalid batchnorm mode {mode!r}")
    std = np.sqrt(var + eps)[None, :, None, None]
    x_hat = (x - mean[None, :, None, None]) / std
    out = gamma[None, :, None, None] * x_hat + beta[None, :, None, None]
    cache = (mode, x_hat, gamma, std)
    return out, cache
    ### END SOLUTION


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batch normalisation.

    Args:
        dout: upstream gradient, shape ``(N, C, H, W)``.
        cache: the cache returned by ``spatial_batchnorm_forward``.

    Returns:
        A tuple ``(dx, dgamma, dbeta)``: dx ``(N, C, H, W)``, dgamma and dbeta ``(C,)``.
    """
    ### BEGIN SOLUTION
    mode, x_hat, gamma, std = cache
    axes = (0, 2, 3)
    dgamma = (dout * x_hat).sum(axis=axes)
    dbeta = dout.sum(axis=axes)
    dx_hat = dout * gamma[None, :, None, None]
    if mode == "test":
        return dx_hat / std, dgamma, dbeta
    m = dout.size // dout.shape[1]
    dx = (dx_hat - dx_hat.sum(axis=axes, keepdims=True) / m
          - x_hat * (dx_hat * x_hat).sum(axis=axes, keepdims=True) / m) / std
    return dx, dgamma, dbeta
    ### END SOLUTION


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Forward pass of spatial group normalisation.

    Each example's C channels are split into G groups of C // G CONSECUTIVE channels; each
    group of each example is normalised with its own mean and (biased) variance over its
    channels and H, W; then ``out = gamma * x_hat + beta`` per channel.

    Args:
        x: input, shape ``(N, C, H, W)``.
        gamma: scale, shape ``(1, C, 1, 1)``.
        beta: shift, shape ``(1, C, 1, 1)``.
        G: number of groups; G divides C.
        gn_param: dict with ``'eps'`` (default 1e-5).

    Returns:
        A tuple ``(out, cache)``: out ``(N, C, H, W)``; cache: whatever the backward needs.
    """
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    eps = gn_param.get("eps", 1e-5)
    grouped = x.reshape(N, G, C // G, H, W)
    mean = grouped.mean(axis=(2, 3, 4), keepdims=True)
    std = np.sqrt(grouped.var(axis=(2, 3, 4), keepdims=True) + eps)
    x_hat = ((grouped - mean) / std).reshape(N, C, H, W)
    out = gamma * x_hat + beta
    cache = (G, x_hat, gamma, std)
    return out, cache
    ### END SOLUTION


def spatial_groupnorm_backward(dout, cache):
    """Backward pass of spatial group normalisation.

    Args:
        dout: upstream gradient, shape ``(N, C, H, W)``.
        cache: the cache returned by ``spatial_groupnorm_forward``.

    Returns:
        A tuple ``(dx, dgamma, dbeta)``: dx ``(N, C, H, W)``, dgamma and dbeta ``(1, C, 1, 1)``.
    """
    ### BEGIN SOLUTION
    G, x_hat, gamma, std = cache
    N, C, H, W = dout.shape
    dgamma = (dout * x_hat).sum(axis=(0, 2, 3), keepdims=True)
    dbeta = dout.sum(axis=(0, 2, 3), keepdims=True)
    dx_hat = (dout * gamma).reshape(N, G, C // G, H, W)
    x_hat_g = x_hat.reshape(N, G, C // G, H, W)
    axes = (2, 3, 4)
    dx = (dx_hat - dx_hat.mean(axis=axes, keepdims=True)
          - x_hat_g * (dx_hat * x_hat_g).mean(axis=axes, keepdims=True)) / std
    return dx.reshape(N, C, H, W), dgamma, dbeta
    ### END SOLUTION


def receptive_field(layers):
    """Receptive field of a stack of convolutions (or pools).

    Args:
        layers: list of ``(kernel, stride)`` pairs, from the input to the output.

    Returns:
        An int: the size, in input pixels along one axis, of the region one output unit sees.
    """
    ### BEGIN SOLUTION
    size, jump = 1, 1
    for kernel, stride in layers:
        size += (kernel - 1) * jump
        jump *= stride
    return int(size)
    ### END SOLUTION


def conv_cost(in_shape, w_shape, stride, pad):
    """Shape and cost of one example through a convolutional layer.

    Args:
        in_shape: ``(C, H, W)``.
        w_shape: ``(F, C, HH, WW)``.
        stride, pad: as in ``conv_forward_naive``.

    Returns:
        A dict with Python ints:

        - ``'out_shape'``: the tuple ``(F, H', W')``;
        - ``'params'``: number of weights and biases, ``F*C*HH*WW + F``;
        - ``'macs'``: multiply-accumulates, ``F*C*HH*WW*H'*W'``.
    """
    ### BEGIN SOLUTION
    C, H, W = in_shape
    F, _, HH, WW = w_shape
    out_h, out_w = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    weights = F * C * HH * WW
    return {"out_shape": (int(F), int(out_h), int(out_w)), "params": int(weights + F),
            "macs": int(weights * out_h * out_w)}
    ### END SOLUTION
