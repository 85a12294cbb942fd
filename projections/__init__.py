"""Projections: the log materialised into PostgreSQL/TimescaleDB, rebuildable by replay."""
