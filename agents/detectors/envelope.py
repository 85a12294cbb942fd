"""The operating-envelope model: where each tag of a stream sits in normal operation.

Trained offline (:mod:`modelops.export.envelope`; the worker only loads and scores it) on a
stream's normal rows (a plant's training range, or a benchmark file's training part): per
tag, the mean and the standard deviation of its rolling mean over the last ``window_scans``
scans, and ``q99``, the 0.99 quantile over the training rows of the largest
standardised deviation of any tag. Online, for each scan, the model takes the same rolling
means and gives each tag's **deviation** ``|mean - mu| / (sd * q99)``: 1.0 is as far from
normal as the training rows went once in a hundred, on the tag that strayed most.

Alarm rule (per stream, in :class:`EnvelopeTrack`): the scan's deviation ``s`` (its largest)
raises the decaying peak ``M = max(s, d * M)`` (``d`` halves ``M`` every
``peak_half_life_scans``); a tag is flagged when its deviation exceeds
``max(alarm_level, peak_share * M)``. The second term keeps a plant that settled near, but not
exactly at, its trained point after a gross fault from alarming on the small offset left over.
With ``peak_cap`` set, ``M`` remembers at most ``peak_cap * alarm_level`` from earlier scans
(the current scan's deviation counts whole): one huge event (a fault code of 1201 where
training saw 0) then hides later, lesser faults for a few half-lives, not for weeks.
The model votes alone: its level is calibrated on the training rows, not learnt online.

The ONNX graph (float64 ``x [N, T]`` rolling means -> ``deviation [N, T]``) carries the tags and
the alarm parameters in its metadata, so the signed artifact is the whole model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnxruntime as ort

from agents.detectors.onnx_scorer import ORT_ERRORS, make_session
from agents.errors import ModelError
from agents.features.windows import F64
from streams.events import ModelRef

KIND = "envelope"
INPUT_NAME = "x"
OUTPUT_NAME = "deviation"
ONNX_OPSET = 17
META_KIND, META_TAGS, META_PARAMS = "biogas.kind", "biogas.tags", "biogas.params"


@dataclass(frozen=True)
class EnvelopeParams:
    """How deviations are smoothed and judged (defaults: see ``agents/README.md``)."""

    window_scans: int = 15
    alarm_level: float = 2.0
    peak_share: float = 0.2
    peak_half_life_scans: float = 1000.0
    #: most the peak remembers from earlier scans, in alarm levels (None: no limit)
    peak_cap: float | None = None

    def __post_init__(self) -> None:
        if self.window_scans < 1:
            raise ModelError(f"envelope window_scans must be >= 1, got {self.window_scans}")
        if not self.alarm_level > 0:
            raise ModelError(f"envelope alarm_level must be > 0, got {self.alarm_level}")
        if not 0 <= self.peak_share < 1:
            raise ModelError(f"envelope peak_share must be in [0, 1), got {self.peak_share}")
        if not self.peak_half_life_scans > 0:
            raise ModelError("envelope peak_half_life_scans must be > 0, got "
                             f"{self.peak_half_life_scans}")
        if self.peak_cap is not None and not self.peak_cap >= 1:
            raise ModelError(f"envelope peak_cap must be >= 1 (alarm levels) or null, got "
                             f"{self.peak_cap}")

    @property
    def decay(self) -> float:
        """The peak's factor per scan."""
        return float(2.0 ** (-1.0 / self.peak_half_life_scans))

    @property
    def memory_limit(self) -> float:
        """The most the peak carries over from earlier scans (inf: no limit)."""
        return np.inf if self.peak_cap is None else self.peak_cap * self.alarm_level


def frame_means(frames: F64) -> F64:
    """Means over the last axis of ``rows x tags x window`` frames, ignoring NaN (NaN where a
    frame holds no value). Training and the online track both go through here, so their
    rolling means are computed by the same operations."""
    finite = np.isfinite(frames)
    counts = finite.sum(axis=2)
    sums = np.where(finite, frames, 0.0).sum(axis=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: F64 = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    return out


def model_kind(session_meta: dict[str, str]) -> str | None:
    """The ``biogas.kind`` of an ONNX model's metadata (None for the per-reading models)."""
    return session_meta.get(META_KIND)


class WindowModel:
    """A loaded model that scores a window of its own tags (the envelope, the subspace
    model): its tags and parameters from the ONNX metadata, one session per artifact."""

    kind = KIND
    params_type: type[EnvelopeParams] = EnvelopeParams
    #: model input columns per tag
    columns_per_tag = 1

    def __init__(self, model_bytes: bytes | ort.InferenceSession, *, name: str | None = None,
                 ref: ModelRef | None = None) -> None:
        self.name, self.ref = name or self.kind, ref
        name = self.name
        self.session = model_bytes if isinstance(model_bytes, ort.InferenceSession) \
            else make_session(model_bytes)
        meta: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)
        what = f"{self.kind} model"
        if model_kind(meta) != self.kind:
            article = "an" if self.kind[0] in "aeiou" else "a"
            raise ModelError(f"model {name!r} is not {article} {what} ({META_KIND} = "
                             f"{meta.get(META_KIND)!r})")
        try:
            tags = json.loads(meta[META_TAGS])
            raw_params: dict[str, Any] = json.loads(meta[META_PARAMS])
            self.params = self.params_type(**raw_params)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"{what} {name!r} has unreadable metadata: {exc}") from exc
        if not isinstance(tags, list) or not tags or not all(isinstance(x, str) for x in tags):
            raise ModelError(f"{what} {name!r} names no tags")
        self.tags: tuple[str, ...] = tuple(tags)
        width = self.columns_per_tag * len(self.tags)
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or inputs[0].shape[-1] != width:
            raise ModelError(f"{what} {name!r} must take one input of {width} columns")
        self._input = inputs[0].name
        self._output = [self.session.get_outputs()[0].name]

    def features(self, frames: F64) -> F64:
        """The model's input for ``rows x tags x window`` frames."""
        raise NotImplementedError

    def deviations(self, features: F64) -> F64:
        """Deviation per row and tag (``n x len(tags)``) of the window features; 0 where
        NaN."""
        feed = np.ascontiguousarray(features, dtype=np.float64)
        try:
            out = self.session.run(self._output, {self._input: feed})[0]
        except ORT_ERRORS as exc:
            raise ModelError(f"model {self.name!r} failed to score {features.shape}: {exc}") \
                from exc
        result: F64 = np.nan_to_num(out.astype(np.float64), nan=0.0)
        return result


class EnvelopeDetector(WindowModel):
    """A loaded envelope model: deviations of rolling means."""

    def features(self, frames: F64) -> F64:
        """The model's input for ``rows x tags x window`` frames: the rolling means."""
        return frame_means(frames)
