"""One module per assignment, each a list `EXERCISES` of declarations (see checkers.properties)."""
