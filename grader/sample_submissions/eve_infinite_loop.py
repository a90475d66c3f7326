# sample: append to layers.py
# Eve's sigmoid never returns: the worker is stopped and only this exercise loses its points.


def sigmoid_forward(x):
    while True:
        pass
