"""Findings: what the detectors found on each flagged tag, in numbers and in words an
operator understands ("heating supply temperature: 1-h mean 91.2, above its normal 45.3 to
85.5").
They travel in ``AnomalyDetected.findings`` and are what an incident's probable cause is
worked out from (:mod:`agents.alerts.causes`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from agents.detectors.baseline import BaselineBank
from agents.detectors.process import BALANCE_SIGMAS, ProcessChecks
from agents.detectors.voting import Verdict
from agents.features.reading import ReadingFeatures
from streams.events import Finding
from streams.roles import describe

PER_TAG = 2
_LEVELS = {"value": (0, "reading"), "mean_10m": (1, "10-min mean"), "mean_1h": (2, "1-h mean")}


def _g(x: float) -> str:
    """A number as an operator reads it: 3 significant digits (4 from 100 up: 2406, not 2.41e+03),
    an exponent only for the very large or small."""
    if not math.isfinite(x):
        return "-"
    if x != 0 and (abs(x) >= 1e5 or abs(x) < 1e-3):
        return f"{x:.3g}"
    return f"{x:.4g}" if abs(x) >= 100 else f"{x:.3g}"


def _bits(value: float) -> str:
    n = int(value) if math.isfinite(value) and value >= 0 else 0
    bits = [str(b) for b in range(32) if n >> b & 1]
    return f"bit{'s' if len(bits) > 1 else ''} {', '.join(bits)} set" if bits else "no bit set"


def _baseline(ts: float, tag: str, role: str | None, check: str, col: int, i: int,
              feats: ReadingFeatures, bank: BaselineBank) -> Finding:
    what = describe(role, tag)
    value = float(feats.step.value[i])
    low = high = None
    if check in _LEVELS:
        s, label = _LEVELS[check]
        judged = value if s == 0 else float(feats.agg.mean[s, i])
        low, high = float(bank.lo[col, s]), float(bank.hi[col, s])
        side = "above" if judged > high else "below"
        text = f"{what}: {label} {_g(judged)}, {side} its normal {_g(low)} to {_g(high)}"
        value = judged
    elif check == "spread_10m":
        value, high = float(feats.agg.std[1, i]), float(bank.spread_hi[col])
        text = f"{what} unsteady: 10-min spread {_g(value)}, at most {_g(high)} before"
    elif check == "slope_1h":
        value = float(feats.agg.slope_per_s[2, i]) * 3600.0
        low, high = float(bank.slope_lo[col]) * 3600.0, float(bank.slope_hi[col]) * 3600.0
        text = (f"{what} changing at {_g(value)} per hour, normally {_g(low)} to {_g(high)}")
    elif check == "stuck":
        run = float(feats.since_change_s[i])
        longest = float(bank.max_run_zero[col] if value == 0.0 else bank.max_run[col])
        text = (f"{what} has not changed for {run / 60:.0f} min (stood still at most "
                f"{longest / 60:.0f} min before): sensor or link stuck?")
    elif check in ("rate", "stalled"):
        d = int(bank.direction[col])
        rate = float(bank.rate[col, d]) * 3600.0
        low, high = float(bank.rate_lo[col, d]) * 3600.0, float(bank.rate_hi[col, d]) * 3600.0
        value = rate
        text = (f"{what} counting at {_g(rate)} per hour, normally {_g(low)} to {_g(high)}"
                if check == "rate" else f"{what} has stopped counting")
    elif check == "state":
        m = min(int(bank.n_states[col]), bank.config.max_states)
        known = ", ".join(_g(float(x)) for x in sorted(bank.states[col, :m]))
        text = f"{what} = {_g(value)}, never seen before (normally {known})"
    elif check == "alarm":
        text = (f"{what}: {_bits(value)}" if role == "plc.alarm_word" or "word" in tag.lower()
                else f"{what} = {_g(value)}")
    elif check == "missing":
        since = float(bank.bad_since[col])
        gone = f" for {(ts - since) / 60:.0f} min" if math.isfinite(since) else ""
        text = f"{what}: no valid value{gone} (sensor, device or link)"
        value = math.nan
    else:
        text = f"{what}: {check}"
    return Finding(tag=tag, check=f"baseline.{check}", value=_finite(value),
                   normal_low=_finite(low), normal_high=_finite(high), role=role, text=text)


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def findings(ts: float, tags: Sequence[str], roles: Sequence[str | None],
             feats: ReadingFeatures, verdict: Verdict, bank: BaselineBank,
             order: Iterable[int], process: ProcessChecks | None = None) -> list[Finding]:
    """Up to ``PER_TAG`` findings per flagged reading (``order``: strongest first) of the
    scan at ``ts``."""
    idx = feats.step.idx
    out: list[Finding] = []
    for i in order:
        col = int(idx[i])
        tag, role = tags[col], roles[col] if col < len(roles) else None
        mine: list[Finding] = []
        for r in verdict.results:
            if not r.voted[i]:
                continue
            if r.name == "baseline" and r.labels is not None and r.labels[i]:
                mine.append(_baseline(ts, tag, role, r.labels[i], col, i, feats, bank))
            elif r.name == "process" and r.labels is not None and r.labels[i] == "circulation":
                dt = float(feats.agg.mean[1, i])
                low = float(bank.lo[col, 1]) if col < bank.size else math.nan
                mine.append(Finding(
                    tag=tag, check="process.circulation", value=_finite(dt),
                    normal_low=_finite(low), role=role,
                    text=(f"heating supply and return within {abs(dt):.1f} K of each other "
                          f"(never under {_g(low)} K before): no heat reaches the digester")))
            elif (r.name == "process" and r.labels is not None
                  and r.labels[i] == "gas_balance" and process is not None):
                b = process.balance
                limit = BALANCE_SIGMAS * b.sigma
                mine.append(Finding(
                    tag=tag, check="process.gas_balance", value=_finite(b.last_short),
                    normal_high=_finite(limit), role=role,
                    text=(f"{describe(role, tag)} losing {_g(b.last_short)} % per hour more "
                          f"than production minus use accounts for (at most {_g(limit)} "
                          "while commissioning): gas escapes somewhere")))
            else:
                value = float(feats.step.value[i])
                mine.append(Finding(tag=tag, check=r.name, value=_finite(value), role=role,
                                    text=f"{describe(role, tag)} = {_g(value)}: unusual for "
                                         f"{r.name}"))
        out.extend(mine[:PER_TAG])
    return out

