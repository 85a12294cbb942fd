"""``python -m agents``: run the agents worker (the same as ``biogas agents worker``)."""

from __future__ import annotations

from agents.runner import run_worker
from agents.settings import AgentsSettings

if __name__ == "__main__":
    run_worker(AgentsSettings())
