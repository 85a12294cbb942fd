"""The local stack: a real Kafka broker (KRaft) and a real PostgreSQL server on loopback.

Used by ``biogas stack up|down|status``, the demo and the integration tests. When the environment
names an existing broker (``BIOGAS_KAFKA_BOOTSTRAP_SERVERS``) or database (``BIOGAS_DATABASE_URL``),
that one is used instead of starting our own.
"""
