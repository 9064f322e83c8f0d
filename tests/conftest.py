"""Shared tiny configs and the runs several test files read, each made once per pytest run.

Every run is made at the smallest size that still exercises the code: a quantizer of 16 hidden units and 8
codewords trained for a few steps on three short synthetic videos, a GPT of one layer.
"""

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ETHOME = SHARED_DATA / "ethome_social"

# A stage-one config small enough for a test (add output_dir, family, max_steps ...).
TINY_QUANTIZER = dict(source="synthetic:3:1", hidden_size=16, num_layers=1, latent_dim=8, codewords=8, batch_size=64,
                      svm_max_train=100, svm_max_eval=100, tree_max_train=200, eval_stride=8)
# A GPT small enough for a test (add tokens, output_dir, max_steps ...).
TINY_LM = dict(n_layer=1, n_embd=32, n_head=2, block_size=32, batch_size=8, lr=1e-2, warmup_steps=2,
               log_every=5, eval_every=0, dropout=0.0)


def tiny_codes():
    """(6, 2) codes: runs of 3, 1 and 2 frames, then a repeat."""
    import numpy as np
    return np.array([[1, 2], [1, 2], [1, 2], [0, 3], [2, 2], [2, 2]])


def scheme_units(scheme: str, codes):
    """What a scheme reads: the (T, 2) codes, or one column of them standing for (T, 1) syllables."""
    from behavior_tokens.lm import SCHEMES
    return codes if SCHEMES[scheme].column == "codes" else codes[:, :1]


def tiny_tokenizer(scheme: str):
    """A tokenizer of ``scheme`` built on ``tiny_codes`` and their reverse (4 codewords a group)."""
    from behavior_tokens.lm import BehaviorTokenizer
    codes = scheme_units(scheme, tiny_codes())
    return BehaviorTokenizer.build([codes, codes[::-1].copy()], scheme, groups=codes.shape[1], codewords=4,
                                   bpe_vocab_size=8)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real pose data not found at {SHARED_DATA} (../shared/data beside the project)")
    return SHARED_DATA


@pytest.fixture
def ethome() -> Path:
    if not ETHOME.is_dir():
        pytest.skip(f"ethome_social data not found at {ETHOME} (../shared/data/ethome_social)")
    return ETHOME


@pytest.fixture(scope="session")
def groups_export(tmp_path_factory) -> Path:
    """A tiny GRU quantizer's export of the bundled synthetic data with a ``groups`` tokenizer."""
    from behavior_tokens.lm import TokenizerConfig, tokenizer_for_export
    from behavior_tokens.quantize import QuantizerConfig, train_quantizer
    from behavior_tokens.quantize.export import ExportConfig, export_tokens
    root = tmp_path_factory.mktemp("groups")
    train_quantizer(QuantizerConfig(output_dir=str(root / "q"), max_steps=15, checkpoint_every=15,
                                    **{**TINY_QUANTIZER, "svm_max_train": 200, "svm_max_eval": 200, "eval_stride": 6}))
    export_tokens(ExportConfig(checkpoint=str(root / "q"), output_dir=str(root / "tokens")), progress=False)
    tokenizer_for_export(root / "tokens", TokenizerConfig(scheme="groups"))
    return root / "tokens"


@pytest.fixture(scope="session")
def checkpointed_run(tmp_path_factory) -> Path:
    """A tiny conv quantizer with two checkpoints (steps 10 and 20), its export (groups) and a GPT in run/lm."""
    from behavior_tokens.lm import LMConfig, TokenizerConfig, tokenizer_for_export, train_lm
    from behavior_tokens.quantize import QuantizerConfig, train_quantizer
    from behavior_tokens.quantize.export import ExportConfig, export_tokens
    run = tmp_path_factory.mktemp("checkpointed") / "run"
    train_quantizer(QuantizerConfig(output_dir=str(run), max_steps=20, checkpoint_every=10, family="conv",
                                    **{**TINY_QUANTIZER, "svm_max_train": 200, "svm_max_eval": 200, "eval_stride": 6}))
    export_tokens(ExportConfig(checkpoint=str(run), output_dir=str(run / "tokens")), progress=False)
    tokenizer_for_export(run / "tokens", TokenizerConfig(scheme="groups"))
    train_lm(LMConfig(tokens=str(run / "tokens"), output_dir=str(run / "lm"), n_layer=1, n_embd=16, n_head=2,
                      block_size=32, batch_size=8, max_steps=5, eval_every=0, checkpoint_every=5))
    return run


# The main job (behavior-tokens run) at tiny size: a job file over the preset.
TINY_JOB = {
    "quantizer": {**{k: v for k, v in TINY_QUANTIZER.items() if k != "source"}, "max_steps": 6, "checkpoint_every": 6,
                  "eval_every": 6},
    "syllables": {"units": 6, "smooth_frames": 5, "target_median_ms": 300},
    "lm": {"n_layer": 1, "n_embd": 16, "n_head": 2, "block_size": 16, "block_stride": 0, "batch_size": 4,
           "max_steps": 4, "eval_every": 2, "checkpoint_every": 4, "warmup_steps": 0, "patience": 3},
    "generate": {"samples": 1, "seconds": 2, "eval_samples": 4, "calibrate_rounds": 1, "gif": False},
    "probe": {"max_train": 500, "svm_max_train": 100},
    "dictionary": {"instances": 2, "movie_frames": 8, "units": 3},
    "surprisal": {"events": 1},
}


@pytest.fixture(scope="session")
def tiny_job(tmp_path_factory) -> Path:
    """The tiny job file."""
    import json
    path = tmp_path_factory.mktemp("job") / "tiny_job.json"
    path.write_text(json.dumps(TINY_JOB))
    return path


# The main job's preset at tiny size: a relational conv quantizer, label-guided syllables and a rotary GPT over them.
SYLLABLES = dict(units=6, smooth_frames=5, target_median_ms=300, features="z_q+relational", guide="labels")


@pytest.fixture(scope="session")
def syllable_run(tmp_path_factory) -> Path:
    """The main job's stages one and two at tiny size (stage-one run folder; tokens/ and lm/ in it)."""
    from behavior_tokens.lm import LMConfig, TokenizerConfig, train_lm
    from behavior_tokens.lm.tokenizer import build_export_tokenizer
    from behavior_tokens.quantize import QuantizerConfig, train_quantizer
    from behavior_tokens.quantize.export import ExportConfig, export_tokens
    from behavior_tokens.quantize.syllables import SyllableConfig
    q = tmp_path_factory.mktemp("syllables") / "q"
    train_quantizer(QuantizerConfig(output_dir=str(q), relational=True, family="conv", max_steps=6, checkpoint_every=6,
                                    **TINY_QUANTIZER))
    export_tokens(ExportConfig(checkpoint=str(q)), progress=False, syllables=SyllableConfig(**SYLLABLES),
                  finish=lambda f: build_export_tokenizer(f, TokenizerConfig(scheme="syllables"))[1])
    train_lm(LMConfig(tokens=str(q / "tokens"), positions="rotary", n_layer=1, n_embd=16, n_head=2, block_size=16,
                      batch_size=4, max_steps=4, eval_every=2, checkpoint_every=4, warmup_steps=0, patience=3))
    return q


@pytest.fixture(scope="session")
def generated_run(syllable_run) -> Path:
    """``syllable_run`` with the main job's later stages: samples with their checks, vocabulary quality, probes."""
    from behavior_tokens.explorer.probes import ProbeConfig, probe
    from behavior_tokens.explorer.vocabulary import QualityConfig, vocabulary_table
    from behavior_tokens.generation import GenerateConfig, generate_behavior
    q = syllable_run
    generate_behavior(GenerateConfig(lm=str(q / "lm"), prompt_seconds=1, seconds=4, samples=2, gif=False))
    vocabulary_table(QualityConfig(tokens=str(q / "tokens")))
    probe(ProbeConfig(quantizer=str(q), lm=str(q / "lm"), max_train=500, svm_max_train=100))
    return q
