"""Saving and loading stage one: the final model (safetensors + config + pipeline) and run folders."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from data import PosePipeline

from .config import QuantizerConfig, RunConfig
from .models import BehaviorQuantizer

MODEL_FILE, CONFIG_FILE, PIPELINE_FILE, STATE_FILE = "model.safetensors", "config.json", "pipeline.json", "training_state.json"
METRICS_FILE = "metrics.jsonl"


def write_json_atomic(path: Path, obj) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
    os.replace(tmp, path)


def save_quantizer(model: BehaviorQuantizer, pipeline: PosePipeline, folder: str | Path) -> Path:
    """Write model.safetensors, config.json and pipeline.json into ``folder`` (weights last-renamed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.cfg.save(folder / CONFIG_FILE)
    write_json_atomic(folder / PIPELINE_FILE, pipeline.to_dict())
    tmp = folder / (MODEL_FILE + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    os.replace(tmp, folder / MODEL_FILE)
    return folder


def model_folder(folder: str | Path) -> Path:
    """The folder holding a trained quantizer's weights: a run's ``model/`` folder or the folder itself."""
    folder = Path(folder)
    if (folder / "model" / MODEL_FILE).exists():
        folder = folder / "model"
    if not (folder / MODEL_FILE).exists():
        raise FileNotFoundError(f"{folder}: no {MODEL_FILE}; expected a trained quantizer folder")
    return folder


def load_quantizer(folder: str | Path, device: str | torch.device = "cpu"
                   ) -> tuple[BehaviorQuantizer, PosePipeline]:
    """Load a model saved by :func:`save_quantizer` (a run's ``model/`` folder or the run folder)."""
    folder = model_folder(folder)
    cfg = QuantizerConfig.load(folder / CONFIG_FILE)
    model = BehaviorQuantizer(cfg)
    model.load_state_dict(load_file(str(folder / MODEL_FILE), device=str(device)))
    pipeline = PosePipeline.from_dict(json.loads((folder / PIPELINE_FILE).read_text()))
    return model.to(device).eval(), pipeline


def resume_point(cfg: RunConfig, run_dir: str | Path) -> tuple[Path | None, int]:
    """(newest checkpoint, its step) when ``cfg.resume``, else (None, 0); refuses another config."""
    if not cfg.resume:
        return None, 0
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise FileNotFoundError(f"--resume: {run_dir} has no complete checkpoint to resume from")
    diff = type(cfg).load(ckpt / CONFIG_FILE).differences(cfg)
    if diff:
        raise ValueError(f"--resume: checkpoint {ckpt} was made with another config: "
                         + ", ".join(f"{k}={a!r} there, {b!r} now" for k, (a, b) in diff.items()))
    return ckpt, int(json.loads((ckpt / STATE_FILE).read_text())["step"])


def save_checkpoint(accelerator, cfg: RunConfig, run_dir: str | Path, step: int) -> Path:
    """``accelerator.save_state`` into ``checkpoints/step_N`` with the config; the state file last marks it complete."""
    ck = Path(run_dir) / "checkpoints" / f"step_{step}"
    accelerator.save_state(str(ck))  # every rank takes part; accelerate writes on the main one
    if accelerator.is_main_process:
        cfg.save(ck / CONFIG_FILE)
        write_json_atomic(ck / STATE_FILE, {"step": step})
    accelerator.wait_for_everyone()
    return ck


def mean_over_processes(accelerator, values: dict[str, torch.Tensor]) -> dict[str, float]:
    """Scalars averaged over every DDP process (each holds an equal share of the global batch),
    so logged losses are those of the global batch, whatever the number of processes."""
    keys = list(values)
    stacked = torch.stack([values[k].detach().float() for k in keys])
    return dict(zip(keys, accelerator.reduce(stacked, reduction="mean").tolist(), strict=True))


def log_row(accelerator, run_dir: str | Path, split: str, step: int, values: dict) -> None:
    """One row of metrics: to the trackers (numbers, as ``train/...`` or ``eval/...``) and, from the
    main process, appended to ``run_dir/metrics.jsonl`` (all values) that plots and reports read."""
    prefix = "train" if split == "train" else "eval"
    accelerator.log({f"{prefix}/{k}": v for k, v in values.items() if isinstance(v, int | float)}, step=step)
    if accelerator.is_main_process:
        with open(Path(run_dir) / METRICS_FILE, "a") as f:
            f.write(json.dumps({"split": split, "step": step, **values}) + "\n")


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint (one whose training_state.json was written) of a run."""
    ckpts = [p for p in (Path(run_dir) / "checkpoints").glob("step_*") if (p / STATE_FILE).exists()]
    return max(ckpts, key=lambda p: int(p.name.split("_")[1])) if ckpts else None


def prepare_output_dir(run_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to write over an earlier run unless asked; with ``overwrite`` start from an empty folder."""
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        if not overwrite:
            raise FileExistsError(f"{run_dir} already holds a run; pass --resume to continue it or "
                                  "--overwrite to replace it")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
