"""Recurrent layers for assignment a5_rnn: a tanh RNN, an LSTM and a GRU (one step and a whole
sequence each), word embeddings, a temporal affine layer and a masked temporal softmax loss.

Shapes: a minibatch of N sequences of length T; x has shape ``(N, D)`` for one step and
``(N, T, D)`` for a whole sequence; the hidden state has size H.

Every layer comes as a pair of functions:

- ``NAME_forward(...) -> (out, cache)`` (the LSTM step returns ``(next_h, next_c, cache)``)
  computes the output and returns a ``cache``: whatever the matching backward needs (a tuple of
  your choice; the checker never looks inside it);
- ``NAME_backward(dout, cache) -> grads`` receives the gradient of the loss with respect to each
  output and returns the gradient with respect to each differentiable input of the forward, in
  the forward's argument order.

Conventions for every function in this file:

- every returned gradient has exactly the shape of the input it belongs to;
- inputs (including the upstream gradients) are never modified: return new arrays, never an
  input or a view of one;
- a float32 input gives float32 outputs (watch out for operations that silently upcast to
  float64, such as ``np.zeros(shape)`` without ``dtype=``);
- the sequence functions may (and are meant to) call the step functions of this file;
- use numpy only.
"""

import numpy as np


def sigmoid(x):
    """A numerically stable logistic function, ``1 / (1 + exp(-x))``, that keeps x's dtype.

    (Given: use it in the LSTM and the GRU.)
    """
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a vanilla RNN with a tanh activation.

    ``next_h = tanh(x @ Wx + prev_h @ Wh + b)``

    Args:
        x: input at this step, shape ``(N, D)``.
        prev_h: hidden state of the previous step, shape ``(N, H)``.
        Wx: input-to-hidden weights, shape ``(D, H)``.
        Wh: hidden-to-hidden weights, shape ``(H, H)``.
        b: biases, shape ``(H,)``.

    Returns:
        A tuple ``(next_h, cache)``:

        - next_h: next hidden state, shape ``(N, H)``.
        - cache: whatever ``rnn_step_backward`` needs.
    """
    ### BEGIN SOLUTION
    next_h = np.tanh(x @ Wx + prev_h @ Wh + b)
    cache = (x, prev_h, Wx, Wh, next_h)
    return next_h, cache
    ### END SOLUTION


def rnn_step_backward(dnext_h, cache):
    """Backward pass of one time step of a vanilla RNN.

    Args:
        dnext_h: gradient of the loss with respect to next_h, shape ``(N, H)``.
        cache: the cache returned by ``rnn_step_forward``.

    Returns:
        A tuple ``(dx, dprev_h, dWx, dWh, db)`` with the shapes of
        ``x, prev_h, Wx, Wh, b``.
    """
    ### BEGIN SOLUTION
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h ** 2)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db
    ### END SOLUTION


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over a whole sequence: ``rnn_step_forward`` at every time step, each step
    starting from the hidden state of the step before (h0 before the first).

    Args:
        x: input sequence, shape ``(N, T, D)``.
        h0: initial hidden state, shape ``(N, H)``.
        Wx: input-to-hidden weights, shape ``(D, H)``.
        Wh: hidden-to-hidden weights, shape ``(H, H)``.
        b: biases, shape ``(H,)``.

    Returns:
        A tuple ``(h, cache)``:

        - h: the hidden state of every step, shape ``(N, T, H)``.
        - cache: whatever ``rnn_backward`` needs.
    """
    ### BEGIN SOLUTION
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
    prev_h, steps = h0, []
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        steps.append(step_cache)
    return h, steps
    ### END SOLUTION


def rnn_backward(dh, cache):
    """Backward pass of a vanilla RNN over a whole sequence (backpropagation through time).

    ``dh[:, t]`` is the gradient of the loss with respect to the hidden state ``h[:, t]`` as the
    layers above see it; the gradient that reaches ``h[:, t]`` is that PLUS what flows back from
    step t + 1. The weights are shared by every step, so their gradients are sums over steps.

    Args:
        dh: upstream gradient of every hidden state, shape ``(N, T, H)``.
        cache: the cache returned by ``rnn_forward``.

    Returns:
        A tuple ``(dx, dh0, dWx, dWh, db)`` with the shapes of ``x, h0, Wx, Wh, b``.
    """
    ### BEGIN SOLUTION
    steps = cache
    N, T, H = dh.shape
    _, _, Wx, Wh, _ = steps[0]
    dx = np.zeros((N, T, Wx.shape[0]), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(H, dtype=dh.dtype)
    dprev_h = np.zeros_like(dh[:, 0])
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t] + dprev_h, steps[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
    ### END SOLUTION


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One time step of an LSTM.

    The activation ``a = x @ Wx + prev_h @ Wh + b`` has shape ``(N, 4H)``; its four blocks of H
    columns are, IN THIS ORDER, the input gate i, the forget gate f, the output gate o and the
    cell candidate g (``a[:, :H]`` is i's, ``a[:, H:2H]`` f's, ``a[:, 2H:3H]`` o's,
    ``a[:, 3H:]`` g's):

    ``i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o)``;  ``g = tanh(a_g)``;
    ``next_c = f * prev_c + i * g``;  ``next_h = o * tanh(next_c)``.

    Args:
        x: input at this step, shape ``(N, D)``.
        prev_h: previous hidden state, shape ``(N, H)``.
        prev_c: previous cell state, shape ``(N, H)``.
        Wx: input-to-hidden weights, shape ``(D, 4H)``.
        Wh: hidden-to-hidden weights, shape ``(H, 4H)``.
        b: biases, shape ``(4H,)``.

    Returns:
        A tuple ``(next_h, next_c, cache)``:

        - next_h: next hidden state, shape ``(N, H)``.
        - next_c: next cell state, shape ``(N, H)``.
        - cache: whatever ``lstm_step_backward`` needs.
    """
    ### BEGIN SOLUTION
    H = prev_h.shape[1]
    a = x @ Wx + prev_h @ Wh + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    tanh_c = np.tanh(next_c)
    next_h = o * tanh_c
    cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c)
    return next_h, next_c, cache
    ### END SOLUTION


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of one LSTM step.

    The gradient reaches next_c both directly (``dnext_c``) and through ``next_h``.

    Args:
        dnext_h: gradient of the loss with respect to next_h, shape ``(N, H)``.
        dnext_c: gradient of the loss with respect to next_c, shape ``(N, H)``.
        cache: the cache returned by ``lstm_step_forward``.

    Returns:
        A tuple ``(dx, dprev_h, dprev_c, dWx, dWh, db)`` with the shapes of
        ``x, prev_h, prev_c, Wx, Wh, b``.
    """
    ### BEGIN SOLUTION
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, tanh_c = cache
    dc = dnext_c + dnext_h * o * (1 - tanh_c ** 2)
    da = np.concatenate([dc * g * i * (1 - i),
                         dc * prev_c * f * (1 - f),
                         dnext_h * tanh_c * o * (1 - o),
                         dc * i * (1 - g ** 2)], axis=1)
    dx = da @ Wx.T
    dprev_h = da @ Wh.T
    dprev_c = dc * f
    dWx = x.T @ da
    dWh = prev_h.T @ da
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db
    ### END SOLUTION


def lstm_forward(x, h0, Wx, Wh, b):
    """An LSTM over a whole sequence: ``lstm_step_forward`` at every step, from the hidden state
    h0 and an initial cell state of zeros (``c0 = 0``, not an argument).

    Args:
        x: input sequence, shape ``(N, T, D)``.
        h0: initial hidden state, shape ``(N, H)``.
        Wx: input-to-hidden weights, shape ``(D, 4H)``.
        Wh: hidden-to-hidden weights, shape ``(H, 4H)``.
        b: biases, shape ``(4H,)``.

    Returns:
        A tuple ``(h, cache)``:

        - h: the hidden state of every step, shape ``(N, T, H)`` (the cell states are internal).
        - cache: whatever ``lstm_backward`` needs.
    """
    ### BEGIN SOLUTION
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
    prev_h, prev_c, steps = h0, np.zeros_like(h0), []
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t], prev_h, prev_c, Wx, Wh, b)
        h[:, t] = prev_h
        steps.append(step_cache)
    return h, steps
    ### END SOLUTION


def lstm_backward(dh, cache):
    """Backward pass of an LSTM over a whole sequence (backpropagation through time).

    ``dh[:, t]`` is the upstream gradient of ``h[:, t]``; the hidden state and the cell state
    each also receive the gradient flowing back from step t + 1. The weights are shared by every
    step, so their gradients are sums over steps.

    Args:
        dh: upstream gradient of every hidden state, shape ``(N, T, H)``.
        cache: the cache returned by ``lstm_forward``.

    Returns:
        A tuple ``(dx, dh0, dWx, dWh, db)`` with the shapes of ``x, h0, Wx, Wh, b`` (no
        gradient for c0, which is not an input).
    """
    ### BEGIN SOLUTION
    steps = cache
    N, T, H = dh.shape
    Wx, Wh = steps[0][3:5]
    dx = np.zeros((N, T, Wx.shape[0]), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(4 * H, dtype=dh.dtype)
    dprev_h, dprev_c = np.zeros_like(dh[:, 0]), np.zeros_like(dh[:, 0])
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(dh[:, t] + dprev_h, dprev_c, steps[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
    ### END SOLUTION


def gru_step_forward(x, prev_h, Wx, Wh, b):
    """One time step of a GRU.

    The weights and biases have three blocks of H columns, IN THIS ORDER: the update gate z,
    the reset gate r and the candidate n (``Wx[:, :H]`` is ``Wx_z``, ``Wx[:, H:2H]`` is
    ``Wx_r``, ``Wx[:, 2H:]`` is ``Wx_n``; likewise for Wh and b):

    ``z = sigmoid(x @ Wx_z + prev_h @ Wh_z + b_z)``;
    ``r = sigmoid(x @ Wx_r + prev_h @ Wh_r + b_r)``;
    ``n = tanh(x @ Wx_n + (r * prev_h) @ Wh_n + b_n)``  (the reset gate scales prev_h BEFORE
    the product; torch.nn.GRU instead scales the product, ``r * (prev_h @ Wh_n)``: that is not
    this function);
    ``next_h = z * prev_h + (1 - z) * n``.

    Args:
        x: input at this step, shape ``(N, D)``.
        prev_h: previous hidden state, shape ``(N, H)``.
        Wx: input-to-hidden weights, shape ``(D, 3H)``.
        Wh: hidden-to-hidden weights, shape ``(H, 3H)``.
        b: biases, shape ``(3H,)``.

    Returns:
        A tuple ``(next_h, cache)``:

        - next_h: next hidden state, shape ``(N, H)``.
        - cache: whatever ``gru_step_backward`` needs.
    """
    ### BEGIN SOLUTION
    H = prev_h.shape[1]
    ax = x @ Wx + b
    z = sigmoid(ax[:, :H] + prev_h @ Wh[:, :H])
    r = sigmoid(ax[:, H:2 * H] + prev_h @ Wh[:, H:2 * H])
    reset_h = r * prev_h
    n = np.tanh(ax[:, 2 * H:] + reset_h @ Wh[:, 2 * H:])
    next_h = z * prev_h + (1 - z) * n
    cache = (x, prev_h, Wx, Wh, z, r, n, reset_h)
    return next_h, cache
    ### END SOLUTION


def gru_step_backward(dnext_h, cache):
    """Backward pass of one GRU step.

    Args:
        dnext_h: gradient of the loss with respect to next_h, shape ``(N, H)``.
        cache: the cache returned by ``gru_step_forward``.

    Returns:
        A tuple ``(dx, dprev_h, dWx, dWh, db)`` with the shapes of ``x, prev_h, Wx, Wh, b``.
    """
    ### BEGIN SOLUTION
    x, prev_h, Wx, Wh, z, r, n, reset_h = cache
    H = prev_h.shape[1]
    Wh_zr, Wh_n = Wh[:, :2 * H], Wh[:, 2 * H:]
    da_n = dnext_h * (1 - z) * (1 - n ** 2)
    dreset_h = da_n @ Wh_n.T
    da_z = dnext_h * (prev_h - n) * z * (1 - z)
    da_r = dreset_h * prev_h * r * (1 - r)
    da_zr = np.concatenate([da_z, da_r], axis=1)
    da = np.concatenate([da_zr, da_n], axis=1)
    dx = da @ Wx.T
    dprev_h = dnext_h * z + dreset_h * r + da_zr @ Wh_zr.T
    dWx = x.T @ da
    dWh = np.concatenate([prev_h.T @ da_zr, reset_h.T @ da_n], axis=1)
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db
    ### END SOLUTION


def gru_forward(x, h0, Wx, Wh, b):
    """A GRU over a whole sequence: ``gru_step_forward`` at every time step, from h0.

    Args:
        x: input sequence, shape ``(N, T, D)``.
        h0: initial hidden state, shape ``(N, H)``.
        Wx: input-to-hidden weights, shape ``(D, 3H)``.
        Wh: hidden-to-hidden weights, shape ``(H, 3H)``.
        b: biases, shape ``(3H,)``.

    Returns:
        A tuple ``(h, cache)``:

        - h: the hidden state of every step, shape ``(N, T, H)``.
        - cache: whatever ``gru_backward`` needs.
    """
    ### BEGIN SOLUTION
    N, T, _ = x.shape
    h = np.zeros((N, T, h0.shape[1]), dtype=x.dtype)
    prev_h, steps = h0, []
    for t in range(T):
        prev_h, step_cache = gru_step_forward(x[:, t], prev_h, Wx, Wh, b)
        h[:, t] = prev_h
        steps.append(step_cache)
    return h, steps
    ### END SOLUTION


def gru_backward(dh, cache):
    """Backward pass of a GRU over a whole sequence (backpropagation through time).

    ``dh[:, t]`` is the upstream gradient of ``h[:, t]``; the hidden state also receives the
    gradient flowing back from step t + 1; the weights' gradients are sums over steps.

    Args:
        dh: upstream gradient of every hidden state, shape ``(N, T, H)``.
        cache: the cache returned by ``gru_forward``.

    Returns:
        A tuple ``(dx, dh0, dWx, dWh, db)`` with the shapes of ``x, h0, Wx, Wh, b``.
    """
    ### BEGIN SOLUTION
    steps = cache
    N, T, H = dh.shape
    _, _, Wx, Wh = steps[0][:4]
    dx = np.zeros((N, T, Wx.shape[0]), dtype=dh.dtype)
    dWx, dWh, db = np.zeros_like(Wx), np.zeros_like(Wh), np.zeros(3 * H, dtype=dh.dtype)
    dprev_h = np.zeros_like(dh[:, 0])
    for t in reversed(range(T)):
        dx[:, t], dprev_h, dWx_t, dWh_t, db_t = gru_step_backward(dh[:, t] + dprev_h, steps[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
    ### END SOLUTION


def word_embedding_forward(x, W):
    """Word embeddings: each integer index looks up a row of W.

    ``out[n, t] = W[x[n, t]]``

    Args:
        x: integer array of indices, shape ``(N, T)``, each ``0 <= x[n, t] < V``; the same
            index may appear many times.
        W: the embedding of every word, shape ``(V, D)``.

    Returns:
        A tuple ``(out, cache)``:

        - out: shape ``(N, T, D)``.
        - cache: whatever ``word_embedding_backward`` needs.
    """
    ### BEGIN SOLUTION
    out = W[x]
    cache = (x, W.shape[0])
    return out, cache
    ### END SOLUTION


def word_embedding_backward(dout, cache):
    """Backward pass of word embeddings (indices are not differentiable: only W has a gradient).

    An index that appears several times in x collects the SUM of the gradients of all its
    appearances. Beware: ``dW[x] += dout`` does not do that (with repeated indices numpy writes
    one of them only); ``np.add.at`` does.

    Args:
        dout: upstream gradient, shape ``(N, T, D)``.
        cache: the cache returned by ``word_embedding_forward``.

    Returns:
        dW: gradient with respect to W, shape ``(V, D)``.
    """
    ### BEGIN SOLUTION
    x, V = cache
    dW = np.zeros((V, dout.shape[-1]), dtype=dout.dtype)
    np.add.at(dW, x, dout)
    return dW
    ### END SOLUTION


def temporal_affine_forward(x, w, b):
    """The same affine map at every time step.

    ``out[n, t] = x[n, t] @ w + b``

    Args:
        x: input, shape ``(N, T, D)``.
        w: weights, shape ``(D, M)``.
        b: biases, shape ``(M,)``.

    Returns:
        A tuple ``(out, cache)``:

        - out: shape ``(N, T, M)``.
        - cache: whatever ``temporal_affine_backward`` needs.
    """
    ### BEGIN SOLUTION
    out = x @ w + b
    cache = (x, w)
    return out, cache
    ### END SOLUTION


def temporal_affine_backward(dout, cache):
    """Backward pass of the temporal affine layer.

    Args:
        dout: upstream gradient, shape ``(N, T, M)``.
        cache: the cache returned by ``temporal_affine_forward``.

    Returns:
        A tuple ``(dx, dw, db)`` with the shapes of ``x, w, b``.
    """
    ### BEGIN SOLUTION
    x, w = cache
    D, M = w.shape
    dx = dout @ w.T
    dw = x.reshape(-1, D).T @ dout.reshape(-1, M)
    db = dout.reshape(-1, M).sum(axis=0)
    return dx, dw, db
    ### END SOLUTION


def temporal_softmax_loss(x, y, mask):
    """A softmax (cross-entropy) loss at every time step, where the mask allows.

    ``loss = -(1 / N) * sum over n, t with mask[n, t] of log softmax(x[n, t])[y[n, t]]``:
    summed over time, averaged over the batch N (not over N * T, nor over the number of
    unmasked steps). A masked step (``mask[n, t]`` false) contributes nothing to the loss and
    gets a gradient of exactly 0, whatever its scores and label are. Must be numerically stable
    (subtract each row's maximum before exp).

    Args:
        x: scores, shape ``(N, T, V)``.
        y: integer labels, shape ``(N, T)``, each ``0 <= y[n, t] < V``.
        mask: booleans, shape ``(N, T)``: which steps count.

    Returns:
        A tuple ``(loss, dx)``:

        - loss: a Python float.
        - dx: gradient of the loss with respect to x, shape ``(N, T, V)``.
    """
    ### BEGIN SOLUTION
    N, T, V = x.shape
    shifted = x - x.max(axis=2, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
    n_idx, t_idx = np.meshgrid(np.arange(N), np.arange(T), indexing="ij")
    picked = log_probs[n_idx, t_idx, y]
    loss = -np.sum(np.where(mask, picked, 0.0)) / N
    dx = np.exp(log_probs)
    dx[n_idx, t_idx, y] -= 1
    dx = dx * mask[:, :, None] / N
    return float(loss), dx.astype(x.dtype, copy=False)
    ### END SOLUTION
