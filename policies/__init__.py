"""abicheck's own policy data (JSON), shipped inside the wheel as abicheck.policies."""
