"""The training-loop skeleton both stages run (transformers' run_clm_no_trainer.py is the model).

A stage gives its model, optimizer, data and a :class:`StepSpec` (one step's losses, its
held-out evaluation); the skeleton does the rest the same way for both: accelerate set-up and
seeding, exact resume (batches from a sampler seeded by (seed, epoch), the batches of the epoch
already seen skipped), gradient accumulation and clipping, the log / checkpoint / evaluate
cadence, a stop on a non-finite loss, the progress bar. ``Accelerator`` owns device, precision
and DDP; nothing here picks a device.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from .checkpoint import latest_checkpoint, resume_point, save_checkpoint
from .config import RunConfig
from .errors import ConfigError
from .files import (
    check_run_dir,
    discard_replaced,
    prepare_run_dir,
    release_lock,
    take_lock,
    write_json_atomic,
)
from .layout import CONFIG_FILE, MARKER_FILE
from .tracking import available_trackers, log_row, mean_over_processes


class EpochSampler(torch.utils.data.Sampler):
    """A permutation that depends only on (seed, epoch), so a resumed run sees the same batches."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())


def epoch_loader(dataset, batch_size: int, seed: int, what: str) -> torch.utils.data.DataLoader:
    """Batches in an order fixed by (seed, epoch). The loader has its own generator: making an iterator
    draws a seed, which must not move the global (dropout) RNG, or a resumed run, which makes its
    iterator later, would drift from an uninterrupted one."""
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, sampler=EpochSampler(len(dataset), seed),
                                         drop_last=True, generator=torch.Generator().manual_seed(seed))
    if len(loader) == 0:
        raise ConfigError("--batch_size", f"{len(dataset)} {what} is fewer than one batch of {batch_size}",
                          "lower --batch_size or use more data")
    return loader


@dataclass
class TrainingRun:
    """A training run under way: its accelerator, folder, config and resume point."""

    cfg: RunConfig
    kind: str
    accelerator: Accelerator
    run_dir: Path
    reads: dict[str, Path] = field(default_factory=dict)
    checkpoint: Path | None = None
    start_step: int = 0
    replaced: Path | None = None
    extra: list = field(default_factory=list)  # state beyond accelerate's, with save_to / load_from(folder)
    lock: Path | None = None
    found: set | None = None  # what the folder held before this run (the rest is this run's); None: no folder

    @property
    def main(self) -> bool:
        return self.accelerator.is_main_process

    def open(self, files: dict[str, dict] | None = None) -> None:
        """Make the run folder (after the data was read, so a bad source leaves an earlier run alone),
        find the resume point and write the config (and ``files``: {name: JSON}) into it."""
        cfg = self.cfg
        if self.main:
            self.lock = take_lock(self.run_dir)  # one writer a folder
            self.found = set(os.listdir(self.run_dir)) if self.run_dir.is_dir() else None
            self.replaced = prepare_run_dir(self.run_dir, self.kind, resume=cfg.resume, overwrite=cfg.overwrite,
                                            reads=self.reads)
        self.accelerator.wait_for_everyone()
        self.checkpoint, self.start_step = resume_point(cfg, self.run_dir)
        if self.start_step > cfg.max_steps:  # a model trained past max_steps would be saved as a max_steps run
            raise ConfigError("--max_steps", f"the checkpoint to resume is at step {self.start_step}, past "
                              f"--max_steps {cfg.max_steps}", f"pass --max_steps {self.start_step} or more")
        if self.main:
            cfg.save(self.run_dir / CONFIG_FILE)
            for name, obj in (files or {}).items():
                write_json_atomic(self.run_dir / name, obj)

    @contextlib.contextmanager
    def opened(self, files: dict[str, dict] | None = None):
        """``open`` the run for the block; a failure in it abandons the run (``abandon``) before it propagates."""
        self.open(files)
        try:
            yield self
        except BaseException:
            self.abandon()
            raise

    def resume_state(self, *objects) -> None:
        """Load the checkpoint resumed from (accelerate's state, then each of ``objects``' own) and keep ``objects``
        to be saved with every checkpoint from now on."""
        self.extra += objects
        if self.checkpoint is not None:
            self.accelerator.load_state(str(self.checkpoint))
            for obj in objects:
                obj.load_from(self.checkpoint)
            self.accelerator.print(f"resumed from {self.checkpoint} at step {self.start_step}")

    def close(self, finished: bool) -> None:
        if finished and self.main:
            discard_replaced(self.replaced)
        if self.main:
            release_lock(self.lock)
        self.accelerator.end_training()

    def abandon(self) -> None:
        """After a failure: a run that saved no checkpoint yet leaves the folder as it found it (what it wrote
        removed, a run it set aside moved back), so a fresh start works; one with a checkpoint is kept to resume."""
        if self.main and not self.cfg.resume and latest_checkpoint(self.run_dir) is None:
            if self.replaced is not None:
                shutil.rmtree(self.run_dir, ignore_errors=True)
                os.replace(self.replaced, self.run_dir)
            elif self.found is None:
                shutil.rmtree(self.run_dir, ignore_errors=True)
            elif self.run_dir.is_dir():
                for name in set(os.listdir(self.run_dir)) - self.found - {MARKER_FILE}:
                    path = self.run_dir / name
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        if self.main:
            release_lock(self.lock)


def start_run(cfg: RunConfig, kind: str, *, grad_accum: int = 1, reads: dict[str, Path] | None = None
              ) -> TrainingRun:
    """Check the config and the output folder, set up accelerate and seed; nothing is written yet."""
    cfg.validate()
    run_dir = Path(cfg.output_dir)
    reads = {k: v for k, v in (reads or {}).items() if v is not None}
    check_run_dir(run_dir, kind, resume=cfg.resume, overwrite=cfg.overwrite, reads=reads)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=grad_accum,
                              log_with=available_trackers(), project_dir=str(run_dir))
    set_seed(cfg.seed)
    return TrainingRun(cfg, kind, accelerator, run_dir, reads)


@dataclass
class StepSpec:
    """What a stage gives the loop."""

    step: Callable[[torch.nn.Module, object], dict[str, torch.Tensor]]  # (model, batch) -> losses, "loss" first
    evaluate: Callable[[int], dict]  # held-out evaluation at a step, run on the main process
    items: Callable[[object], int]  # windows / tokens in a batch, for the rate
    rate_name: str  # e.g. "windows_per_s"
    log_keys: tuple[str, ...] = ("loss",)
    clip_norm: float | None = None
    scheduler: object | None = None
    eval_every: int = 0  # steps between evaluations (0: only at the end)
    desc: str = "train"
    stop: Callable[[dict], bool] | None = None  # on the main process, after an evaluation: stop early?


def train_steps(run: TrainingRun, model, optimizer, loader, spec: StepSpec, stop_after: int | None = None
                ) -> tuple[int, dict, bool]:
    """Train from the resume point to ``max_steps`` (or ``stop_after``, as if killed after the checkpoint
    there); returns (last step, last evaluation, whether ``spec.stop`` ended it early). The evaluation at
    ``max_steps`` is the caller's."""
    acc, cfg = run.accelerator, run.cfg
    step = run.start_step
    end = min(cfg.max_steps, stop_after) if stop_after is not None else cfg.max_steps
    with tqdm(total=cfg.max_steps, initial=step, disable=not acc.is_local_main_process, desc=spec.desc) as bar:
        return _steps(run, model, optimizer, loader, spec, step, end, bar)


def _steps(run: TrainingRun, model, optimizer, loader, spec: StepSpec, step: int, end: int, bar
           ) -> tuple[int, dict, bool]:
    acc, cfg, run_dir = run.accelerator, run.cfg, run.run_dir
    grad_accum = acc.gradient_accumulation_steps
    batches_per_epoch = len(loader)
    t0, seen, last_eval = time.time(), 0, {}
    while step < end:
        epoch, skip = divmod(step * grad_accum, batches_per_epoch)
        # accelerate's loaders call set_epoch(their own iteration count) when iterated; a fresh
        # skip-loader would count from 0, so both are told the epoch (and pass it to the sampler).
        batches = acc.skip_first_batches(loader, skip) if skip else loader
        batches.set_epoch(epoch)
        for batch in batches:
            model.train()
            with acc.accumulate(model):
                out = spec.step(model, batch)
                loss = out["loss"]
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss is {loss.item()} at step {step + 1}; lower --lr "
                                             f"(checkpoints so far are kept in {run_dir / 'checkpoints'})")
                acc.backward(loss)
                if spec.clip_norm and acc.sync_gradients:
                    acc.clip_grad_norm_(model.parameters(), spec.clip_norm)
                optimizer.step()
                if spec.scheduler is not None:
                    spec.scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            seen += spec.items(batch) * acc.num_processes
            if not acc.sync_gradients:
                continue
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == end:
                logs = mean_over_processes(acc, {k: out[k] for k in spec.log_keys if k in out})
                if spec.scheduler is not None:
                    logs["lr"] = spec.scheduler.get_last_lr()[0]
                logs[spec.rate_name] = seen / (time.time() - t0)
                bar.set_postfix({k: f"{logs[k]:.4f}" for k in spec.log_keys[:2] if k in logs})
                log_row(acc, run_dir, "train", step, logs)
            stop = False
            # evaluate before checkpointing: a checkpoint then holds what the evaluation changed (early-stopping
            # state, any random draws), and a run resumed from it goes on exactly as one never stopped
            if spec.eval_every and step % spec.eval_every == 0 and step < cfg.max_steps:
                last_eval = evaluate_on_main(run, spec, step)
                stop = spec.stop is not None and _agreed(acc, run.main and spec.stop(last_eval))
            if step % cfg.checkpoint_every == 0 or step == end or stop:
                save_checkpoint(acc, cfg, run_dir, step, tuple(run.extra))
            if stop:
                return step, last_eval, True
            if step >= end:
                break
    return step, last_eval, False


def _agreed(acc, flag: bool) -> bool:
    """The main process's decision, on every process."""
    from accelerate.utils import broadcast_object_list
    return bool(broadcast_object_list([flag], from_process=0)[0]) if acc.num_processes > 1 else bool(flag)


def evaluate_on_main(run: TrainingRun, spec: StepSpec, step: int) -> dict:
    """The stage's evaluation on the main process; every process waits for it."""
    result = spec.evaluate(step) if run.main else {}
    run.accelerator.wait_for_everyone()
    return result


def tracker_config(cfg: RunConfig) -> dict:
    return {k: v for k, v in cfg.to_dict().items() if isinstance(v, int | float | str | bool)}
