"""Pure feature computation, shared by the stream agents and by offline training."""
