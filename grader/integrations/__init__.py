"""Integrations with other tools: nbgrader (`nbgrader_bridge`), pytest (`pytest_plugin`), the CI of
a course repository (`ci_templates`: GitHub Actions with Classroom, GitLab CI), and the graders a
course platform runs (`gradescope_autograder`, `prairielearn_grader`, sharing `hosted`)."""
