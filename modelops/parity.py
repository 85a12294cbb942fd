"""The parity gate: the ONNX artifact must score held-out rows like the scikit-learn model.

Promotion is refused unless every score agrees within ``tolerance`` (1e-5) and every alarm
decision (``score >= alarm_threshold``) is identical. The alarm threshold is fixed from the
training rows (their ``ALARM_QUANTILE`` quantile under the scikit-learn model) before any
held-out row is looked at.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from agents.detectors.onnx_scorer import OnnxDetector
from agents.features.windows import F64
from modelops.errors import ParityError

TOLERANCE = 1e-5
ALARM_QUANTILE = 0.999


@dataclass(frozen=True)
class ParityReport:
    rows: int
    max_abs_diff: float
    tolerance: float
    alarm_threshold: float
    alarms_reference: int
    alarms_onnx: int
    decisions_differing: int

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance and self.decisions_differing == 0

    def as_dict(self) -> dict[str, float | int | bool]:
        return {"rows": self.rows, "max_abs_diff": self.max_abs_diff,
                "tolerance": self.tolerance, "alarm_threshold": self.alarm_threshold,
                "alarms_reference": self.alarms_reference, "alarms_onnx": self.alarms_onnx,
                "decisions_differing": self.decisions_differing, "passed": self.passed}


def alarm_threshold(reference_train_scores: F64) -> float:
    return float(np.quantile(reference_train_scores, ALARM_QUANTILE))


def check_parity(model_bytes: bytes, reference_scores: F64, held_out: F64, threshold: float,
                 tolerance: float = TOLERANCE) -> ParityReport:
    """Compare the ONNX scores of ``held_out`` with the reference (scikit-learn) scores."""
    if len(held_out) == 0:
        raise ParityError("no held-out rows to check parity on; train on a longer range")
    onnx_scores = OnnxDetector(model_bytes, name="parity").score_rows(held_out)
    return compare_scores(onnx_scores, reference_scores, threshold, tolerance)


def compare_scores(onnx_scores: F64, reference_scores: F64, threshold: float,
                   tolerance: float = TOLERANCE) -> ParityReport:
    """The gate on scores already computed by the ONNX model and by the reference."""
    if len(onnx_scores) == 0:
        raise ParityError("no held-out rows to check parity on; train on a longer range")
    diff = np.abs(onnx_scores - reference_scores)
    ref_alarm = reference_scores >= threshold
    onnx_alarm = onnx_scores >= threshold
    return ParityReport(rows=len(onnx_scores), max_abs_diff=float(diff.max()),
                        tolerance=tolerance, alarm_threshold=threshold,
                        alarms_reference=int(ref_alarm.sum()), alarms_onnx=int(onnx_alarm.sum()),
                        decisions_differing=int((ref_alarm != onnx_alarm).sum()))


def require_parity(report: ParityReport) -> None:
    if not report.passed:
        raise ParityError(
            f"parity gate failed on {report.rows} held-out rows: max |onnx - sklearn| = "
            f"{report.max_abs_diff:.3g} (tolerance {report.tolerance:g}), "
            f"{report.decisions_differing} alarm decisions differ; not promoted")
