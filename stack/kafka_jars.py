"""Resolve the Apache Kafka broker jars with Maven and cache them outside the repository.

The broker artifact ``org.apache.kafka:kafka_2.13`` brings everything but a logging binding; the
3.9 line needs ``slf4j-reload4j`` and ``reload4j`` added explicitly.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from stack.errors import StackError
from stack.settings import RELOAD4J_VERSION, SLF4J_VERSION

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>biogas.local</groupId>
  <artifactId>kafka-runtime</artifactId>
  <version>1</version>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId>
      <version>{kafka}</version>
    </dependency>
    <dependency>
      <groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId>
      <version>{slf4j}</version>
    </dependency>
    <dependency>
      <groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId>
      <version>{reload4j}</version>
    </dependency>
  </dependencies>
</project>
"""


def kafka_lib_dir(cache_dir: Path, version: str) -> Path:
    """Directory holding the resolved jars for one Kafka version."""
    return cache_dir / f"kafka-{version}" / "lib"


def ensure_kafka_jars(cache_dir: Path, version: str) -> Path:
    """Return the directory of Kafka's runtime jars, resolving them with Maven on first use."""
    lib = kafka_lib_dir(cache_dir, version)
    marker = lib / ".complete"
    if marker.exists():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise StackError(
            "Maven ('mvn') is not on PATH; it resolves the Kafka broker from Maven Central. "
            "Install it (apt-get install maven) or run ./dev setup."
        )
    if shutil.which("java") is None:
        raise StackError(
            "Java is not on PATH; the Kafka broker needs Java 17. "
            "Install it (apt-get install openjdk-17-jre-headless) or run ./dev setup."
        )
    work = lib.parent
    work.mkdir(parents=True, exist_ok=True)
    staging = work / "lib.partial"
    if staging.exists():
        shutil.rmtree(staging)
    (work / "pom.xml").write_text(
        _POM.format(kafka=version, slf4j=SLF4J_VERSION, reload4j=RELOAD4J_VERSION)
    )
    cmd = [
        mvn, "-q", "-B", "-f", str(work / "pom.xml"),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}", "-DincludeScope=runtime",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise StackError(
            f"Maven could not resolve org.apache.kafka:kafka_2.13:{version} "
            f"(exit {result.returncode}):\n" + "\n".join(tail)
        )
    if not any(staging.glob(f"kafka_2.13-{version}.jar")):
        raise StackError(f"Maven finished but kafka_2.13-{version}.jar is missing in {staging}")
    if lib.exists():
        shutil.rmtree(lib)
    staging.rename(lib)
    marker.write_text(version + "\n")
    return lib
