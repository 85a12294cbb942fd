"""Laboratory results entered through the API (digester chemistry sampled by hand)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from streams.events.base import EventBase, Name, PlantId, UtcDatetime


class Analyte(StrEnum):
    """What a lab result measures."""

    FOS = "fos"
    TAC = "tac"
    FOS_TAC = "fos_tac"
    VFA = "vfa"
    TS = "ts"
    OTS = "ots"
    PH = "ph"
    NH4_N = "nh4_n"
    HAC_HPR = "hac_hpr"


class LabResultRecorded(EventBase):
    """One analyte's value for one sample."""

    event_type: Literal["lab_result_recorded"] = "lab_result_recorded"
    schema_version: Literal[1] = 1
    plant_id: PlantId
    sample_id: Name
    analyte: Analyte
    value: float
    unit: Annotated[str, Field(min_length=1, max_length=32)]
    sampled_at: UtcDatetime
    recorded_at: UtcDatetime
    recorded_by: Name
    digester: Name | None = None
