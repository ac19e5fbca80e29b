"""What jobs and deployments send beside their file: uploaded folders, the inline
environment as the client read it, and the file's notes told to the user."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipyard.client.client import Client, Progress
    from shipyard.specs.deployment import LoadedDeployment

__all__ = ["add_environment", "deployment_body", "say_notes", "upload"]


def upload(
    client: Client,
    folder: Path,
    what: str,
    say: Callable[[str], None],
    progress: Progress | None,
    **options: Any,
) -> str:
    """Upload a folder (only the files the server lacks); tell the user; return the digest."""
    snapshot = client.upload_folder(folder, progress=progress, **options)
    say(
        f"{what}: {len(snapshot.files)} files, {snapshot.size:,} bytes"
        f" ({snapshot.uploaded_bytes:,} uploaded), snapshot {snapshot.digest[:12]}"
    )
    return snapshot.digest


def add_environment(body: dict[str, Any], environment: object) -> None:
    """An inline environment (a conda file / requirements read here) goes in the body."""
    from shipyard.specs.environment import PythonEnvironment

    if isinstance(environment, PythonEnvironment):
        body["environment"] = {
            "python": environment.python_version,
            "requirements": list(environment.requirements),
            "image": environment.image,
            "notes": list(environment.notes),
        }


def say_notes(notes: Iterable[str], say: Callable[[str], None]) -> None:
    for note in notes:
        say(f"note: {note}")


def deployment_body(
    client: Client, loaded: LoadedDeployment[Any], say: Callable[[str], None], progress: Progress | None
) -> dict[str, Any]:
    """The request body of an online or batch deployment file: the mapping as read, its
    local model and code uploaded, its inline environment; its notes told to the user."""
    from shipyard.specs.refs import LocalPathRef

    body: dict[str, Any] = {"spec": dict(loaded.raw), "source": loaded.source.name}
    if isinstance(loaded.model, LocalPathRef):
        body["model_snapshot"] = upload(client, loaded.model.path, "model", say, progress)
    if loaded.code is not None:
        body["code_snapshot"] = upload(client, loaded.code, "code", say, progress)
    add_environment(body, loaded.environment)
    say_notes(loaded.notes, say)
    return body
