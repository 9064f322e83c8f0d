"""Stage two: tokens over codewords, a GPT over them, its evaluation, embeddings and samples."""

from .config import LMConfig
from .data import (
    BlockDataset,
    TokenExport,
    TokenStream,
    load_token_export,
    split_stream,
    token_stream,
)
from .embeddings import frame_embeddings
from .evaluate import baseline_metrics, gpt_nll, nll_metrics
from .model import build_gpt, n_parameters
from .ngram import NGramLM
from .sampling import sample_tokens
from .schemes import (
    SCHEMES,
    SPECIAL_TOKENS,
    TokenScheme,
    register_scheme,
    run_lengths,
    tuple_symbols,
)
from .tokenizer import (
    BehaviorTokenizer,
    TokenizerConfig,
    build_export_tokenizer,
    tokenizer_for_export,
)
from .train import save_lm, train_lm

__all__ = ["SCHEMES", "SPECIAL_TOKENS", "BehaviorTokenizer", "BlockDataset", "LMConfig", "NGramLM", "TokenExport",
           "TokenScheme", "TokenStream", "TokenizerConfig", "baseline_metrics", "build_export_tokenizer", "build_gpt",
           "frame_embeddings", "gpt_nll", "load_token_export", "n_parameters", "nll_metrics", "register_scheme",
           "run_lengths", "sample_tokens", "save_lm", "split_stream", "token_stream", "tokenizer_for_export",
           "train_lm", "tuple_symbols"]
