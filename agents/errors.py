"""The agents' error subtree; vendor errors (aiokafka, onnxruntime) are translated into these."""

from __future__ import annotations

from streams.errors import BiogasError


class AgentsError(BiogasError):
    """Root of every error raised on purpose by the stream agents."""


class StateError(AgentsError):
    """A state snapshot cannot be read back (corrupt, or written by an incompatible version)."""


class ModelError(AgentsError):
    """A model cannot be built, loaded or run."""


class ModelRejectedError(ModelError):
    """A deployed model failed verification (signature, digest, features) and was not loaded."""


class PublishError(AgentsError):
    """An output event could not be delivered to the broker."""
