"""The shipped pretrained tiny base: intact, and what `make setup` puts in the cache instead of pretraining."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from training import tiny


def test_the_shipped_base_matches_its_manifest() -> None:
    doc = json.loads((tiny.SHIPPED_BASE / "shipped.json").read_text())
    files = sorted(p.name for p in tiny.SHIPPED_BASE.iterdir() if p.name != "shipped.json")
    assert files == sorted(doc["sha256"])
    for name in files:  # the test's own digests, not the module's
        assert hashlib.sha256((tiny.SHIPPED_BASE / name).read_bytes()).hexdigest() == doc["sha256"][name], name
    assert doc["base_key"] == tiny.base_key(0)  # the shipped files are today's recipe for seed 0


def test_pretrained_base_copies_the_shipped_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path))

    def no_pretraining(*args: object, **kwargs: object) -> None:
        raise AssertionError("the shipped base must be copied, not rebuilt")

    monkeypatch.setattr(tiny, "pretrain", no_pretraining)
    path = tiny.pretrained_base(0)
    assert path.parent == tmp_path / "tiny"
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        assert (path / name).read_bytes() == (tiny.SHIPPED_BASE / name).read_bytes()
    assert tiny.pretrained_base(0) == path  # cached: the second call only finds it
    # another recipe (here another seed) is not the shipped base: it would be built
    with pytest.raises(AssertionError, match="must be copied"):
        tiny.pretrained_base(1)


def test_a_corrupted_shipped_file_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    from harness.types import HarnessError

    copy = tmp_path / "tiny-base"
    shutil.copytree(tiny.SHIPPED_BASE, copy)
    weights = bytearray((copy / "model.safetensors").read_bytes())
    weights[-1] ^= 0xFF  # one flipped byte in the last weight
    (copy / "model.safetensors").write_bytes(bytes(weights))
    monkeypatch.setattr(tiny, "SHIPPED_BASE", copy)
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    with pytest.raises(HarnessError) as err:
        tiny.pretrained_base(0)
    message = str(err.value)
    assert "\n" not in message and str(copy / "model.safetensors") in message and "differs" in message
    assert not (tmp_path / "cache" / "tiny").exists() or not any((tmp_path / "cache" / "tiny").iterdir())
