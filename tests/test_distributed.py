"""DDP through accelerate on CPU (gloo): two processes follow one process's loss curve at the same
global batch, checkpoints are written once, and --resume is exact under DDP.

accelerate's ``--cpu`` launcher starts one process (several need MPI); ``--multi_gpu`` starts them
with torch.distributed.run and, with ACCELERATE_USE_CPU=1, the Accelerator joins them over gloo.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[1]
# No dropout, no k-means init or restarts: what remains differs between 1 and 2 processes only by
# the order of floating-point sums.
FLAGS = dict(source="synthetic:3:1", hidden_size=16, num_layers=1, latent_dim=8, codewords=8, lr=3e-3,
             log_every=1, svm_max_train=200, svm_max_eval=200, eval_stride=6, dropout=0.0)

pytestmark = pytest.mark.slow


def launch(out: Path, processes: int, batch: int, steps: int, resume: bool = False, checkpoint_every: int = 100):
    args = [f"--{k}={v}" for k, v in FLAGS.items()] + [
        f"--batch_size={batch}", f"--max_steps={steps}", f"--checkpoint_every={checkpoint_every}",
        f"--output_dir={out}"] + (["--resume"] if resume else [])
    mode = ["--multi_gpu", "--main_process_port=0"] if processes > 1 else ["--cpu"]
    res = subprocess.run([sys.executable, "-m", "accelerate.commands.launch", f"--num_processes={processes}", *mode,
                          "--num_cpu_threads_per_process=1", str(ROOT / "scripts" / "train_quantizer.py"), *args],
                         capture_output=True, text=True, env={**os.environ, "ACCELERATE_USE_CPU": "1"})
    assert res.returncode == 0, res.stderr[-3000:]


def train_losses(out: Path) -> np.ndarray:
    """(steps, 2): total and reconstruction loss of every step, as logged (global-batch means)."""
    rows = [json.loads(line) for line in open(out / "metrics.jsonl")]
    return np.array([[r["loss"], r["recon_loss"]] for r in rows if r["split"] == "train"])


def test_two_processes_follow_one_process_at_the_same_global_batch(tmp_path):
    launch(tmp_path / "one", processes=1, batch=64, steps=12)
    launch(tmp_path / "two", processes=2, batch=32, steps=12)
    one, two = train_losses(tmp_path / "one"), train_losses(tmp_path / "two")
    assert len(one) == len(two) == 12
    np.testing.assert_allclose(two, one, rtol=2e-3)
    assert one[-3:, 1].mean() < one[:3, 1].mean()  # a curve that moves, not a flat line


def test_ddp_checkpoints_once_and_resumes_exactly(tmp_path):
    launch(tmp_path / "full", processes=2, batch=32, steps=12, checkpoint_every=6)
    launch(tmp_path / "part", processes=2, batch=32, steps=6, checkpoint_every=6)
    launch(tmp_path / "part", processes=2, batch=32, steps=12, checkpoint_every=6, resume=True)
    ckpt = tmp_path / "part" / "checkpoints" / "step_6"
    assert sorted(p.name for p in ckpt.glob("random_states_*.pkl")) == ["random_states_0.pkl", "random_states_1.pkl"]
    assert len(list(ckpt.glob("model*.safetensors"))) == 1  # the weights are written by one rank
    a = load_file(str(tmp_path / "full" / "model" / "model.safetensors"))
    b = load_file(str(tmp_path / "part" / "model" / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
