"""Compiled kernels of the vote and the rule checks: loops over one scan's readings with the
arithmetic of the numpy they replaced (see :mod:`agents.detectors.voting` and
:mod:`agents.detectors.rules`)."""

from __future__ import annotations

from agents.jit import Arr, kernel


@kernel
def vote(score: Arr, threshold: Arr, voted: Arr, alone: Arr, min_votes: int, strong: float,
         anomalous: Arr, strength: Arr) -> None:
    """Per reading (column): anomalous when a rule (or a detector that votes ``alone``) voted,
    when a statistical detector voted far
    past its threshold, or when ``min(min_votes, statistical detectors)`` (at least 1) voted;
    ``strength`` is the largest ``score / threshold`` of the detectors that voted (0 when not
    anomalous). Rows are detectors."""
    k, n = score.shape
    n_stat = 0
    for d in range(k):
        if not alone[d]:
            n_stat += 1
    needed = max(1, min(min_votes, n_stat))
    for i in range(n):
        best = 0.0
        hit = False
        votes = 0
        for d in range(k):
            if not voted[d, i]:
                continue
            thr = threshold[d, i]
            ratio = score[d, i] / thr if thr > 0 else 0.0
            if ratio > best:
                best = ratio
            if alone[d]:
                hit = True
            else:
                votes += 1
                if score[d, i] >= thr + strong * (1.0 - thr):
                    hit = True
        anomalous[i] = hit or votes >= needed
        strength[i] = best if anomalous[i] else 0.0


@kernel
def check_rules(limits: Arr, idx: Arr, value: Arr, valid: Arr, slope: Arr, since_change: Arr,
                has_varied: Arr, bad_share: Arr, samples: Arr, min_samples: float,
                out: Arr) -> None:
    """Rows of ``out``: out of range, too fast, stuck, bad quality (see ``RULE_NAMES``), for
    limits ``low, high, max rate, stuck after, max bad share`` per column. The rate and
    quality rules judge a reading only with ``min_samples`` in its short window."""
    for i in range(idx.shape[0]):
        col = idx[i]
        low, high = limits[col, 0], limits[col, 1]
        rate, stuck, bad = limits[col, 2], limits[col, 3], limits[col, 4]
        v = value[i]
        ok = valid[i]
        enough = samples[i] >= min_samples
        s = slope[i] if enough else 0.0
        b = bad_share[i] if enough else 0.0
        out[0, i] = ok and (v < low or v > high)
        out[1, i] = ok and abs(s) > rate
        out[2, i] = ok and has_varied[i] and since_change[i] >= stuck
        out[3, i] = b > bad
