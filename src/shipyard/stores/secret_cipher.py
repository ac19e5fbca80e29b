"""Secrets at rest: Fernet (AES-128-CBC with HMAC-SHA256) from the ``cryptography`` package.

The key comes from ``SHIPYARD_SECRET_KEY`` (what several servers on one database must
share) or from ``<home>/secret.key``, made on first start with mode 0600. Losing the key
loses the secrets: back it up with the database.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from shipyard.errors import InvalidArgument, Unavailable
from shipyard.services.access.ports import SecretCipher

__all__ = ["FernetCipher", "load_key"]

KEY_FILE = "secret.key"


def load_key(home: Path, given: str | None) -> bytes:
    """``given`` (from the settings) or the home's key file, created when missing."""
    if given:
        key = given.strip().encode("ascii", "replace")
        _check(key, "SHIPYARD_SECRET_KEY")
        return key
    path = home / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes().strip()
        _check(key, str(path))
        return key
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
    return key


def _check(key: bytes, where: str) -> None:
    try:
        Fernet(key)
    except ValueError:
        raise InvalidArgument(
            f"{where} is not a secret key: it must be 32 url-safe base64-encoded bytes, as"
            " `python -c 'from cryptography.fernet import Fernet;"
            " print(Fernet.generate_key().decode())'` prints"
        ) from None


class FernetCipher(SecretCipher):
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise Unavailable(
                "a secret cannot be decrypted with this server's key (SHIPYARD_SECRET_KEY or"
                " <home>/secret.key changed?); set it again with `shipyard secret set`"
            ) from None
