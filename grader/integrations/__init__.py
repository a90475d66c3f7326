"""Integrations with other tools: nbgrader (`nbgrader_bridge`), pytest (`pytest_plugin`) and
GitHub Actions (`ci_template.yml`)."""
