"""The stage-two training loop (accelerate, as transformers' run_clm_no_trainer.py).

Blocks of the training stream come from an epoch-seeded sampler so ``resume`` continues exactly;
the optimizer is AdamW with weight decay on matrices only and a cosine schedule with warm-up.
Held-out evaluation (perplexity, bits per token / frame / second) runs every ``eval_every``
steps beside unigram, bigram and trigram baselines scored on the same tokens. The final model
and tokenizer are saved together with ``save_pretrained`` into ``output_dir/model``.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from accelerate import Accelerator
from accelerate.utils import set_seed
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from quantize.checkpoint import (
    CONFIG_FILE,
    log_row,
    mean_over_processes,
    prepare_output_dir,
    resume_point,
    save_checkpoint,
    write_json_atomic,
)
from quantize.data import EpochSampler
from quantize.train import available_trackers, format_table

from .config import LMConfig
from .data import (
    EXPORT_META,
    BlockDataset,
    held_out_split,
    load_token_export,
    open_token_stream,
    split_stream,
)
from .evaluate import baseline_metrics, comparison_rows, gpt_nll, nll_metrics
from .model import build_gpt, n_parameters

MODEL_DIR = "model"
EVAL_FILE = "eval.json"
TABLE_KEYS = ["model", "tokens", "perplexity", "bits_per_token", "bits_per_frame", "bits_per_second",
              "gpt_gain_bits_per_token"]


def _optimizer(model, cfg: LMConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices (weights, embeddings), not on biases and norms (nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


def save_lm(model, tokenizer, cfg: LMConfig, export_meta: dict, folder: str | Path) -> Path:
    """Model and tokenizer into one folder (AutoModelForCausalLM / AutoTokenizer load it), with configs."""
    folder = Path(folder)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(folder)
    cfg.save(folder / "lm_config.json")
    write_json_atomic(folder / EXPORT_META, export_meta)
    return folder


def train_lm(cfg: LMConfig, *, stop_after: int | None = None) -> dict:
    """Train stage two as ``cfg`` says; returns the last held-out evaluation ({gpt, baselines})."""
    cfg.validate()
    run_dir = Path(cfg.output_dir)
    accelerator = Accelerator(mixed_precision=cfg.mixed_precision, gradient_accumulation_steps=cfg.grad_accum,
                              log_with=available_trackers(), project_dir=str(run_dir))
    main = accelerator.is_main_process
    if main:
        prepare_output_dir(run_dir, resume=cfg.resume, overwrite=cfg.overwrite)
    accelerator.wait_for_everyone()
    set_seed(cfg.seed)
    export = load_token_export(cfg.tokens)
    tok = export.tokenizer
    held_name = held_out_split(export, cfg.eval_split)
    # Streams go to disk once (main process) and are memory-mapped by every process.
    streams = {"train": (cfg.train_splits, run_dir / "streams" / "train.bin"),
               "held": ([held_name], run_dir / "streams" / f"{held_name}.bin")}
    if main:
        for splits, path in streams.values():
            split_stream(export, splits, path)
    accelerator.wait_for_everyone()
    train_stream, held_stream = (open_token_stream(path) for _, path in streams.values())
    if cfg.eval_tokens:
        held_stream.ids = held_stream.ids[:cfg.eval_tokens + 1]
    cfg.vocab_size, cfg.scheme, cfg.fps = len(tok), tok.scheme.scheme, export.fps
    ckpt, step = resume_point(cfg, run_dir)
    if main:
        cfg.save(run_dir / CONFIG_FILE)
    train_ds = BlockDataset(train_stream.ids, cfg.block_size)
    loader = torch.utils.data.DataLoader(train_ds, batch_size=cfg.batch_size, sampler=EpochSampler(len(train_ds), cfg.seed),
                                         drop_last=True, generator=torch.Generator().manual_seed(cfg.seed))
    if len(loader) == 0:
        raise ValueError(f"{len(train_ds)} training blocks of {cfg.block_size} tokens is fewer than one batch of "
                         f"{cfg.batch_size}; lower batch_size or block_size")
    model = build_gpt(cfg, tok)
    optimizer = _optimizer(model, cfg)
    # accelerate steps a prepared scheduler once per process, so its lengths count all processes
    scheduler = get_cosine_schedule_with_warmup(optimizer, cfg.warmup_steps * accelerator.num_processes,
                                                cfg.max_steps * accelerator.num_processes)
    model, optimizer, loader, scheduler = accelerator.prepare(model, optimizer, loader, scheduler)
    if ckpt is not None:
        accelerator.load_state(str(ckpt))
        accelerator.print(f"resumed from {ckpt} at step {step}")
    accelerator.print(f"GPT of {n_parameters(model) / 1e6:.2f}M parameters; {cfg.scheme} tokens, vocabulary "
                      f"{cfg.vocab_size}; train {len(train_stream.ids):,} tokens ({train_stream.videos} videos, "
                      f"{train_stream.tokens_per_frame:.2f} tokens/frame), {held_name} {len(held_stream.ids):,}")
    accelerator.init_trackers("lm", config={k: v for k, v in cfg.to_dict().items()
                                            if isinstance(v, int | float | str | bool)})
    baselines = baseline_metrics(train_stream, held_stream, len(tok), export.fps) if main else {}
    eval_every = cfg.eval_every or cfg.max_steps
    batches_per_epoch = len(loader)
    end = min(cfg.max_steps, stop_after) if stop_after is not None else cfg.max_steps
    result: dict = {}
    bar = tqdm(total=cfg.max_steps, initial=step, disable=not accelerator.is_local_main_process, desc="train lm")
    t0, seen = time.time(), 0

    def evaluate() -> dict:
        res = {}
        if main:
            nll = gpt_nll(accelerator.unwrap_model(model), held_stream.ids, cfg.block_size, cfg.batch_size,
                          accelerator.device)
            res = {"step": step, "split": held_name, "gpt": nll_metrics(nll, held_stream, export.fps),
                   "baselines": baselines}
            log_row(accelerator, run_dir, held_name, step, res["gpt"])
            tqdm.write(format_table(comparison_rows(res["gpt"], baselines), TABLE_KEYS))
        accelerator.wait_for_everyone()
        return res

    while step < end:
        epoch, skip = divmod(step * cfg.grad_accum, batches_per_epoch)
        batches = accelerator.skip_first_batches(loader, skip) if skip else loader
        batches.set_epoch(epoch)
        for x in batches:
            model.train()
            with accelerator.accumulate(model):
                loss = model(input_ids=x, labels=x).loss
                if not torch.isfinite(loss):
                    raise FloatingPointError(f"loss is {loss.item()} at step {step + 1}; lower lr "
                                             f"(checkpoints so far are kept in {run_dir / 'checkpoints'})")
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
            seen += x.numel() * accelerator.num_processes
            if not accelerator.sync_gradients:
                continue
            step += 1
            bar.update(1)
            if step % cfg.log_every == 0 or step == end:
                logs = {**mean_over_processes(accelerator, {"loss": loss}), "lr": scheduler.get_last_lr()[0],
                        "tokens_per_s": seen / (time.time() - t0)}
                bar.set_postfix(loss=f"{logs['loss']:.3f}")
                log_row(accelerator, run_dir, "train", step, logs)
            if step % cfg.checkpoint_every == 0 or step == end:
                save_checkpoint(accelerator, cfg, run_dir, step)
            if step % eval_every == 0 and step < cfg.max_steps:
                result = evaluate()
            if step >= end:
                break
    bar.close()
    if step >= cfg.max_steps:
        result = evaluate()
        if main:
            write_json_atomic(run_dir / EVAL_FILE, result)
            save_lm(accelerator.unwrap_model(model), tok, cfg, export.meta, run_dir / MODEL_DIR)
            accelerator.print(f"saved {run_dir / MODEL_DIR}")
            if cfg.push_to_hub:
                push_lm(run_dir / MODEL_DIR, cfg.push_to_hub, private=cfg.private)
    accelerator.end_training()
    return result


def push_lm(folder: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> None:
    """Upload a saved model folder (model, tokenizer, configs) to the Hub; failures leave it as it is."""
    from huggingface_hub import HfApi
    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id)
    except Exception as e:  # network, auth and offline errors come from several libraries
        raise RuntimeError(f"push to the Hub as {repo_id!r} failed ({type(e).__name__}: {e}); "
                           f"the local model in {folder} is intact") from e
