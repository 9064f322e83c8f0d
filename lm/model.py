"""The GPT (``transformers``) sized by :class:`LMConfig`, its vocabulary from the tokenizer; ``--positions`` picks
GPT-2 (learned positions) or GPT-NeoX (rotary positions), see lm/positions.py."""

from __future__ import annotations

from .config import LMConfig
from .positions import POSITIONS
from .tokenizer import BehaviorTokenizer


def build_gpt(cfg: LMConfig, tokenizer: BehaviorTokenizer):
    """A freshly initialised GPT whose vocabulary and special tokens are the tokenizer's."""
    cfg.validate()
    hf = tokenizer.hf
    special = {"bos_token_id": hf.bos_token_id, "eos_token_id": hf.eos_token_id, "pad_token_id": hf.pad_token_id}
    return POSITIONS.lookup(cfg.positions).build(len(tokenizer), cfg.block_size, cfg.n_embd, cfg.n_layer, cfg.n_head,
                                                 cfg.dropout, special)


def n_parameters(model) -> int:
    """Trainable parameters, the tied input/output embedding counted once."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
