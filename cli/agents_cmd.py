"""``biogas agents``: the stream agents worker and model signing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

agents_app = typer.Typer(help="Stream agents: features, detectors, alerts.",
                         no_args_is_help=True)


@agents_app.command("worker")
def worker() -> None:
    """Run the agents worker (settings from BIOGAS_AGENTS_*, BIOGAS_KAFKA_*, BIOGAS_LOG_*)."""
    from agents.settings import AgentsSettings
    from agents.worker.runner import run_worker

    run_worker(AgentsSettings())


@agents_app.command("keygen")
def keygen(
    directory: Annotated[Path, typer.Argument(help="Where to write <key_id>.pem and .key.")],
    key_id: Annotated[str, typer.Option(help="Name of the key.")] = "release",
) -> None:
    """Create an ed25519 key pair for signing models."""
    from modelops.signing import new_key_pair

    new_key_pair(directory, key_id)
    print(f"public key {directory / (key_id + '.pem')} (trust it), "
          f"private key {directory / (key_id + '.key')}")


@agents_app.command("sign")
def sign(
    artifact: Annotated[Path, typer.Argument(help="The model file to sign.")],
    key: Annotated[Path, typer.Option(help="PEM ed25519 private key.")],
    key_id: Annotated[str, typer.Option(help="Key id the workers trust it as.")],
) -> None:
    """Print the sha256 and base64 signature of an artifact (fields of ModelDeployed)."""
    from modelops.signing import load_private_key, sign_artifact

    signed = sign_artifact(artifact.read_bytes(), load_private_key(key), key_id)
    print(f"sha256={signed.sha256}\nsignature={signed.signature}\nkey_id={signed.key_id}")
