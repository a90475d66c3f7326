# sample: append to layers.py
# Alice's submission is the reference solution as it is: every exercise passes.
