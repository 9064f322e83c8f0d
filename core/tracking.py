"""Metric rows of a training run: to accelerate's trackers and to ``metrics.jsonl``, which the
report and plots read back."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .layout import METRICS_FILE


def available_trackers() -> list[str] | None:
    """accelerate trackers to log to: tensorboard when it is installed, else none (JSON lines only)."""
    from accelerate.utils import is_tensorboard_available
    return ["tensorboard"] if is_tensorboard_available() else None


def mean_over_processes(accelerator, values: dict[str, torch.Tensor]) -> dict[str, float]:
    """Scalars averaged over every DDP process (each holds an equal share of the global batch),
    so logged losses are those of the global batch, whatever the number of processes."""
    keys = list(values)
    stacked = torch.stack([values[k].detach().float() for k in keys])
    return dict(zip(keys, accelerator.reduce(stacked, reduction="mean").tolist(), strict=True))


def log_row(accelerator, run_dir: str | Path, split: str, step: int, values: dict) -> None:
    """One row of metrics: to the trackers (numbers, as ``train/...`` or ``eval/...``) and, from the
    main process, appended to ``run_dir/metrics.jsonl`` (all values)."""
    prefix = "train" if split == "train" else "eval"
    accelerator.log({f"{prefix}/{k}": v for k, v in values.items() if isinstance(v, int | float)}, step=step)
    if accelerator.is_main_process:
        with open(Path(run_dir) / METRICS_FILE, "a") as f:
            f.write(json.dumps({"split": split, "step": step, **values}) + "\n")


def read_rows(run_dir: str | Path) -> list[dict]:
    """Every row of a run's ``metrics.jsonl`` (none if it has not logged yet); a damaged line is skipped
    only when it is the last (a kill mid-write), anywhere else it is an error."""
    path = Path(run_dir) / METRICS_FILE
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    rows = []
    for i, line in enumerate(lines):
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            if i == len(lines) - 1:
                break
            from .errors import ArtifactError
            raise ArtifactError(str(path), f"line {i + 1} is not a JSON row", "the file was edited or damaged") from None
    return rows
