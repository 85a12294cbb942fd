"""Clients of the Kafka-protocol log shared by the services and tools: appending events to
their catalogue topics and waiting for the broker (:mod:`logio.appending`), creating and
deleting the catalogue's topics (:mod:`logio.topic_admin`). The contract they carry lives in
``streams``; aiokafka's errors are translated here."""
