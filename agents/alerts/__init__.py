"""Alert episodes: hysteresis, flap suppression, lifecycle events."""
