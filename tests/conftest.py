"""Root pytest configuration: the one infrastructure fixture module (tests/infra_fixtures.py)."""

pytest_plugins = ["infra_fixtures"]
