"""Stream agents: rolling features, detectors, voting, alerts, model loading, dead letters."""
