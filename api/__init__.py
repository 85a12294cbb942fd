"""The query API (FastAPI) over the projections; commands become events on the log."""
