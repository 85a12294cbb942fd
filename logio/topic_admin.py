"""Create and delete the catalogue's topics on a broker (auto-creation is off everywhere).

aiokafka's admin errors are translated here into :class:`TopicAdminError`.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from streams.errors import BiogasError
from streams.settings import KafkaSettings
from streams.topics import TopicSpec

_TOPIC_ALREADY_EXISTS = 36
_UNKNOWN_TOPIC = 3


class TopicAdminError(BiogasError):
    """Topics could not be created or deleted; the message names the topic and the broker error."""


def _admin(settings: KafkaSettings) -> AIOKafkaAdminClient:
    return AIOKafkaAdminClient(bootstrap_servers=settings.bootstrap_servers,
                               client_id=f"{settings.client_id}-admin",
                               request_timeout_ms=30000)


async def ensure_topics(settings: KafkaSettings, specs: Iterable[TopicSpec],
                        replication_factor: int = 1) -> list[str]:
    """Create the topics that do not exist yet; returns the names created now."""
    wanted = list(specs)
    admin = _admin(settings)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [spec for spec in wanted if spec.name not in existing]
        if not missing:
            return []
        response = await admin.create_topics(
            [NewTopic(name=spec.name, num_partitions=spec.partitions,
                      replication_factor=replication_factor, topic_configs=dict(spec.config))
             for spec in missing])
    except KafkaError as exc:
        raise TopicAdminError(f"creating topics on {settings.bootstrap_servers} failed: "
                              f"{exc!r}") from exc
    finally:
        await admin.close()
    created: list[str] = []
    problems: list[str] = []
    for topic_error in response.topic_errors:
        name, code = topic_error[0], topic_error[1]
        message = topic_error[2] if len(topic_error) > 2 else ""
        if code == 0:
            created.append(name)
        elif code != _TOPIC_ALREADY_EXISTS:
            problems.append(f"{name}: error code {code} {message or ''}".strip())
    if problems:
        raise TopicAdminError("creating topics failed: " + "; ".join(problems))
    return created


async def delete_topics(settings: KafkaSettings, names: Iterable[str]) -> None:
    """Delete topics; names that do not exist are ignored."""
    targets = list(names)
    if not targets:
        return
    admin = _admin(settings)
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        present = [name for name in targets if name in existing]
        if present:
            await admin.delete_topics(present)
    except KafkaError as exc:
        raise TopicAdminError(f"deleting topics on {settings.bootstrap_servers} failed: "
                              f"{exc!r}") from exc
    finally:
        await admin.close()
