# sample: append to losses.py
# Bob sums the softmax loss over the batch instead of averaging it.


def softmax_loss(x, y):
    shifted = x - x.max(axis=1, keepdims=True)
    p = np.exp(shifted)
    p /= p.sum(axis=1, keepdims=True)
    n = len(y)
    loss = -np.log(p[np.arange(n), y]).sum()
    dx = p.copy()
    dx[np.arange(n), y] -= 1
    return float(loss), dx
