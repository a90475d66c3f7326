"""Everything around running checks on real submissions, in layers (lowest first): the call
boundary (`boundary/`), grading (`grading/`), outputs (`outputs/`), integrations
(`integrations/`), and on top the `dlgrade` command (`cli`), the demo and release. A layer imports
only the layers below it and the engine (dlgrade.checkers); see tests/test_layers.py."""
