# sample: append to layers.py
# Carol's ReLU passes gradient at exactly 0, and her tanh keeps its cache in a global.

_last_tanh = None


def relu_backward(dout, cache):
    (x,) = cache
    return dout * (x >= 0)


def tanh_forward(x):
    global _last_tanh
    _last_tanh = np.tanh(x)
    return _last_tanh, None


def tanh_backward(dout, cache):
    return dout * (1 - _last_tanh ** 2)
