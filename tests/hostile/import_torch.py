"""Attacks relu_forward by importing torch (forbidden in a1_backprop) and using torch.relu."""

import numpy as np


def relu_forward(x):
    import torch

    return torch.relu(torch.from_numpy(x)).numpy(), x
