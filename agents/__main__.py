"""``python -m agents``: run the agents worker (the same as ``biogas agents worker``)."""

from __future__ import annotations

import sys

from agents.runner import run_worker
from agents.settings import AgentsSettings
from streams.errors import ConfigError

if __name__ == "__main__":
    try:
        run_worker(AgentsSettings())
    except ConfigError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
