"""The last stage: findings, the report and its renderers (text, JSON, SARIF, GitHub)."""
