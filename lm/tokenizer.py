"""Codeword sequences <-> token ids, as a ``PreTrainedTokenizerFast`` built with ``tokenizers``.

A :class:`BehaviorTokenizer` is one token scheme (``lm.schemes``) around a fast tokenizer: the
scheme writes codes (T, G) as text and decodes ids back; the tokenizer maps text <-> ids and is
what ``AutoTokenizer.from_pretrained`` loads. Every scheme round-trips: ``decode(*encode(codes))``
gives the codes back, with -1 where a tuple was ``<unk>``. Special tokens: ``<bos> <eos> <pad>
<unk> <sep>`` (``<sep>`` joins videos).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from transformers import PreTrainedTokenizerFast

from behavior_tokens.core.config import Config, option
from behavior_tokens.core.errors import ArtifactError
from behavior_tokens.core.files import file_sha256, read_json, write_json_atomic, write_manifest
from behavior_tokens.core.layout import DATASET_DIR, EXPORT_META, TOKENIZER_DIR, TOKENIZER_REPORT

from .schemes import SCHEMES, SPECIAL_TOKENS, SchemeName, TokenScheme, kept_tuples, scheme_for

SCHEME_FILE = "token_scheme.json"
TOKENIZER_FILES = ("tokenizer.json", SCHEME_FILE)  # what decides ids: hashed at export, checked when loaded


class BehaviorTokenizer:
    """One token scheme around a ``PreTrainedTokenizerFast`` (``.hf``), with codes <-> ids."""

    def __init__(self, hf: PreTrainedTokenizerFast, scheme: TokenScheme):
        self.hf, self.scheme = hf, scheme
        self.vocab = hf.get_vocab()
        self._inv = {i: t for t, i in self.vocab.items()}
        self.unk_id = self.vocab[SPECIAL_TOKENS["unk_token"]]
        self.sep_id = self.vocab[SPECIAL_TOKENS["sep_token"]]
        self.special_ids = sorted(self.vocab[t] for t in SPECIAL_TOKENS.values())

    @classmethod
    def build(cls, train_codes: list[np.ndarray], scheme: str, groups: int, codewords: int, min_count: int = 1,
              bpe_vocab_size: int = 4096, max_token_frames: int = 0) -> BehaviorTokenizer:
        """Learn the vocabulary of ``scheme`` from training codes (a list of (T, G) arrays)."""
        spec = scheme_for(scheme, groups, codewords, min_count=min_count, max_token_frames=max_token_frames)
        kept, unk_rate = kept_tuples(train_codes, min_count)
        spec.train_unk_rate = unk_rate if spec.drops_unseen else 0.0
        tok = spec.build(train_codes, kept, bpe_vocab_size)
        return cls(PreTrainedTokenizerFast(tokenizer_object=tok, **SPECIAL_TOKENS), spec)

    def token(self, i: int) -> str:
        return self._inv[i]

    def encode(self, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(T, G) codes -> (token ids (N,), frames per token (N,)); groups: 1/G frame each (as floats)."""
        text, durations = self.scheme.text(codes)
        enc = self.hf.backend_tokenizer.encode(text, add_special_tokens=False)
        return np.asarray(enc.ids, dtype=np.int64), self.scheme.durations(enc, durations)

    def decode(self, ids: np.ndarray, durations: np.ndarray | None = None) -> np.ndarray:
        """Token ids (special tokens dropped) -> codes (T, G); frames of <unk> tokens are -1."""
        special = set(self.special_ids) - {self.unk_id}
        keep = np.asarray([x not in special for x in np.asarray(ids).tolist()], dtype=bool)
        ids = np.asarray(ids, dtype=np.int64)[keep]
        return self.scheme.decode(self, ids, None if durations is None else np.asarray(durations)[keep])

    def frame_of_token(self, durations: np.ndarray) -> np.ndarray:
        """For each token, the frame it starts in: (N,) ints, to align per-token outputs with frames."""
        starts = np.concatenate([[0.0], np.cumsum(np.asarray(durations, dtype=np.float64))[:-1]])
        return np.floor(starts + 1e-9).astype(np.int64)

    def token_of_frame(self, durations: np.ndarray, n_frames: int) -> np.ndarray:
        """For each frame, the index of the last token starting at or before it, (n_frames,)."""
        return np.searchsorted(self.frame_of_token(durations), np.arange(n_frames), side="right") - 1

    def unk_rate(self, codes: np.ndarray) -> float:
        """Fraction of frames of ``codes`` that encode to <unk>."""
        return float((self.decode(*self.encode(codes)) < 0).any(axis=1).mean())

    def save_pretrained(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.hf.save_pretrained(str(folder))
        write_json_atomic(folder / SCHEME_FILE, self.scheme.to_dict())

    @classmethod
    def from_pretrained(cls, folder: str | Path, expect_sha256: dict[str, str] | None = None) -> BehaviorTokenizer:
        """Load a saved tokenizer; ``expect_sha256`` ({file: sha256}, recorded at export) refuses edited files."""
        from transformers import AutoTokenizer
        folder = Path(folder)
        if not (folder / SCHEME_FILE).exists():
            raise ArtifactError(str(folder), f"no {SCHEME_FILE}: not a behavior-tokens tokenizer folder",
                                "export the tokens with scripts/export_tokens.py")
        for name, sha in (expect_sha256 or {}).items():
            if not (folder / name).exists() or file_sha256(folder / name) != sha:
                raise ArtifactError(str(folder / name), "does not match the tokenizer the export recorded "
                                    "(missing or edited)", "export the tokens again")
        scheme = TokenScheme.from_dict(read_json(folder / SCHEME_FILE, "token scheme"), str(folder / SCHEME_FILE))
        try:
            hf = AutoTokenizer.from_pretrained(str(folder))
        except Exception as e:  # tokenizers raises its own types for a damaged tokenizer.json
            raise ArtifactError(str(folder), f"damaged tokenizer ({type(e).__name__}: {e})",
                                "export the tokens again") from None
        return cls(hf, scheme)

    def __len__(self) -> int:
        return len(self.vocab)


@dataclass
class TokenizerConfig(Config):
    scheme: SchemeName = option("groups", help="how codes become tokens")
    min_count: int = option(1, ge=1, help="combined/rle/bpe: tuples seen fewer times in train become <unk>")
    bpe_vocab_size: int = option(4096, ge=1, help="bpe: merges learned beyond the tuples")
    max_token_frames: int = option(0, ge=0, help="bpe, syllables: the most frames one token may span (0: the "
                                   "scheme's default, bpe 16, syllables 90)")


def build_export_tokenizer(export_dir: str | Path, cfg: TokenizerConfig, folder: str | Path | None = None,
                           train_split: str = "train") -> tuple[BehaviorTokenizer, dict]:
    """Build a tokenizer from an export's training codes into ``folder`` (default ``export_dir/tokenizer``).

    Returns it and a report: vocabulary size, per split the tokens, frames and <unk> rate, and the
    sha256 of the files that decide ids (the export records them; loading checks them).
    """
    from datasets import load_from_disk
    export_dir = Path(export_dir)
    dd = load_from_disk(str(export_dir / DATASET_DIR))
    meta = read_json(export_dir / EXPORT_META, "export record")
    if train_split not in dd:
        raise ArtifactError(str(export_dir), f"the export has no {train_split!r} split (it has {', '.join(dd)})",
                            "export a source with training videos")
    scheme = SCHEMES.lookup(cfg.scheme)
    G, V = scheme.sizes(meta)

    def codes(split: str):  # one video's codes at a time, read from the memory-mapped dataset
        for row in dd[split].select_columns([scheme.column]).with_format("numpy"):
            c = row[scheme.column]
            yield np.asarray(c, dtype=np.int64).reshape(len(c), G)

    tok = BehaviorTokenizer.build(list(codes(train_split)), cfg.scheme, G, V, cfg.min_count, cfg.bpe_vocab_size,
                                  cfg.max_token_frames)
    folder = Path(folder) if folder is not None else export_dir / TOKENIZER_DIR
    tok.save_pretrained(folder)
    report = {"scheme": cfg.scheme, "vocab_size": len(tok), "splits": {}}
    for s in dd:
        n_tokens = n_frames = n_unk = 0
        for c in codes(s):
            ids, durations = tok.encode(c)
            n_tokens += len(ids)
            n_frames += len(c)
            n_unk += int((tok.decode(ids, durations) < 0).any(axis=1).sum())
        report["splits"][s] = {"tokens": n_tokens, "frames": n_frames, "tokens_per_frame": n_tokens / max(n_frames, 1),
                               "unk_rate": n_unk / max(n_frames, 1)}
    write_json_atomic(folder / TOKENIZER_REPORT, report)
    report["sha256"] = {name: file_sha256(folder / name) for name in TOKENIZER_FILES}
    return tok, report


def tokenizer_for_export(export_dir: str | Path, cfg: TokenizerConfig) -> tuple[BehaviorTokenizer, dict]:
    """(Re)build the tokenizer of an existing export: built beside the old one, swapped in, and
    recorded in export.json so later steps accept it."""
    import shutil
    export_dir = Path(export_dir)
    meta = read_json(export_dir / EXPORT_META, "export record")
    staged = export_dir / (TOKENIZER_DIR + ".new")
    shutil.rmtree(staged, ignore_errors=True)
    tok, report = build_export_tokenizer(export_dir, cfg, staged)
    old = export_dir / TOKENIZER_DIR
    if old.exists():
        shutil.rmtree(old)
    staged.replace(old)
    write_json_atomic(export_dir / EXPORT_META, {**meta, "finish": report})
    if meta.get("manifest"):
        write_manifest(export_dir)
    return tok, report


def export_with_tokenizer(export_cfg, tok_cfg: TokenizerConfig, syllables=None, progress: bool = True
                          ) -> tuple[object, dict]:
    """Stage one's export (``quantize.export.export_tokens``, with the syllable level when ``syllables`` is a
    SyllableConfig) with its tokenizer built inside it before it is swapped in: (DatasetDict, tokenizer report).
    Under ``accelerate launch`` the processes share the encoding (see export_tokens)."""
    from behavior_tokens.quantize.export import export_tokens
    reports = []

    def finish(folder: Path) -> dict:
        reports.append(build_export_tokenizer(folder, tok_cfg)[1])
        return reports[-1]

    dd = export_tokens(export_cfg, finish=finish, syllables=syllables, progress=progress)
    return dd, (reports[0] if reports else None)  # (None, None) on a process other than the main one
