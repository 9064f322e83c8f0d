"""Checkpoints of a training run (either stage): ``checkpoints/step_N/`` holds accelerate's state,
the config and, written last, ``training_state.json``; a folder without it is incomplete and ignored."""

from __future__ import annotations

import json
from pathlib import Path

from .config import RunConfig
from .errors import ConfigError
from .files import read_json, write_json_atomic, writing
from .layout import CHECKPOINT_PREFIX, CHECKPOINTS_DIR, CONFIG_FILE, STATE_FILE


def list_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """The complete checkpoints of a run as (step, folder), oldest first."""
    found = []
    for p in (Path(run_dir) / CHECKPOINTS_DIR).glob(CHECKPOINT_PREFIX + "*"):
        step = p.name[len(CHECKPOINT_PREFIX):]
        if step.isdigit() and (p / STATE_FILE).exists():
            found.append((int(step), p))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of a run, or None."""
    found = list_checkpoints(run_dir)
    return found[-1][1] if found else None


def resume_point(cfg: RunConfig, run_dir: str | Path) -> tuple[Path | None, int]:
    """(newest checkpoint, its step) when ``cfg.resume``, else (None, 0); refuses another config."""
    if not cfg.resume:
        return None, 0
    ckpt = latest_checkpoint(run_dir)
    if ckpt is None:
        raise ConfigError("--resume", f"{run_dir} has no complete checkpoint to resume from",
                          "start the run without --resume")
    diff = type(cfg).load(ckpt / CONFIG_FILE).differences(cfg)
    if diff:
        raise ConfigError("--resume", f"checkpoint {ckpt} was made with another config: "
                          + ", ".join(_difference(k, a, b) for k, (a, b) in diff.items()),
                          "resume with the same settings and data, or start a new run")
    state = read_json(ckpt / STATE_FILE, "training state")
    return ckpt, int(state["step"])


def _difference(key: str, there, now) -> str:
    if isinstance(there, dict) and isinstance(now, dict):  # e.g. the sha256 of each source file: name what differs
        differ = sorted(k for k in set(there) | set(now) if there.get(k) != now.get(k))
        return f"{key} differs for {', '.join(differ[:5])}"
    return f"{key}={there!r} there, {now!r} now"


def save_checkpoint(accelerator, cfg: RunConfig, run_dir: str | Path, step: int, extra: tuple = ()) -> Path:
    """``accelerator.save_state`` into ``checkpoints/step_N`` with the config and the state of each of ``extra``
    (objects with ``save_to(folder)``: kept as safetensors and JSON, never a pickle, so a checkpoint read back runs no
    code); the state file, last, marks it complete."""
    ck = Path(run_dir) / CHECKPOINTS_DIR / f"{CHECKPOINT_PREFIX}{step}"
    with writing(ck):
        accelerator.save_state(str(ck))  # every rank takes part; accelerate writes on the main one
    if accelerator.is_main_process:
        with writing(ck):
            for obj in extra:
                obj.save_to(ck)
        cfg.save(ck / CONFIG_FILE)
        write_json_atomic(ck / STATE_FILE, {"step": step})
    accelerator.wait_for_everyone()
    return ck


def checkpoint_step(folder: Path) -> int:
    return int(json.loads((folder / STATE_FILE).read_text())["step"])
