"""``python -m agents``: run the agents worker (the same as ``biogas agents worker``)."""

from __future__ import annotations

import sys

from pydantic import ValidationError

from agents.settings import AgentsSettings
from agents.worker.runner import run_worker
from streams.errors import ConfigError
from streams.settings import describe_invalid

if __name__ == "__main__":
    try:
        run_worker(AgentsSettings())
    except ValidationError as exc:
        sys.stderr.write(describe_invalid(exc, [AgentsSettings]) + "\n")
        sys.exit(2)
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
