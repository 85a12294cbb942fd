"""Errors of the evaluation package."""

from __future__ import annotations

from streams.errors import BiogasError


class EvaluationError(BiogasError):
    """Root of the evaluation subtree."""


class BenchmarkDataError(EvaluationError):
    """Benchmark data is missing or not in the expected layout; the message names the path."""
