"""Training the GPT: it learns, saves one folder transformers loads, streams, blocks, exact resume, early stopping."""

import json

import numpy as np
import pytest
import torch
from conftest import TINY_LM
from transformers import AutoModelForCausalLM, AutoTokenizer

from behavior_tokens.core.errors import ConfigError
from behavior_tokens.lm import (
    BlockDataset,
    LMConfig,
    build_gpt,
    load_token_export,
    split_stream,
    token_stream,
    train_lm,
)
from behavior_tokens.lm.train import EarlyStopping


def _losses(run_dir):
    rows = [json.loads(line) for line in open(run_dir / "metrics.jsonl")]
    return [r["loss"] for r in rows if r["split"] == "train"]


def test_tiny_gpt_trains_saves_and_reloads(groups_export, tmp_path):
    out = tmp_path / "lm"
    result = train_lm(LMConfig(tokens=str(groups_export), output_dir=str(out), max_steps=60, checkpoint_every=30,
                               **TINY_LM))
    losses = _losses(out)
    assert losses[-1] < 0.6 * losses[0], losses
    assert set(result["baselines"]) == {"unigram", "bigram", "trigram", "4-gram", "5-gram"}
    assert result["gpt"]["perplexity"] < result["baselines"]["unigram"]["perplexity"]
    assert json.loads((out / "eval.json").read_text())["gpt"] == pytest.approx(result["gpt"])
    # one folder that AutoModelForCausalLM and AutoTokenizer load, with identical logits
    model = AutoModelForCausalLM.from_pretrained(str(out / "model")).eval()
    hf_tok = AutoTokenizer.from_pretrained(str(out / "model"))
    assert hf_tok.sep_token == "<sep>" and len(hf_tok) == model.config.vocab_size
    export = load_token_export(groups_export)
    ids = torch.as_tensor(token_stream(export.tokenizer, export.video_codes("test")).ids[:32])[None]
    from accelerate import Accelerator  # the model as training left it, from the last checkpoint
    trained = build_gpt(LMConfig.load(out / "config.json"), export.tokenizer)
    acc = Accelerator(cpu=True)
    trained = acc.prepare(trained)
    acc.load_state(str(out / "checkpoints" / "step_60"))
    trained.eval()
    torch.testing.assert_close(model(input_ids=ids).logits, trained(input_ids=ids).logits, rtol=0, atol=0)


def test_streams_on_disk_are_memory_mapped_and_equal_the_in_memory_ones(groups_export, tmp_path):
    export = load_token_export(groups_export)
    mem = split_stream(export, ["train"])
    disk = split_stream(export, ["train"], tmp_path / "train.bin")
    assert isinstance(disk.ids, np.memmap) and disk.ids.dtype == np.int32
    np.testing.assert_array_equal(disk.ids, mem.ids)
    assert (disk.frames, disk.videos) == (mem.frames, mem.videos) == (sum(len(c) for c in export.video_codes("train")), 2)
    assert mem.ids[0] == export.tokenizer.sep_id and (mem.ids == export.tokenizer.sep_id).sum() == 2
    torch.testing.assert_close(BlockDataset(disk.ids, 16)[3], BlockDataset(mem.ids, 16)[3])


def test_blocks_tile_the_stream_or_overlap_by_the_stride():
    ids = np.arange(100)
    plain, strided = BlockDataset(ids, 16), BlockDataset(ids, 16, stride=4)
    assert len(plain) == 6 and plain[2].tolist() == list(range(32, 48))
    assert len(strided) == 22 and strided[21].tolist() == list(range(84, 100))  # (100 - 16) // 4 + 1 blocks
    with pytest.raises(ConfigError, match="--block_size"):
        BlockDataset(ids[:10], 16)


def test_resume_continues_exactly(groups_export, tmp_path):
    kw = dict(tokens=str(groups_export), max_steps=20, checkpoint_every=10, **{**TINY_LM, "dropout": 0.1})
    train_lm(LMConfig(output_dir=str(tmp_path / "full"), **kw))
    train_lm(LMConfig(output_dir=str(tmp_path / "part"), **kw), stop_after=10)
    train_lm(LMConfig(output_dir=str(tmp_path / "part"), resume=True, **kw))
    a = AutoModelForCausalLM.from_pretrained(str(tmp_path / "full" / "model")).state_dict()
    b = AutoModelForCausalLM.from_pretrained(str(tmp_path / "part" / "model")).state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_resume_with_early_stopping_continues_exactly(groups_export, tmp_path):
    """The best weights and the evaluations without improvement travel with the checkpoint."""
    kw = dict(tokens=str(groups_export), max_steps=20, checkpoint_every=10, **{**TINY_LM, "eval_every": 5,
                                                                           "patience": 3, "lr": 3e-2})
    train_lm(LMConfig(output_dir=str(tmp_path / "full"), **kw))
    train_lm(LMConfig(output_dir=str(tmp_path / "part"), **kw), stop_after=10)
    ck = tmp_path / "part" / "checkpoints" / "step_10"  # its state as JSON and safetensors: nothing to unpickle
    assert (ck / "early_stopping.json").exists() and not list(ck.glob("custom_checkpoint_*"))
    train_lm(LMConfig(output_dir=str(tmp_path / "part"), resume=True, **kw))
    ev = [json.loads((tmp_path / r / "eval.json").read_text()) for r in ("full", "part")]
    assert ev[0]["early_stopping"] == ev[1]["early_stopping"]
    a = AutoModelForCausalLM.from_pretrained(str(tmp_path / "full" / "model")).state_dict()
    b = AutoModelForCausalLM.from_pretrained(str(tmp_path / "part" / "model")).state_dict()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_early_stopping_keeps_the_best_weights():
    model = torch.nn.Linear(2, 2)
    stop = EarlyStopping(patience=2)
    for step, nll in enumerate([3.0, 2.0, 2.5, 2.6]):
        with torch.no_grad():
            model.weight.fill_(nll)
        stop.update({"step": step, "gpt": {"nll": nll}}, model)
    assert stop.should_stop({}) and not EarlyStopping(0).should_stop({})
    best = stop.restore(model)
    assert best["step"] == 1 and float(model.weight[0, 0].detach()) == 2.0


def test_bad_lm_inputs(groups_export, tmp_path):
    with pytest.raises(ValueError, match="not a token export"):
        load_token_export(tmp_path)
    with pytest.raises(ValueError, match="--n_embd: 30 is not divisible by --n_head 4"):
        train_lm(LMConfig(tokens=str(groups_export), output_dir=str(tmp_path / "x"), **{**TINY_LM, "n_embd": 30,
                                                                                       "n_head": 4}))
    with pytest.raises(ValueError, match="no split 'nope'"):
        train_lm(LMConfig(tokens=str(groups_export), output_dir=str(tmp_path / "y"), eval_split="nope", **TINY_LM))
