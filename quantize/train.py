"""The stage-one training loop (accelerate; run_clm_no_trainer.py is the model).

``Accelerator`` owns device, precision and DDP; the loop never picks a device itself. Every
``checkpoint_every`` steps the full state goes to ``checkpoints/step_N`` (``save_state``, with
the config beside it); ``resume`` continues from the newest one exactly: batches come from a
sampler seeded by (seed, epoch) and the run skips the batches of the epoch already seen.
Validation metrics go to ``metrics.jsonl`` and print as a table.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm

from .checkpoint import (
    CONFIG_FILE,
    PIPELINE_FILE,
    log_row,
    mean_over_processes,
    prepare_output_dir,
    resume_point,
    save_checkpoint,
    save_quantizer,
    write_json_atomic,
)
from .config import QuantizerConfig
from .data import EpochSampler, QuantizerData, load_quantizer_data
from .evaluate import evaluate_quantizer
from .models import BehaviorQuantizer

TABLE_KEYS = ["step", "recon_loss", "r2_px", "rmse_px", "r2_model_space", "bal_acc_svm_z_e", "bal_acc_svm_z_q",
              "bal_acc_tree_codes", "codewords_used", "codewords_used_pct", "codewords_used_once", "group_perplexity"]


def format_table(rows: list[dict], keys: list[str] = TABLE_KEYS) -> str:
    """A Markdown table of ``keys`` over ``rows`` (missing values blank)."""
    def cell(v):
        if isinstance(v, float):
            return f"{v:.4g}"
        if isinstance(v, list):
            return "/".join(cell(x) for x in v)
        return "" if v is None else str(v)
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(cell(r.get(k)) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def available_trackers() -> list[str] | None:
    """accelerate trackers to log to: tensorboard when it is installed, else none (JSON lines only)."""
    from accelerate.utils import is_tensorboard_available
    return ["tensorboard"] if is_tensorboard_available() else None


def train_quantizer(cfg: QuantizerConfig, *, stop_after: int | None = None, data: QuantizerData | None = None
                    ) -> dict:
    """Train stage one as ``cfg`` says; returns the last validation metrics.

    ``stop_after`` ends the run after that many steps (as if killed after the checkpoint there).
    """
    cfg.validate()
    run_dir = Path(cfg.output_dir)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, log_with=available_trackers(), project_dir=str(run_dir))
    main = accelerator.is_main_process
    if main:
        prepare_output_dir(run_dir, resume=cfg.resume, overwrite=cfg.overwrite)
    accelerator.wait_for_everyone()
    set_seed(cfg.seed)
    data = data or load_quantizer_data(cfg)  # fills cfg.n_features, vocab, fps ...
    ckpt, step = resume_point(cfg, run_dir)
    if main:
        accelerator.print(data.collection.summary())
        cfg.save(run_dir / CONFIG_FILE)
        write_json_atomic(run_dir / PIPELINE_FILE, data.pipeline.to_dict())
    train_ds = data.train_windows(cfg)
    sampler = EpochSampler(len(train_ds), cfg.seed)
    # Its own generator: making an iterator draws a seed, which must not move the global (dropout) RNG,
    # or a resumed run, which makes its iterator later, would drift from an uninterrupted one.
    loader = torch.utils.data.DataLoader(train_ds, batch_size=cfg.batch_size, sampler=sampler, drop_last=True,
                                         generator=torch.Generator().manual_seed(cfg.seed))
    if len(loader) == 0:
        raise ValueError(f"{len(train_ds)} training windows is fewer than one batch of {cfg.batch_size}")
    model = BehaviorQuantizer(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model, optimizer, loader = accelerator.prepare(model, optimizer, loader)
    if ckpt is not None:
        accelerator.load_state(str(ckpt))
        accelerator.print(f"resumed from {ckpt} at step {step}")
    tracker_cfg = {k: v for k, v in cfg.to_dict().items() if isinstance(v, int | float | str | bool)}
    accelerator.init_trackers("quantizer", config=tracker_cfg)
    steps_per_epoch = len(loader)
    eval_every = cfg.eval_every or steps_per_epoch
    history: list[dict] = []
    last_metrics: dict = {}
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not accelerator.is_local_main_process, desc="train")
    t0, seen = time.time(), 0
    end = min(cfg.max_steps, stop_after) if stop_after is not None else cfg.max_steps

    def validate() -> dict:
        metrics = {}
        if main:
            metrics = {"step": step, **evaluate_quantizer(accelerator.unwrap_model(model), data, cfg,
                                                          accelerator.device)}
            history.append(metrics)
            log_row(accelerator, run_dir, data.held_out_split, step, metrics)
            tqdm.write(format_table([metrics]))
        accelerator.wait_for_everyone()
        return metrics

    while step < end:
        epoch, skip = divmod(step, steps_per_epoch)
        # accelerate's loaders call set_epoch(their own iteration count) when iterated; a fresh
        # skip-loader would count from 0, so both are told the epoch (and pass it to the sampler).
        batches = accelerator.skip_first_batches(loader, skip) if skip else loader
        batches.set_epoch(epoch)
        for x, _, _ in batches:
            model.train()
            out = model(x)
            loss = out["loss"]
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at step {step + 1}; lower lr or eta "
                                         f"(checkpoints so far are kept in {run_dir / 'checkpoints'})")
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            seen += x.shape[0] * accelerator.num_processes
            bar.update(1)
            if step % cfg.log_every == 0 or step == end:
                logs = mean_over_processes(accelerator, {k: out[k] for k in ("loss", "recon_loss", "latent",
                                                                             "commitment", "future_loss") if k in out})
                logs["windows_per_s"] = seen / (time.time() - t0)
                bar.set_postfix(loss=f"{logs['loss']:.4f}", recon=f"{logs['recon_loss']:.4f}")
                log_row(accelerator, run_dir, "train", step, logs)
            if step % cfg.checkpoint_every == 0 or step == end:
                save_checkpoint(accelerator, cfg, run_dir, step)
            if step % eval_every == 0 and step < cfg.max_steps:
                last_metrics = validate()
            if step >= end:
                break
    bar.close()
    if step >= cfg.max_steps:
        last_metrics = validate()
        if main:
            save_quantizer(accelerator.unwrap_model(model), data.pipeline, run_dir / "model")
            accelerator.print(f"\nvalidation on {data.held_out_split} videos:\n" + format_table(history))
            accelerator.print(f"saved {run_dir / 'model'}")
    accelerator.end_training()
    return last_metrics
