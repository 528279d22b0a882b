"""Validation rules: issue types and reports (issue.py), the engine, and one module per check."""
