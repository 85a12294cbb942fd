"""Incidents: anomalies grouped by probable cause, one alert each (hysteresis, hold-off)."""
