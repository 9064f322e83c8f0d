"""The stage-one training loop: the shared skeleton (core.loop) with stage one's step and validation.

Every ``checkpoint_every`` steps the full state goes to ``checkpoints/step_N``; ``resume``
continues from the newest one exactly. Validation on the held-out videos goes to
``metrics.jsonl`` and prints as a table; the finished model goes to ``model/``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tqdm.auto import tqdm

from behavior_tokens.core.layout import MODEL_DIR, PIPELINE_FILE
from behavior_tokens.core.loop import (
    StepSpec,
    epoch_loader,
    evaluate_on_main,
    start_run,
    tracker_config,
    train_steps,
)
from behavior_tokens.core.tables import format_table
from behavior_tokens.core.tracking import log_row

from .config import QuantizerConfig
from .data import QuantizerData, load_quantizer_data
from .evaluate import evaluate_quantizer
from .models import BehaviorQuantizer
from .saving import save_quantizer

RUN_KIND = "quantizer run"
TABLE_KEYS = ["step", "recon_loss", "r2_px", "rmse_px", "r2_model_space", "bal_acc_svm_z_e", "bal_acc_svm_z_q",
              "bal_acc_tree_codes", "codewords_used", "codewords_used_pct", "codewords_used_once", "group_perplexity",
              "codewords_sampling"]


def _source_path(source: str) -> Path | None:
    return Path(source) if Path(source).exists() else None


def train_quantizer(cfg: QuantizerConfig, *, stop_after: int | None = None, data: QuantizerData | None = None
                    ) -> dict:
    """Train stage one as ``cfg`` says; returns the last validation metrics.

    ``stop_after`` ends the run after that many steps (as if killed after the checkpoint there).
    """
    run = start_run(cfg, RUN_KIND, reads={"--source": _source_path(cfg.source)})
    data = data or load_quantizer_data(cfg)  # fills cfg.n_features, vocab, fps, splits ...
    with run.opened({PIPELINE_FILE: data.pipeline.to_dict()}):
        return _train(run, cfg, data, stop_after)


def _train(run, cfg: QuantizerConfig, data: QuantizerData, stop_after: int | None) -> dict:
    acc = run.accelerator
    if run.main:
        acc.print(data.collection.summary())
    loader = epoch_loader(data.train_windows(cfg), cfg.batch_size, cfg.seed, "training windows")
    model = BehaviorQuantizer(cfg)
    optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    model, optimizer, loader = acc.prepare(model, optimizer, loader)
    run.resume_state()
    acc.init_trackers("quantizer", config=tracker_config(cfg))
    history: list[dict] = []

    def validate(step: int) -> dict:
        metrics = {"step": step, **evaluate_quantizer(acc.unwrap_model(model), data, cfg, acc.device)}
        history.append(metrics)
        log_row(acc, run.run_dir, data.held_out_split, step, metrics)
        tqdm.write(format_table([metrics], TABLE_KEYS))
        return metrics

    spec = StepSpec(step=lambda m, batch: m(batch[0]), evaluate=validate, items=lambda batch: batch[0].shape[0],
                    rate_name="windows_per_s", log_keys=("loss", "recon_loss", "latent", "commitment", "future_loss"),
                    eval_every=cfg.eval_every or len(loader))
    step, last, _ = train_steps(run, model, optimizer, loader, spec, stop_after)
    finished = step >= cfg.max_steps
    if finished:
        last = evaluate_on_main(run, spec, step)
        if run.main:
            save_quantizer(acc.unwrap_model(model), data.pipeline, run.run_dir / MODEL_DIR)
            acc.print(f"\nvalidation on {data.held_out_split} videos:\n" + format_table(history, TABLE_KEYS))
            acc.print(f"saved {run.run_dir / MODEL_DIR}")
    run.close(finished)
    return last
