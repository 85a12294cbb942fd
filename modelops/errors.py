"""Errors of the model lifecycle."""

from __future__ import annotations

from streams.errors import BiogasError


class ModelOpsError(BiogasError):
    """Root of the modelops subtree."""


class ParityError(ModelOpsError):
    """The ONNX model does not reproduce the scikit-learn model; promotion is refused."""


class RegistryError(ModelOpsError):
    """A registry entry is missing, unsigned or inconsistent; the message names it."""


class TrainingDataError(ModelOpsError):
    """Not enough (or no) training data for the plant and range asked for."""
