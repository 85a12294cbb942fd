"""The edge producer: Modbus acquisition (TCP/RTU), a lossless SQLite journal, forwarding to
Kafka, commissioning tools and health/metrics. See ``configs/README.md`` for the plant config.

Modules: ``config``/``config_checks``/``config_loader`` (the plant TOML), ``datatypes`` and
``decoding`` (registers to values), ``planning`` (coalesced reads, bus time), ``modbus_link``
(the pymodbus boundary), ``poller`` (one task per device), ``readings``/``reporting`` (quality
codes, deadband), ``breaker``, ``journal``, ``forwarder`` (the aiokafka boundary), ``runtime``,
``metrics`` (served by ``ops.endpoints``), ``settings``, ``dry_run``/``probing``/``csv_import``
(commissioning).
"""
