"""Run Apache Kafka 3.9 in KRaft mode: one combined broker+controller node on loopback."""

from __future__ import annotations

import asyncio
import base64
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from stack.errors import StackError
from stack.processes import ProcessRef, free_port, port_open, wait_until

_LOG4J = """log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.RollingFileAppender
log4j.appender.file.File={log}
log4j.appender.file.MaxFileSize=20MB
log4j.appender.file.MaxBackupIndex=2
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.request.logger=WARN
"""


@dataclass(frozen=True)
class KafkaServer:
    """A running broker this stack started."""

    bootstrap_servers: str
    process: ProcessRef
    log_file: Path
    controller_port: int


def _properties(data_dir: Path, port: int, controller_port: int) -> str:
    # Single node: every replication factor and min ISR is 1, so idempotent producers and
    # transactions work; no initial rebalance delay, so consumer groups join quickly.
    return "\n".join([
        "process.roles=broker,controller",
        "node.id=1",
        f"controller.quorum.voters=1@127.0.0.1:{controller_port}",
        f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller_port}",
        f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names=CONTROLLER",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name=PLAINTEXT",
        f"log.dirs={data_dir}",
        "num.partitions=1",
        "default.replication.factor=1",
        "offsets.topic.replication.factor=1",
        "offsets.topic.num.partitions=10",
        "transaction.state.log.replication.factor=1",
        "transaction.state.log.min.isr=1",
        "transaction.state.log.num.partitions=5",
        "min.insync.replicas=1",
        "group.initial.rebalance.delay.ms=0",
        "auto.create.topics.enable=false",
        "delete.topic.enable=true",
        "log.retention.hours=-1",
        "message.max.bytes=10485760",
        "",
    ])


def _cluster_id() -> str:
    """A random cluster id (base64url of a UUID), never starting with "-": the storage tool
    would take such an id for an option (as Kafka's own ``random-uuid`` avoids)."""
    while True:
        found = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not found.startswith("-"):
            return found


def start_kafka(home: Path, lib: Path, heap: str, timeout_s: float,
                ports: tuple[int, int] | None = None) -> KafkaServer:
    """Format storage (first time only), start the broker and wait until it serves metadata.

    ``ports`` (broker, controller) are reused when still free, so a restarted stack keeps its
    address; otherwise free ports are picked.
    """
    home.mkdir(parents=True, exist_ok=True)
    data_dir = home / "data"
    if ports is not None and not any(port_open("127.0.0.1", p) for p in ports):
        port, controller_port = ports
    else:
        port, controller_port = free_port(), free_port()
        while controller_port == port:
            controller_port = free_port()
    props = home / "server.properties"
    props.write_text(_properties(data_dir, port, controller_port))
    log_file = home / "kafka.log"
    log4j = home / "log4j.properties"
    log4j.write_text(_LOG4J.format(log=log_file))
    classpath = f"{lib}/*"
    java_opts = ["-Dlog4j.configuration=file:" + str(log4j), "-Djava.awt.headless=true"]
    if not (data_dir / "meta.properties").exists():
        result = subprocess.run(
            ["java", "-Xmx256m", *java_opts, "-cp", classpath, "kafka.tools.StorageTool",
             "format", "-t", _cluster_id(), "-c", str(props)],
            capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            raise StackError(
                f"formatting Kafka storage in {data_dir} failed (exit {result.returncode}): "
                + (result.stdout + result.stderr).strip()[-2000:]
            )
    console = (home / "kafka.console.log").open("ab")
    proc = subprocess.Popen(
        ["java", f"-Xmx{heap}", f"-Xms{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
         *java_opts, "-cp", classpath, "kafka.Kafka", str(props)],
        stdout=console, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True, cwd=home,
    )
    console.close()
    ref = ProcessRef.of(proc.pid)
    bootstrap = f"127.0.0.1:{port}"
    ready = wait_until(lambda: proc.poll() is not None or metadata_ok(bootstrap), timeout_s, 0.25)
    if proc.poll() is not None:
        raise StackError(
            f"the Kafka broker exited with code {proc.returncode} during start-up; "
            f"see {log_file} and {home / 'kafka.console.log'}"
        )
    if not ready:
        ref.terminate(10)
        raise StackError(
            f"the Kafka broker did not answer a metadata request on {bootstrap} within "
            f"{timeout_s:.0f} s; see {log_file}"
        )
    return KafkaServer(bootstrap_servers=bootstrap, process=ref, log_file=log_file,
                       controller_port=controller_port)


def metadata_ok(bootstrap_servers: str, timeout_s: float = 3.0) -> bool:
    """True when the cluster answers a metadata request listing at least one broker."""
    first = bootstrap_servers.split(",")[0]
    host, _, port = first.rpartition(":")
    if not port_open(host, int(port)):
        return False
    return asyncio.run(_metadata_ok(bootstrap_servers, timeout_s))


async def _metadata_ok(bootstrap_servers: str, timeout_s: float) -> bool:
    from aiokafka.client import AIOKafkaClient
    from aiokafka.errors import KafkaError

    client = AIOKafkaClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000,
                            connections_max_idle_ms=5000)
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
        return len(client.cluster.brokers()) > 0
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await client.close()
