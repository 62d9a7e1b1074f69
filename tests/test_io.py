"""Atomic writes: whole files or nothing, readable modes, safe checkpoint loading."""

import os
import stat

import pytest
import torch

from da._io import atomic_torch_save, atomic_write_json, atomic_write_text, torch_load


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    p = tmp_path / "sub" / "a.json"
    atomic_write_json(p, {"x": 1})
    atomic_write_json(p, {"x": 2})
    assert p.read_text().strip().replace(" ", "").replace("\n", "") == '{"x":2}'
    assert os.listdir(p.parent) == ["a.json"]
    mode = stat.S_IMODE(os.stat(p).st_mode)
    assert mode & 0o044  # group/other can read (not mkstemp's 0600) under the usual umask


def test_failed_write_keeps_old_file(tmp_path):
    p = tmp_path / "a.txt"
    atomic_write_text(p, "old")

    class Boom:
        pass

    with pytest.raises(TypeError):
        atomic_write_json(p, {"x": Boom()})
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_checkpoint_roundtrip_weights_only(tmp_path):
    p = tmp_path / "m.pt"
    atomic_torch_save({"w": torch.arange(3.0)}, p)
    assert torch.equal(torch_load(p)["w"], torch.arange(3.0))
    torch.save({"obj": object()}, tmp_path / "evil.pt")
    with pytest.raises(Exception):
        torch_load(tmp_path / "evil.pt")  # arbitrary pickles are refused
