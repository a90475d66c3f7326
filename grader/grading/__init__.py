"""Grading: a check run on one submission (`session`), the course's rules for running its code
(`course`), submissions found in a folder or a notebook (`discovery`, `notebooks`), batches run
by an engine (`batch`, `engines`) and the gradebook they fill (`gradebook`).

It builds on the engine (dlgrade.checkers) and the call boundary (grader.boundary).
"""
