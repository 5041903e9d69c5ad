"""A small durable key-value document for the data directory: ``meta.json``.

Exports: ``Meta``, ``load_or_create``, ``save``, ``new_epoch``, ``META_NAME``.

It holds what must survive a restart but is not engine state: the market-data ``epoch``
(the ``<epoch>`` of event ids ``<epoch>-<offset>``; 6 hex digits, never a ``-``) and the
token-signing ``secret`` (32 random bytes, stored as hex), plus free string ``values`` other
components may keep there. Writes are atomic (temporary file, fsync, rename, directory fsync),
so a crash leaves the old or the new document, never a mix. A damaged file raises
:class:`MetaCorrupt` rather than being silently replaced: a new secret would log everyone out
and a new epoch would reset every market-data client.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, replace
from pathlib import Path

import orjson

from exchange.journal.errors import MetaCorrupt
from exchange.journal.segment import fsync_dir, write_all

__all__ = ["META_NAME", "Meta", "load_or_create", "new_epoch", "save"]

META_NAME = "meta.json"
_VERSION = 1


@dataclass(frozen=True)
class Meta:
    """The contents of ``meta.json``."""

    epoch: str
    secret: bytes
    values: dict[str, str] = field(default_factory=dict)

    def with_values(self, **values: str) -> Meta:
        """A copy with ``values`` updated (pass it to ``save``)."""
        return replace(self, values={**self.values, **values})


def _random_epoch() -> str:
    # 24 random bits tell epochs apart (an epoch changes only when history is lost) and keep
    # every SSE id short: the id is framing paid on each event
    return secrets.token_hex(3)


def load_or_create(directory: str | os.PathLike[str]) -> Meta:
    """Read ``directory/meta.json``, creating it (and the directory) with fresh random values
    on first use. Raises :class:`MetaCorrupt` if the file exists but is not valid."""
    path = Path(directory)
    file = path / META_NAME
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        path.mkdir(parents=True, exist_ok=True)
        meta = Meta(epoch=_random_epoch(), secret=secrets.token_bytes(32))
        save(path, meta)
        return meta
    return _parse(raw, file)


def save(directory: str | os.PathLike[str], meta: Meta) -> None:
    """Atomically replace ``directory/meta.json`` with ``meta``."""
    path = Path(directory)
    doc = {
        "version": _VERSION,
        "epoch": meta.epoch,
        "secret": meta.secret.hex(),
        "values": meta.values,
    }
    tmp = path / f".tmp-{META_NAME}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        write_all(fd, orjson.dumps(doc, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path / META_NAME)
    fsync_dir(path)


def new_epoch(directory: str | os.PathLike[str]) -> Meta:
    """Store and return a fresh epoch (history was lost); the secret and values are kept."""
    meta = replace(load_or_create(directory), epoch=_random_epoch())
    save(directory, meta)
    return meta


def _parse(raw: bytes, file: Path) -> Meta:
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MetaCorrupt(f"{file}: not JSON: {exc}") from None
    if type(doc) is not dict or doc.get("version") != _VERSION:
        raise MetaCorrupt(f"{file}: not a version {_VERSION} meta document")
    epoch, secret_hex, values = doc.get("epoch"), doc.get("secret"), doc.get("values", {})
    if type(epoch) is not str or not epoch or "-" in epoch:
        raise MetaCorrupt(f"{file}: bad epoch {epoch!r}")
    if type(secret_hex) is not str:
        raise MetaCorrupt(f"{file}: bad secret")
    try:
        secret = bytes.fromhex(secret_hex)
    except ValueError:
        raise MetaCorrupt(f"{file}: secret is not hex") from None
    if len(secret) < 16:
        raise MetaCorrupt(f"{file}: secret shorter than 16 bytes")
    if type(values) is not dict or not all(
        type(k) is str and type(v) is str for k, v in values.items()
    ):
        raise MetaCorrupt(f"{file}: values must map strings to strings")
    return Meta(epoch=epoch, secret=secret, values=values)
