"""``python -m projections``: the projector process (same as ``biogas projections run``)."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from projections.service import run_projector
from projections.settings import ProjectorSettings
from streams.errors import BiogasError, ConfigError
from streams.settings import describe_invalid

USAGE = ("usage: python -m projections\n"
         "Projects the log into the live projection version until SIGTERM/SIGINT; configured "
         "by BIOGAS_PROJECTOR_*, BIOGAS_KAFKA_*, BIOGAS_DATABASE_* and BIOGAS_LOG_* (see "
         "projections/README.md).\n")


def main(argv: list[str]) -> int:
    if argv:
        sys.stdout.write(USAGE)
        return 0 if argv in (["-h"], ["--help"]) else 2
    try:
        settings = ProjectorSettings()
    except ValidationError as exc:
        sys.stderr.write(describe_invalid(exc, [ProjectorSettings]) + "\n")
        return 2
    except ConfigError as exc:  # bad variables in several groups
        sys.stderr.write(f"{exc}\n")
        return 2
    try:
        run_projector(settings)
    except BiogasError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
