"""The worker process: the Faust app and everything that knows Faust's internals (its consumer,
the stall watch and offset probe, the task dump, the stop deadline), the output producer, the
followers of the deployment and catalogue topics, and ``/health`` and ``/metrics``. The
detection itself (``agents.pipeline``, ``agents.detect_worker``, ``agents.alert_worker``) knows
no Kafka client; ``tests/unit/test_agents_faust_pins.py`` pins what this package relies on in
the installed faust-streaming."""
