"""The GPT: a GPT-2 (``transformers``) sized by :class:`LMConfig`, its vocabulary from the tokenizer."""

from __future__ import annotations

from transformers import GPT2Config, GPT2LMHeadModel

from .config import LMConfig
from .tokenizer import BehaviorTokenizer


def build_gpt(cfg: LMConfig, tokenizer: BehaviorTokenizer) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 whose vocabulary and special tokens are the tokenizer's."""
    cfg.validate()
    hf = tokenizer.hf
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=cfg.block_size, n_embd=cfg.n_embd, n_layer=cfg.n_layer,
        n_head=cfg.n_head, resid_pdrop=cfg.dropout, embd_pdrop=cfg.dropout, attn_pdrop=cfg.dropout,
        bos_token_id=hf.bos_token_id, eos_token_id=hf.eos_token_id, pad_token_id=hf.pad_token_id,
    )
    return GPT2LMHeadModel(config)


def n_parameters(model) -> int:
    """Trainable parameters, the tied input/output embedding counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
