"""The local broker's storage formatting arguments."""

from __future__ import annotations

import base64

from stack.kafka import _cluster_id


def test_cluster_ids_never_look_like_an_option() -> None:
    # one base64url id in 64 starts with "-", which the storage tool took for an option
    ids = {_cluster_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert not any(i.startswith("-") for i in ids)
    assert all(len(base64.urlsafe_b64decode(i + "==")) == 16 for i in ids)
