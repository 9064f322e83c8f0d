"""Saving and loading stage one's final model: ``model/`` holds model.safetensors, config.json and
pipeline.json; a damaged or mismatched folder is refused with one line naming the file."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from behavior_tokens.core.errors import ArtifactError
from behavior_tokens.core.files import file_sha256, model_dir, read_json, write_json_atomic, writing
from behavior_tokens.core.layout import CONFIG_FILE, MODEL_DIR, MODEL_FILE, PIPELINE_FILE
from behavior_tokens.data import PosePipeline

from .config import QuantizerConfig
from .models import BehaviorQuantizer


def save_quantizer(model: BehaviorQuantizer, pipeline: PosePipeline, folder: str | Path) -> Path:
    """Write model.safetensors, config.json and pipeline.json into ``folder`` (weights last-renamed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.cfg.save(folder / CONFIG_FILE)
    write_json_atomic(folder / PIPELINE_FILE, pipeline.to_dict())
    tmp = folder / (MODEL_FILE + ".tmp")
    with writing(tmp):
        save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(tmp))
    tmp.replace(folder / MODEL_FILE)
    return folder


def model_folder(folder: str | Path) -> Path:
    """The folder holding a trained quantizer's weights: a run's ``model/`` folder or the folder itself."""
    return model_dir(folder, MODEL_FILE, "a trained quantizer",
                     "name a finished scripts/train_quantizer.py run (or its model/ folder)")


def run_root(checkpoint: str | Path) -> Path:
    """The run folder of a quantizer named by its run folder or its ``model/`` folder."""
    folder = model_folder(checkpoint)
    return folder.parent if folder.name == MODEL_DIR else folder


def load_weights(model: torch.nn.Module, path: Path, device: str | torch.device = "cpu") -> None:
    """Load safetensors weights into ``model``; a damaged file or one of another model is an ArtifactError."""
    try:
        state = load_file(str(path), device=str(device))
        model.load_state_dict(state)
    except (SafetensorError, OSError, ValueError) as e:
        raise ArtifactError(str(path), f"damaged weights file ({' '.join(str(e).split())[:200]})",
                            "re-train, or restore the file") from None
    except RuntimeError as e:  # shapes or names that do not fit the config beside them
        raise ArtifactError(str(path), "weights do not fit the config beside them "
                            f"({' '.join(str(e).split())[:200]})", "restore the model folder as training wrote it") from None


def load_quantizer(folder: str | Path, device: str | torch.device = "cpu", expect_sha256: str | None = None
                   ) -> tuple[BehaviorQuantizer, PosePipeline]:
    """Load a model saved by :func:`save_quantizer` (a run's ``model/`` folder or the run folder).

    ``expect_sha256`` (what an export recorded) refuses weights that changed since.
    """
    folder = model_folder(folder)
    if expect_sha256 and file_sha256(folder / MODEL_FILE) != expect_sha256:
        raise ArtifactError(str(folder / MODEL_FILE), "the weights are not those the tokens were made with "
                            "(sha256 differs from the export's)", "name the quantizer the export was made from, "
                            "or export again")
    cfg = QuantizerConfig.load(folder / CONFIG_FILE)
    try:
        cfg.validate()
        model = BehaviorQuantizer(cfg)
    except ValueError as e:
        raise ArtifactError(str(folder / CONFIG_FILE), f"config cannot build a model ({e})",
                            "restore the model folder as training wrote it") from None
    load_weights(model, folder / MODEL_FILE, device)
    saved = read_json(folder / PIPELINE_FILE, "pose pipeline")
    try:
        pipeline = PosePipeline.from_dict(saved)
    except (TypeError, ValueError) as e:
        raise ArtifactError(str(folder / PIPELINE_FILE), f"damaged pose pipeline ({e})",
                            "restore the model folder as training wrote it") from None
    return model.to(device).eval(), pipeline
