"""Trusted oracles: each exercise's function in torch float64; gradients come from autograd."""
