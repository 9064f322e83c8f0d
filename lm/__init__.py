"""The language model: token schemes and the tokenizer, token streams, the GPT, its training, evaluation beside
n-gram baselines, sampling, and the folder a trained GPT is saved in."""

from .config import LMConfig
from .data import (
    BlockDataset,
    TokenExport,
    TokenStream,
    load_token_export,
    split_stream,
    token_stream,
)
from .evaluate import baseline_metrics, gpt_nll, nll_metrics
from .model import build_gpt, n_parameters
from .ngram import NGramLM
from .sampling import sample_tokens
from .saving import load_lm, save_lm
from .schemes import (
    SCHEMES,
    SPECIAL_TOKENS,
    TokenScheme,
    register_scheme,
    tuple_symbols,
)
from .tokenizer import (
    BehaviorTokenizer,
    TokenizerConfig,
    build_export_tokenizer,
    tokenizer_for_export,
)
from .train import train_lm

__all__ = ["SCHEMES", "SPECIAL_TOKENS", "BehaviorTokenizer", "BlockDataset", "LMConfig", "NGramLM", "TokenExport",
           "TokenScheme", "TokenStream", "TokenizerConfig", "baseline_metrics", "build_export_tokenizer", "build_gpt",
           "gpt_nll", "load_lm", "load_token_export", "n_parameters", "nll_metrics", "register_scheme",
           "sample_tokens", "save_lm", "split_stream", "token_stream", "tokenizer_for_export", "train_lm",
           "tuple_symbols"]
