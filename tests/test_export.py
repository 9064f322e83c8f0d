"""The export: counts, exact round trips, reproducible files, the codes of the centred window."""

import filecmp
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_QUANTIZER
from datasets import load_dataset, load_from_disk

from behavior_tokens.data import load_pose_source, sliding_windows
from behavior_tokens.quantize import QuantizerConfig, load_quantizer, train_quantizer
from behavior_tokens.quantize.export import ExportConfig, encode_record, export_tokens

TINY = {**TINY_QUANTIZER, "max_steps": 15, "checkpoint_every": 15, "svm_max_train": 200, "svm_max_eval": 200,
        "eval_stride": 6}


@pytest.fixture(scope="module", params=["gru", "conv"])
def trained(request, tmp_path_factory):
    out = tmp_path_factory.mktemp(request.param) / "run"
    train_quantizer(QuantizerConfig(output_dir=str(out), family=request.param, **TINY))
    return out


def _same_tree(a: Path, b: Path) -> bool:
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.diff_files or cmp.funny_files:
        return False
    files = [f for f in cmp.common_files]
    _, mismatch, errors = filecmp.cmpfiles(a, b, files, shallow=False)
    return not mismatch and not errors and all(_same_tree(a / d, b / d) for d in cmp.common_dirs)


def test_export_counts_round_trips_and_is_reproducible(trained, tmp_path):
    dd = export_tokens(ExportConfig(checkpoint=str(trained), output_dir=str(tmp_path / "a")), progress=False)
    coll = load_pose_source("synthetic:3:1")
    assert set(dd) == set(coll.splits)
    for split, records in coll.splits.items():
        assert len(dd[split]) == len(records)
        for row, rec in zip(dd[split], records, strict=True):
            assert row["video_id"] == rec.video_id and row["n_frames"] == rec.n_frames
            codes = np.asarray(row["codes"])
            assert codes.shape == (rec.n_frames, 2) and codes.min() >= 0 and codes.max() < 8
            np.testing.assert_array_equal(row["labels"], rec.labels)
    # load_from_disk and the parquet shards give the same content
    disk = load_from_disk(str(tmp_path / "a" / "dataset"))
    parquet = load_dataset("parquet", data_dir=str(tmp_path / "a" / "data"))
    for split in dd:
        assert disk[split].to_dict() == parquet[split].to_dict() == dd[split].to_dict()
    card = (tmp_path / "a" / "README.md").read_text()
    assert card.startswith("---\nlicense: other") and "G=2 groups x\nV=8 codewords" in card
    # a second export of the same checkpoint is byte-identical
    export_tokens(ExportConfig(checkpoint=str(trained), output_dir=str(tmp_path / "b")), progress=False)
    assert _same_tree(tmp_path / "a", tmp_path / "b")


def test_codes_are_those_of_the_centred_window(trained):
    model, pipeline = load_quantizer(trained)
    rec = load_pose_source("synthetic:3:1")["test"][0]
    enc = encode_record(model, pipeline, rec)
    codes, zq = enc.codes, enc.z_q
    feats, _ = pipeline.forward(rec)
    t = 500
    win = torch.tensor(sliding_windows(feats, 30)[t - 15])[None]
    if model.cfg.family == "gru":
        z_e, _, expected = model.encode_center(win)
        assert codes[t].tolist() == expected[0].tolist()
        np.testing.assert_allclose(enc.z_e[t], z_e[0].numpy(), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.from_numpy(zq), model.quantizer.lookup(torch.from_numpy(codes.astype(np.int64))))
    # stride 2: every other frame is encoded and covers two frames
    codes2 = encode_record(model, pipeline, rec, stride=2).codes
    assert codes2.shape == codes.shape
    np.testing.assert_array_equal(codes2[::2], codes[::2])
    np.testing.assert_array_equal(codes2[1::2], codes2[::2][: len(codes2[1::2])])


def test_refuses_to_overwrite_and_push_offline_keeps_export(trained, tmp_path, monkeypatch):
    out = tmp_path / "e"
    export_tokens(ExportConfig(checkpoint=str(trained), output_dir=str(out)), progress=False)
    before = sorted(p.name for p in out.rglob("*"))
    with pytest.raises(ValueError, match=r"already holds results \(pass --overwrite"):
        export_tokens(ExportConfig(checkpoint=str(trained), output_dir=str(out)), progress=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as hc
    monkeypatch.setattr(hc, "HF_HUB_OFFLINE", True)
    from behavior_tokens.quantize.export import push_export
    with pytest.raises(RuntimeError, match="push as 'me/tokens' failed .* local export in .* is intact"):
        push_export(out, "me/tokens")
    assert sorted(p.name for p in out.rglob("*")) == before


def test_ethome_export_counts(tmp_path, ethome):
    run = tmp_path / "run"
    held = "e3v813a-20210610T122758-123309"
    train_quantizer(QuantizerConfig(output_dir=str(run), **{**TINY, "source": str(ethome), "max_steps": 3,
                                                             "checkpoint_every": 3}, test_videos=[held]))
    dd = export_tokens(ExportConfig(checkpoint=str(run), output_dir=str(tmp_path / "tok"), stride=4), progress=False)
    assert {s: len(d) for s, d in dd.items()} == {"train": 3, "test": 1}
    assert sum(sum(d["n_frames"]) for d in dd.values()) == 35400
    assert dd["test"][0]["video_id"] == held and sum(np.asarray(dd["test"][0]["labels"]) == 1) == 283
    assert os.path.exists(tmp_path / "tok" / "export.json")
