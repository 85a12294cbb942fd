"""What every long-running service shares to be operated: ``/health`` and ``/metrics``.

Imports nothing of the project's own; every service package may import it."""
