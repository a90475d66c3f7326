"""Reference recurrent layers for a5_rnn, written from the contract's formulas: forward values
only, autograd supplies every backward (through time included).

Shapes: x `(N, D)` per step and `(N, T, D)` for a sequence, hidden size H. The weight blocks are
laid out along the last axis in the contract's order:

- LSTM: `Wx (D, 4H)`, `Wh (H, 4H)`, `b (4H,)` in the gate order i, f, o, g (CS231n's order;
  torch.nn.LSTMCell stacks i, f, g, o along its first axis instead);
- GRU: `Wx (D, 3H)`, `Wh (H, 3H)`, `b (3H,)` in the order z, r, n, with the reset gate applied to
  the previous hidden state BEFORE its matrix product: `n = tanh(x Wx_n + (r * h) Wh_n + b_n)`.
  torch.nn.GRUCell applies it AFTER (`r * (h W_hn + b_hn)`, as in Cho et al.'s second form and
  cuDNN); the two agree only where r = 1 or h = 0. `gru_step_reset_after` is torch's form,
  kept to cross-check this module against torch and to recognise that mistake.
"""

import torch
import torch.nn.functional as F


def _blocks(a: torch.Tensor, count: int) -> tuple[torch.Tensor, ...]:
    """Split the last axis of `a` into `count` equal blocks."""
    return tuple(torch.chunk(a, count, dim=-1))


def rnn_step(x: torch.Tensor, prev_h: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor,
             b: torch.Tensor) -> torch.Tensor:
    """One step of a tanh RNN: next_h = tanh(x Wx + prev_h Wh + b)."""
    return torch.tanh(x @ Wx + prev_h @ Wh + b)


def lstm_step(x: torch.Tensor, prev_h: torch.Tensor, prev_c: torch.Tensor, Wx: torch.Tensor,
              Wh: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, gates i, f, o, g: c' = f*c + i*g, h' = o*tanh(c'); returns (h', c')."""
    a_i, a_f, a_o, a_g = _blocks(x @ Wx + prev_h @ Wh + b, 4)
    i, f, o, g = torch.sigmoid(a_i), torch.sigmoid(a_f), torch.sigmoid(a_o), torch.tanh(a_g)
    next_c = f * prev_c + i * g
    return o * torch.tanh(next_c), next_c


def gru_step(x: torch.Tensor, prev_h: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor,
             b: torch.Tensor) -> torch.Tensor:
    """One GRU step, blocks z, r, n, reset before the product: h' = z*h + (1-z)*n."""
    x_z, x_r, x_n = _blocks(x @ Wx + b, 3)
    Wh_z, Wh_r, Wh_n = _blocks(Wh, 3)
    z = torch.sigmoid(x_z + prev_h @ Wh_z)
    r = torch.sigmoid(x_r + prev_h @ Wh_r)
    n = torch.tanh(x_n + (r * prev_h) @ Wh_n)
    return z * prev_h + (1 - z) * n


def gru_step_reset_after(x: torch.Tensor, prev_h: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor,
                         b: torch.Tensor) -> torch.Tensor:
    """torch.nn.GRUCell's form of a GRU step (NOT the contract's): the reset gate scales the
    product, n = tanh(x Wx_n + b_n + r * (h Wh_n)); otherwise as `gru_step`."""
    x_z, x_r, x_n = _blocks(x @ Wx + b, 3)
    h_z, h_r, h_n = _blocks(prev_h @ Wh, 3)
    z, r = torch.sigmoid(x_z + h_z), torch.sigmoid(x_r + h_r)
    n = torch.tanh(x_n + r * h_n)
    return z * prev_h + (1 - z) * n


def _through_time(step, x: torch.Tensor, h0: torch.Tensor, *weights: torch.Tensor) -> torch.Tensor:
    """Run a one-state step (RNN, GRU) over x (N, T, D) from h0; the hidden states (N, T, H)."""
    h, hs = h0, []
    for t in range(x.shape[1]):
        h = step(x[:, t], h, *weights)
        hs.append(h)
    return torch.stack(hs, dim=1)


def rnn(x: torch.Tensor, h0: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """A tanh RNN over a sequence x (N, T, D) from h0 (N, H): every hidden state, (N, T, H)."""
    return _through_time(rnn_step, x, h0, Wx, Wh, b)


def gru(x: torch.Tensor, h0: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """A GRU over a sequence x (N, T, D) from h0 (N, H): every hidden state, (N, T, H)."""
    return _through_time(gru_step, x, h0, Wx, Wh, b)


def gru_reset_after(x: torch.Tensor, h0: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor,
                    b: torch.Tensor) -> torch.Tensor:
    """torch.nn.GRU's form over a sequence (NOT the contract's; see `gru_step_reset_after`)."""
    return _through_time(gru_step_reset_after, x, h0, Wx, Wh, b)


def lstm(x: torch.Tensor, h0: torch.Tensor, Wx: torch.Tensor, Wh: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """An LSTM over a sequence x (N, T, D) from h0 (N, H) and c0 = 0: every hidden state (N, T, H)."""
    h, c, hs = h0, torch.zeros_like(h0), []
    for t in range(x.shape[1]):
        h, c = lstm_step(x[:, t], h, c, Wx, Wh, b)
        hs.append(h)
    return torch.stack(hs, dim=1)


def word_embedding(x: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """Rows of W (V, D) looked up by integer indices x (N, T): (N, T, D). Autograd sums the
    gradients of repeated indices, as the contract asks."""
    return W[x]


def temporal_affine(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The same affine map at every time step: x (N, T, D) @ w (D, M) + b (M,) -> (N, T, M)."""
    return x @ w + b


def temporal_softmax_loss(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of scores x (N, T, V) against labels y (N, T) at the steps where mask
    (N, T) is true, summed over time and averaged over the batch N."""
    picked = F.log_softmax(x, dim=-1).gather(-1, y[..., None])[..., 0]
    # where, not multiplication: a masked step adds exactly 0 whatever its scores are.
    return -torch.where(mask, picked, torch.zeros_like(picked)).sum() / x.shape[0]
