"""meta.json: created once with random values, read back unchanged, damage is an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.journal import Meta, MetaCorrupt, load_or_create, new_epoch, save


def test_created_once_then_stable(tmp_path: Path) -> None:
    directory = tmp_path / "data"
    first = load_or_create(directory)
    assert len(first.secret) == 32
    assert first.epoch and "-" not in first.epoch
    again = load_or_create(directory)
    assert again == first
    other = load_or_create(tmp_path / "other")
    assert other.secret != first.secret and other.epoch != first.epoch


def test_values_and_new_epoch(tmp_path: Path) -> None:
    meta = load_or_create(tmp_path)
    save(tmp_path, meta.with_values(hub_offset="42"))
    assert load_or_create(tmp_path).values == {"hub_offset": "42"}
    rotated = new_epoch(tmp_path)
    assert rotated.epoch != meta.epoch
    assert rotated.secret == meta.secret and rotated.values == {"hub_offset": "42"}
    assert load_or_create(tmp_path) == rotated
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{not json",
        b"[]",
        b'{"version": 2, "epoch": "ab", "secret": "00000000000000000000000000000000"}',
        b'{"version": 1, "epoch": "a-b", "secret": "00000000000000000000000000000000"}',
        b'{"version": 1, "epoch": "ab", "secret": "zz"}',
        b'{"version": 1, "epoch": "ab", "secret": "00"}',
        b'{"version": 1, "epoch": "ab", "secret": "00000000000000000000000000000000", "values": {"a": 1}}',
    ],
)
def test_damaged_meta_is_an_error_not_replaced(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "meta.json").write_bytes(content)
    with pytest.raises(MetaCorrupt):
        load_or_create(tmp_path)
    assert (tmp_path / "meta.json").read_bytes() == content


def test_meta_is_a_value(tmp_path: Path) -> None:
    meta = Meta(epoch="abc", secret=b"s" * 16)
    save(tmp_path, meta)
    assert load_or_create(tmp_path) == meta
