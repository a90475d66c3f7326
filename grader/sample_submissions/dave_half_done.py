# sample: remove net.py
# Dave has not started the network yet: net.py is missing from his folder.
