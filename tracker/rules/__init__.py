"""Validation rules: the engine (engine.py), one module per check (checks/), the renderers.

The issue types, issues and the report they produce are in the base module :mod:`tracker.issues`.
"""
