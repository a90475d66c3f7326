"""The references of a6_attention: attention and positional encodings (one module per module of `assignments/a6_attention/`)."""
