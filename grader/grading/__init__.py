"""Grading: a check run on one submission (`session`), submissions found in a folder (`discovery`)
or a notebook (`notebooks`), batches (`batch`) run on an engine (`engines`) and the gradebook they
fill (`gradebook`).

It builds on the engine (dlgrade.checkers) and the call boundary (grader.boundary).
"""
