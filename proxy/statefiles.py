"""Files the proxy keeps in ``state_dir`` so that a restart changes nothing for
calls in progress: the secret its route tokens are made with."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

ROUTE_SECRET_FILE = "route-token.key"
_SECRET_BYTES = 32


def load_or_create_secret(state_dir: Path, name: str = ROUTE_SECRET_FILE) -> bytes:
    """The secret in ``state_dir/name``, made (mode 0600) on first start.

    Raises OSError with the path when the directory cannot be made or the file
    cannot be read or written; a secret of the wrong size is made anew.
    """
    path = state_dir / name
    try:
        secret = path.read_bytes()
    except FileNotFoundError:
        secret = b""
    if len(secret) == _SECRET_BYTES:
        return secret
    state_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(_SECRET_BYTES)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(secret)
    temporary.replace(path)  # atomic: a crash never leaves half a secret
    return secret
