"""Stage two: tokens over codewords, and (later) a GPT over them."""

from .tokenizer import (
    SCHEMES,
    SPECIAL_TOKENS,
    BehaviorTokenizer,
    TokenizerConfig,
    TokenScheme,
    run_lengths,
    tokenizer_for_export,
    tuple_symbols,
)

__all__ = ["SCHEMES", "SPECIAL_TOKENS", "BehaviorTokenizer", "TokenScheme", "TokenizerConfig", "run_lengths",
           "tokenizer_for_export", "tuple_symbols"]
