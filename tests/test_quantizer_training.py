"""Training stage one: the loss falls, everything is written, resume is exact, runs are never overwritten."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import TINY_QUANTIZER
from safetensors.torch import load_file
from sklearn.metrics import balanced_accuracy_score

from behavior_tokens.core import balanced_accuracy
from behavior_tokens.quantize import (
    QuantizerConfig,
    load_quantizer,
    train_quantizer,
)

ROOT = Path(__file__).resolve().parents[1]
TINY = {**TINY_QUANTIZER, "lr": 3e-3, "log_every": 5, "svm_max_train": 300, "svm_max_eval": 300, "eval_stride": 6}


def tiny(tmp_path, name="run", **kw) -> QuantizerConfig:
    return QuantizerConfig(output_dir=str(tmp_path / name), **{**TINY, **kw})


def _train_losses(run_dir):
    rows = [json.loads(line) for line in open(Path(run_dir) / "metrics.jsonl")]
    return [r["recon_loss"] for r in rows if r["split"] == "train"]


def test_loss_falls_and_everything_is_written(tmp_path):
    cfg = tiny(tmp_path, max_steps=60, checkpoint_every=30)
    metrics = train_quantizer(cfg)
    losses = _train_losses(cfg.output_dir)
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:2]), losses
    run = Path(cfg.output_dir)
    for f in ("config.json", "pipeline.json", "metrics.jsonl", "model/model.safetensors", "model/config.json",
              "checkpoints/step_30/config.json", "checkpoints/step_60/training_state.json"):
        assert (run / f).exists(), f
    for k in ("r2_px", "rmse_px", "bal_acc_svm_z_e", "bal_acc_svm_z_q", "bal_acc_tree_codes", "codewords_used",
              "codewords_used_once", "group_perplexity", "latent", "commitment"):
        assert k in metrics, k
    assert 0 < metrics["codewords_used"] <= 64
    saved = QuantizerConfig.load(run / "config.json")
    assert saved.n_features == 28 and saved.vocab == {"attack": 0, "investigation": 1, "mount": 2, "other": 3}
    model, pipeline = load_quantizer(run)
    x = torch.randn(2, 30, 28)
    assert model(x)["recon"].shape == (2, 30, 28)


def test_resume_continues_exactly(tmp_path):
    full = tiny(tmp_path, "full", max_steps=70, checkpoint_every=35, dropout=0.1, num_layers=2)
    train_quantizer(full)
    part = tiny(tmp_path, "part", max_steps=70, checkpoint_every=35, dropout=0.1, num_layers=2)
    train_quantizer(part, stop_after=35)  # killed right after the step-35 checkpoint
    assert not (Path(part.output_dir) / "model").exists()
    resumed = tiny(tmp_path, "part", max_steps=70, checkpoint_every=35, dropout=0.1, num_layers=2, resume=True)
    train_quantizer(resumed)
    a = load_file(str(Path(full.output_dir) / "model" / "model.safetensors"))
    b = load_file(str(Path(part.output_dir) / "model" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_resume_refuses_another_config_and_runs_are_not_overwritten(tmp_path):
    cfg = tiny(tmp_path, max_steps=10, checkpoint_every=10)
    train_quantizer(cfg)
    before = (Path(cfg.output_dir) / "model" / "model.safetensors").read_bytes()
    with pytest.raises(ValueError, match=r"--output_dir: .* already holds a run \(pass --resume .* --overwrite"):
        train_quantizer(tiny(tmp_path, max_steps=10))
    assert (Path(cfg.output_dir) / "model" / "model.safetensors").read_bytes() == before
    with pytest.raises(ValueError, match="another config: codewords=8 there, 16 now"):
        train_quantizer(tiny(tmp_path, max_steps=20, codewords=16, resume=True))


@pytest.mark.parametrize("kw, err, msg", [
    (dict(latent_dim=9, groups=2), ValueError, "--latent_dim: 9 is not divisible by --groups 2"),
    (dict(codewords=1), ValueError, r"--codewords: must be >= 2, got 1"),
    (dict(window=5000), ValueError, "--window: a window of 5000 frames is longer than the shortest video"),
    (dict(eta=float("nan")), ValueError, "--eta: must be a finite number, got nan"),
])
def test_bad_configs(tmp_path, kw, err, msg):
    with pytest.raises(err, match=msg):
        train_quantizer(tiny(tmp_path, max_steps=5, **kw))


def test_conv_family_encodes_a_whole_sequence_per_frame(tmp_path):
    cfg = tiny(tmp_path, family="conv", max_steps=30, checkpoint_every=30)
    train_quantizer(cfg)
    model, _ = load_quantizer(cfg.output_dir)
    seq = torch.randn(1, 500, 28)
    assert model.net.encode(seq).shape == (1, 500, 8)
    losses = _train_losses(cfg.output_dir)
    assert np.mean(losses[-2:]) < np.mean(losses[:2]), losses


def test_balanced_accuracy_matches_sklearn():
    y = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    p = np.array([0, 0, 1, 2, 1, 0, 2, 2, 2, 0])
    assert balanced_accuracy(y, p) == pytest.approx(balanced_accuracy_score(y, p))
    assert balanced_accuracy(y, p) == pytest.approx((2 / 4 + 1 / 2 + 3 / 4) / 3)
    # predicting a class that never occurs is a miss, not dropped
    assert balanced_accuracy(np.array([0, 1, 1]), np.array([2, 1, 2])) == pytest.approx(0.25)


def test_ethome_social_runs(tmp_path, ethome):
    cfg = tiny(tmp_path, source=str(ethome), test_videos=["e3v813a-20210610T122758-123309"], max_steps=20,
               checkpoint_every=20)
    metrics = train_quantizer(cfg)
    assert 0.0 <= metrics["bal_acc_tree_codes"] <= 1.0 and np.isfinite(metrics["rmse_px"])
    assert QuantizerConfig.load(Path(cfg.output_dir) / "config.json").vocab == {"other": 0, "interact": 1}


def test_script_runs_under_accelerate_launch(tmp_path):
    out = tmp_path / "cli"
    args = [f"--{k}={v}" for k, v in TINY.items()] + ["--max_steps=6", "--checkpoint_every=6", f"--output_dir={out}"]
    res = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", "--num_processes=1", "--cpu",
                          str(ROOT / "scripts" / "train_quantizer.py"), *args], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert (out / "model" / "model.safetensors").exists()
