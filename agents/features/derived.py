"""Derived signals: quantities a plant engineer reads off two tags together, added to a scan
as readings of their own (``derived:<name>``) so the detectors learn and judge them like any
tag. They need the tags' roles (the catalogue's ``TagSpec.role``) and exist only while their
inputs are in the same scan and good.

* ``derived:heating.delta_t``: heating supply minus return temperature. Near 0 when the
  circulation or the heat source failed (DOMAIN.md 4.1), which neither temperature shows on
  its own: both fall to the digester's temperature.
* ``derived:agitator.load``: the agitator's current while its run command is on (absent
  while it is off): 0 A while commanded on is a trip; a rising load, a floating layer.
* ``derived:gas.net_flow``: biogas produced minus what the CHP and the flare take (Nm³/h;
  no flare tag: none), which is what fills or empties the gas holder; the gas-balance check
  (:mod:`agents.detectors.process`) holds the holder's pace against it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from agents.features.windows import F64, BoolArray

PREFIX = "derived:"
HEATING_DT = PREFIX + "heating.delta_t"
AGITATOR_LOAD = PREFIX + "agitator.load"
NET_FLOW = PREFIX + "gas.net_flow"
#: derived tag -> the roles of its inputs, in order
INPUTS: dict[str, tuple[str, str]] = {
    HEATING_DT: ("heating.supply_temp", "heating.return_temp"),
    AGITATOR_LOAD: ("agitator.current", "agitator.run"),
    NET_FLOW: ("gas.production", "gas.to_chp"),
}
#: an optional third input: the flare's flow, taken off the net flow when the plant has one
FLARE_ROLE = "gas.to_flare"


class Derivation:
    """For one stream's tag list: which positions feed which derived signal."""

    def __init__(self, roles: Sequence[str | None]) -> None:
        first: dict[str, int] = {}
        for i, role in enumerate(roles):
            if role is not None:
                first.setdefault(role, i)
        self.pairs = [(name, first[a], first[b]) for name, (a, b) in INPUTS.items()
                      if a in first and b in first]
        self.flare = first.get(FLARE_ROLE, -1)

    def extend(self, tags: list[str], values: F64, good: BoolArray
               ) -> tuple[list[str], F64, BoolArray]:
        """The scan's columns with the derived readings that apply appended."""
        if not self.pairs:
            return tags, values, good
        names: list[str] = []
        extra: list[float] = []
        for name, a, b in self.pairs:
            if not (good[a] and good[b]):
                continue
            if name == HEATING_DT:
                names.append(name)
                extra.append(float(values[a] - values[b]))
            elif name == NET_FLOW:
                flare = self.flare
                if flare >= 0 and not good[flare]:
                    continue
                names.append(name)
                extra.append(float(values[a] - values[b] - (values[flare] if flare >= 0
                                                            else 0.0)))
            elif values[b] > 0.5:  # agitator commanded on
                names.append(name)
                extra.append(float(values[a]))
        if not names:
            return tags, values, good
        return ([*tags, *names], np.concatenate([values, np.asarray(extra)]),
                np.concatenate([good, np.ones(len(names), dtype=np.bool_)]))
