"""Checks of the trusted a5_rnn oracles: autograd against finite differences, and each layer against
torch's own modules where their layouts can be mapped onto the contract's.

torch.nn.LSTMCell stacks its gates i, f, g, o (the contract: i, f, o, g) and keeps two biases;
torch.nn.GRUCell stacks r, z, n (the contract: z, r, n) and applies the reset gate AFTER the hidden
product, r * (h W_hn + b_hn), where the contract applies it before, (r * h) Wh_n. So the contract's
GRU equals GRUCell only where r = 1 or h = 0; torch's form is `gru_step_reset_after`, which is
checked against GRUCell everywhere.
"""

import pytest
import torch
import torch.nn.functional as F

import dlgrade.reference.a5_rnn.rnn_layers as ref

SEED = 5
N, T, D, H, V = 3, 4, 2, 3, 5


def _randn(gen, *shape, scale=1.0):
    return scale * torch.randn(*shape, generator=gen, dtype=torch.float64)


def _weights(gen, blocks):
    return _randn(gen, D, blocks * H, scale=0.5), _randn(gen, H, blocks * H, scale=0.5), _randn(gen, blocks * H, scale=0.5)


def _step_inputs(gen, blocks, cell=False):
    state = (_randn(gen, N, H, scale=0.5),) + ((_randn(gen, N, H),) if cell else ())
    return (_randn(gen, N, D), *state, *_weights(gen, blocks))


def _sequence_inputs(gen, blocks):
    return (_randn(gen, N, T, D), _randn(gen, N, H, scale=0.5), *_weights(gen, blocks))


def _reorder(w, blocks, order):
    """Column blocks of w (last axis) taken in `order`."""
    parts = torch.chunk(w, blocks, dim=-1)
    return torch.cat([parts[k] for k in order], dim=-1)


CASES = {
    "rnn_step": (ref.rnn_step, lambda g: _step_inputs(g, 1)),
    "lstm_step": (ref.lstm_step, lambda g: _step_inputs(g, 4, cell=True)),
    "gru_step": (ref.gru_step, lambda g: _step_inputs(g, 3)),
    "gru_step_reset_after": (ref.gru_step_reset_after, lambda g: _step_inputs(g, 3)),
    "rnn": (ref.rnn, lambda g: _sequence_inputs(g, 1)),
    "lstm": (ref.lstm, lambda g: _sequence_inputs(g, 4)),
    "gru": (ref.gru, lambda g: _sequence_inputs(g, 3)),
    "temporal_affine": (ref.temporal_affine, lambda g: (_randn(g, N, T, D), _randn(g, D, 4), _randn(g, 4))),
}


@pytest.mark.parametrize("name", list(CASES))
def test_autograd_matches_finite_differences(name):
    fn, make = CASES[name]
    inputs = tuple(t.requires_grad_(True) for t in make(torch.Generator().manual_seed(SEED)))
    assert torch.autograd.gradcheck(fn, inputs)


def test_embedding_gradient_sums_repeated_indices():
    gen = torch.Generator().manual_seed(SEED)
    W = _randn(gen, V, D).requires_grad_(True)
    x = torch.tensor([[1, 1, 4], [1, 0, 4]])
    dout = _randn(gen, 2, 3, D)
    (ref.word_embedding(x, W) * dout).sum().backward()
    torch.testing.assert_close(W.grad[1], dout[0, 0] + dout[0, 1] + dout[1, 0])
    torch.testing.assert_close(W.grad[2], torch.zeros(D, dtype=torch.float64))
    torch.testing.assert_close(ref.word_embedding(x, W), F.embedding(x, W))
    assert torch.autograd.gradcheck(lambda w: ref.word_embedding(x, w), (W.detach().clone().requires_grad_(True),))


def test_temporal_softmax_loss_matches_cross_entropy_and_ignores_masked_steps():
    gen = torch.Generator().manual_seed(SEED)
    x = _randn(gen, N, T, V, scale=2.0).requires_grad_(True)
    y = torch.randint(V, (N, T), generator=gen)
    mask = torch.rand(N, T, generator=gen) < 0.6
    per_step = F.cross_entropy(x.reshape(-1, V), y.reshape(-1), reduction="none").reshape(N, T)
    torch.testing.assert_close(ref.temporal_softmax_loss(x, y, mask), (per_step * mask).sum() / N)
    ref.temporal_softmax_loss(x, y, mask).backward()
    assert (x.grad[~mask] == 0).all()
    assert torch.autograd.gradcheck(lambda s: ref.temporal_softmax_loss(s, y, mask), (x.detach().clone().requires_grad_(True),))


def test_rnn_matches_torch_rnn():
    gen = torch.Generator().manual_seed(SEED)
    x, h0, Wx, Wh, b = _sequence_inputs(gen, 1)
    rnn = torch.nn.RNN(D, H, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(Wx.T), rnn.weight_hh_l0.copy_(Wh.T), rnn.bias_ih_l0.copy_(b), rnn.bias_hh_l0.zero_()
        out, _ = rnn(x, h0[None])
    torch.testing.assert_close(ref.rnn(x, h0, Wx, Wh, b), out)


def _torch_lstm_layout(Wx, Wh, b):
    """The contract's i, f, o, g blocks as torch's i, f, g, o rows."""
    order = (0, 1, 3, 2)
    return _reorder(Wx, 4, order).T, _reorder(Wh, 4, order).T, _reorder(b, 4, order)


def test_lstm_step_matches_torch_lstm_cell():
    gen = torch.Generator().manual_seed(SEED)
    x, h, c, Wx, Wh, b = _step_inputs(gen, 4, cell=True)
    cell = torch.nn.LSTMCell(D, H, dtype=torch.float64)
    w_ih, w_hh, bias = _torch_lstm_layout(Wx, Wh, b)
    with torch.no_grad():
        cell.weight_ih.copy_(w_ih), cell.weight_hh.copy_(w_hh), cell.bias_ih.copy_(bias), cell.bias_hh.zero_()
        want_h, want_c = cell(x, (h, c))
    got_h, got_c = ref.lstm_step(x, h, c, Wx, Wh, b)
    torch.testing.assert_close(got_h, want_h)
    torch.testing.assert_close(got_c, want_c)


def test_lstm_matches_torch_lstm_with_zero_initial_cell():
    gen = torch.Generator().manual_seed(SEED)
    x, h0, Wx, Wh, b = _sequence_inputs(gen, 4)
    lstm = torch.nn.LSTM(D, H, batch_first=True, dtype=torch.float64)
    w_ih, w_hh, bias = _torch_lstm_layout(Wx, Wh, b)
    with torch.no_grad():
        lstm.weight_ih_l0.copy_(w_ih), lstm.weight_hh_l0.copy_(w_hh), lstm.bias_ih_l0.copy_(bias), lstm.bias_hh_l0.zero_()
        out, _ = lstm(x, (h0[None], torch.zeros(1, N, H, dtype=torch.float64)))
    torch.testing.assert_close(ref.lstm(x, h0, Wx, Wh, b), out)


def _gru_cell(Wx, Wh, b):
    """A torch GRUCell holding the contract's z, r, n weights in its r, z, n layout."""
    order = (1, 0, 2)
    cell = torch.nn.GRUCell(D, H, dtype=torch.float64)
    with torch.no_grad():
        cell.weight_ih.copy_(_reorder(Wx, 3, order).T), cell.weight_hh.copy_(_reorder(Wh, 3, order).T)
        cell.bias_ih.copy_(_reorder(b, 3, order)), cell.bias_hh.zero_()
    return cell


def test_torch_form_of_the_gru_matches_gru_cell():
    x, h, Wx, Wh, b = _step_inputs(torch.Generator().manual_seed(SEED), 3)
    with torch.no_grad():
        torch.testing.assert_close(ref.gru_step_reset_after(x, h, Wx, Wh, b), _gru_cell(Wx, Wh, b)(x, h))


def test_contract_gru_matches_gru_cell_where_reset_is_one_or_h_is_zero():
    x, h, Wx, Wh, b = _step_inputs(torch.Generator().manual_seed(SEED), 3)
    b_open = b.clone()
    b_open[H:2 * H] = 60.0  # sigmoid(60 + O(1)) rounds to exactly 1: the reset gate lets all of h through
    with torch.no_grad():
        torch.testing.assert_close(ref.gru_step(x, h, Wx, Wh, b_open), _gru_cell(Wx, Wh, b_open)(x, h))
        zero = torch.zeros_like(h)
        torch.testing.assert_close(ref.gru_step(x, zero, Wx, Wh, b), _gru_cell(Wx, Wh, b)(x, zero))
        # ... and differs in general: the two conventions are not the same layer.
        assert not torch.allclose(ref.gru_step(x, h, Wx, Wh, b), _gru_cell(Wx, Wh, b)(x, h))


def test_sequences_are_their_steps_through_time():
    gen = torch.Generator().manual_seed(SEED)
    x, h0, Wx, Wh, b = _sequence_inputs(gen, 3)
    h, hs = h0, []
    for t in range(T):
        h = ref.gru_step(x[:, t], h, Wx, Wh, b)
        hs.append(h)
    torch.testing.assert_close(ref.gru(x, h0, Wx, Wh, b), torch.stack(hs, dim=1))
    torch.testing.assert_close(ref.gru_reset_after(x[:, :1], h0, Wx, Wh, b)[:, 0],
                               ref.gru_step_reset_after(x[:, 0], h0, Wx, Wh, b))
