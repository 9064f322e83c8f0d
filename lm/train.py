"""The stage-two training loop: the shared skeleton (core.loop) with the GPT's step and evaluation.

Blocks of the training stream come from an epoch-seeded sampler so ``resume`` continues exactly;
the optimizer is AdamW with weight decay on matrices only and a cosine schedule with warm-up.
Held-out evaluation (perplexity, bits per token / frame / second) runs every ``eval_every``
steps beside unigram, bigram and trigram baselines scored on the same tokens. The final model
and tokenizer are saved together with ``save_pretrained`` into ``output_dir/model``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from tqdm.auto import tqdm
from transformers import get_cosine_schedule_with_warmup

from behavior_tokens.core.errors import ConfigError
from behavior_tokens.core.files import read_json, write_json_atomic
from behavior_tokens.core.layout import (
    EVAL_FILE,
    MODEL_DIR,
    STREAMS_DIR,
    RunLayout,
)
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

from .config import LMConfig
from .data import (
    BlockDataset,
    TokenStream,
    block_windows,
    held_out_split,
    load_token_export,
    open_token_stream,
    split_stream,
)
from .evaluate import baseline_metrics, comparison_rows, gpt_nll, nll_metrics
from .model import build_gpt, n_parameters
from .saving import push_lm, save_lm

RUN_KIND = "lm run"
TABLE_KEYS = ["model", "tokens", "perplexity", "bits_per_token", "bits_per_frame", "bits_per_second",
              "gpt_gain_bits_per_token", "gpt_gain_pct"]


def _optimizer(model, cfg: LMConfig) -> torch.optim.Optimizer:
    """AdamW; weight decay on matrices (weights, embeddings), not on biases and norms (nanoGPT)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
              {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.95))


STOP_SPLIT = "early-stopping"


def _streams(run, export, cfg: LMConfig, held_name: str
             ) -> tuple[TokenStream, TokenStream, TokenStream | None, str | None]:
    """The training, held-out and early-stopping token streams, written once (main process) and memory-mapped
    by all. Early stopping reads the export's validation split when the held-out split is another one, else
    the last ``stop_fraction`` of the training stream (then left out of training): never the held-out split."""
    stop_split = "validation" if cfg.patience and held_name != "validation" and "validation" in export.dataset \
        and "validation" not in cfg.train_splits else None
    paths = {"train": (cfg.train_splits, run.run_dir / STREAMS_DIR / "train.bin"),
             "held": ([held_name], run.run_dir / STREAMS_DIR / f"{held_name}.bin")}
    if stop_split:
        paths["stop"] = ([stop_split], run.run_dir / STREAMS_DIR / f"{stop_split}.bin")
    if run.main:
        for splits, path in paths.values():
            split_stream(export, splits, path)
    run.accelerator.wait_for_everyone()
    streams = {k: open_token_stream(path) for k, (_, path) in paths.items()}
    train, held, stop = streams["train"], streams["held"], streams.get("stop")
    if cfg.eval_tokens:
        held.ids = held.ids[:cfg.eval_tokens + 1]
    if cfg.patience and stop is None:
        cut = len(train.ids) - max(cfg.block_size + 1, int(cfg.stop_fraction * len(train.ids)))
        if block_windows(cut, cfg.block_size, cfg.block_stride or cfg.block_size) < cfg.batch_size:
            raise ConfigError("--patience", f"{len(train.ids)} training tokens are too few to keep some apart for "
                              "early stopping", "export more data, lower --block_size or --block_stride, or pass "
                              "--patience 0")
        share = (len(train.ids) - cut) / len(train.ids)
        stop = TokenStream(train.ids[cut:], round(train.frames * share), 1)
        train = TokenStream(train.ids[:cut], train.frames - stop.frames, train.videos)
        stop_split = f"last {share:.0%} of the training stream"
    return train, held, stop, stop_split


def _local_path(spec: str) -> Path | None:
    return Path(spec) if Path(spec).exists() else None


def _default_output(cfg: LMConfig) -> None:
    """The run folder beside the export (``RUN/lm`` for ``RUN/tokens``) when none is named."""
    if not cfg.output_dir:
        if not Path(cfg.tokens).is_dir():
            raise ConfigError("--output_dir", "no run folder named", "name one (tokens from the Hub have no run beside)")
        cfg.output_dir = str(RunLayout.of_export(cfg.tokens).lm)


def _prepared(run, cfg: LMConfig, tok, loader):
    """The GPT, AdamW, the cosine schedule and the loader prepared by accelerate, early stopping registered, and
    the state of the checkpoint resumed from (if any) loaded."""
    acc = run.accelerator
    model = build_gpt(cfg, tok)
    optimizer = _optimizer(model, cfg)
    # accelerate steps a prepared scheduler once per process, so its lengths count all processes
    scheduler = get_cosine_schedule_with_warmup(optimizer, cfg.warmup_steps * acc.num_processes,
                                                cfg.max_steps * acc.num_processes)
    model, optimizer, loader, scheduler = acc.prepare(model, optimizer, loader, scheduler)
    best = EarlyStopping(cfg.patience)
    run.resume_state(*([best] if cfg.patience else []))  # its best weights and count travel with each checkpoint
    return model, optimizer, loader, scheduler, best


def train_lm(cfg: LMConfig, *, stop_after: int | None = None) -> dict:
    """Train stage two as ``cfg`` says; returns the last held-out evaluation ({gpt, baselines})."""
    _default_output(cfg)
    run = start_run(cfg, RUN_KIND, grad_accum=cfg.grad_accum, reads={"--tokens": _local_path(cfg.tokens)})
    export = load_token_export(cfg.tokens)
    tok = export.tokenizer
    held_name = held_out_split(export, cfg.eval_split)
    if held_name in cfg.train_splits:
        raise ConfigError("--eval_split", f"{held_name!r} is also a training split ({', '.join(cfg.train_splits)})",
                          "evaluate on videos the GPT does not train on")
    cfg.vocab_size, cfg.scheme, cfg.fps = len(tok), tok.scheme.name, export.fps
    cfg.export_fingerprint = export.fingerprint or ""  # a resumed run refuses another export
    with run.opened():
        return _train(run, cfg, export, held_name, stop_after)


def _train(run, cfg: LMConfig, export, held_name: str, stop_after: int | None) -> dict:
    acc, tok = run.accelerator, export.tokenizer
    train_stream, held_stream, stop_stream, stop_split = _streams(run, export, cfg, held_name)
    loader = epoch_loader(BlockDataset(train_stream.ids, cfg.block_size, cfg.block_stride), cfg.batch_size, cfg.seed,
                          f"training blocks of {cfg.block_size} tokens")
    model, optimizer, loader, scheduler, best = _prepared(run, cfg, tok, loader)
    acc.print(f"GPT of {n_parameters(model) / 1e6:.2f}M parameters; {cfg.scheme} tokens, vocabulary "
              f"{cfg.vocab_size}; train {len(train_stream.ids):,} tokens ({train_stream.videos} videos, "
              f"{train_stream.tokens_per_frame:.2f} tokens/frame), {held_name} {len(held_stream.ids):,}")
    acc.init_trackers("lm", config=tracker_config(cfg))
    baselines = baseline_metrics(train_stream, held_stream, len(tok), export.fps) if run.main else {}

    def score(stream: TokenStream) -> dict:
        nll = gpt_nll(acc.unwrap_model(model), stream.ids, cfg.block_size, cfg.batch_size, acc.device)
        return nll_metrics(nll, stream, export.fps)

    def evaluate(step: int) -> dict:
        res = {"step": step, "split": held_name, "gpt": score(held_stream), "baselines": baselines}
        log_row(acc, run.run_dir, held_name, step, res["gpt"])
        tqdm.write(format_table(comparison_rows(res["gpt"], baselines), TABLE_KEYS))
        if stop_stream is not None:
            stop = score(stop_stream)
            log_row(acc, run.run_dir, STOP_SPLIT, step, stop)
            best.update({"step": step, "gpt": stop}, acc.unwrap_model(model))
        return res

    spec = StepSpec(step=lambda m, x: {"loss": m(input_ids=x, labels=x).loss}, evaluate=evaluate,
                    items=lambda x: x.numel(), rate_name="tokens_per_s", clip_norm=1.0, scheduler=scheduler,
                    eval_every=cfg.eval_every, desc="train lm", stop=best.should_stop)
    step, result, stopped = train_steps(run, model, optimizer, loader, spec, stop_after)
    finished = step >= cfg.max_steps or stopped
    if finished:
        if not stopped:
            result = evaluate_on_main(run, spec, step)
        if run.main and (chosen := best.restore(acc.unwrap_model(model))) is not None:
            result = {"step": chosen["step"], "split": held_name, "gpt": score(held_stream), "baselines": baselines,
                      "early_stopping": {"on": stop_split, "best_step": chosen["step"], "stopped_at": step,
                                         "nll": chosen["gpt"]["nll"]}}
        if run.main:
            _save(run, cfg, acc.unwrap_model(model), tok, export.meta, result)
    run.close(finished)
    return result


def _save(run, cfg: LMConfig, model, tok, export_meta: dict, result: dict) -> None:
    """The final evaluation (eval.json) and the model with its tokenizer (model/), pushed when asked."""
    write_json_atomic(run.run_dir / EVAL_FILE, result)
    save_lm(model, tok, cfg, export_meta, run.run_dir / MODEL_DIR)
    run.accelerator.print(f"saved {run.run_dir / MODEL_DIR}")
    if cfg.push_to_hub:
        push_lm(run.run_dir / MODEL_DIR, cfg.push_to_hub, private=cfg.private)


class EarlyStopping:
    """Keeps the weights of the best evaluation on the early-stopping tokens; says stop after ``patience``
    evaluations without improvement (0: never). Checkpointed with the run (``save_to`` / ``load_from``)."""

    def __init__(self, patience: int):
        self.patience, self.best, self.state, self.since = patience, None, None, 0

    def update(self, result: dict, model) -> None:
        if self.best is None or result["gpt"]["nll"] < self.best["gpt"]["nll"]:
            self.best, self.since = result, 0
            self.state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            self.since += 1

    def should_stop(self, result: dict) -> bool:
        return self.patience > 0 and self.since >= self.patience

    def save_to(self, folder: Path) -> None:
        """The best evaluation and count as JSON, the best weights as safetensors (a checkpoint holds no pickle)."""
        write_json_atomic(folder / "early_stopping.json", {"best": self.best, "since": self.since})
        if self.state is not None:
            save_file({k: v.contiguous() for k, v in self.state.items()}, str(folder / "early_stopping.safetensors"))

    def load_from(self, folder: Path) -> None:
        saved = read_json(folder / "early_stopping.json", "early-stopping state")
        self.best, self.since = saved["best"], saved["since"]
        weights = folder / "early_stopping.safetensors"
        self.state = load_file(str(weights)) if weights.exists() else None

    def restore(self, model) -> dict | None:
        """Load the best weights into ``model``; returns their evaluation (with the step it was made at)."""
        if self.state is None:
            return None
        model.load_state_dict(self.state)
        return self.best
