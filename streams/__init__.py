"""The event contract shared by every process: events, topics, codec, settings, logging, errors.

This package imports nothing else of the project (enforced by tests/unit/test_dependency_rule.py).
"""
