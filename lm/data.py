"""Token streams for the GPT: an export (local folder or Hub dataset) -> ids -> fixed-length blocks.

Each video becomes ``<sep>`` followed by its tokens, and the videos of a split are joined into one
stream; ``<sep>`` thus means "a video starts", which is also how an unprompted sample begins.
Training blocks are consecutive, non-overlapping ``block_size`` slices of the stream.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .tokenizer import BehaviorTokenizer

EXPORT_META = "export.json"


@dataclass
class TokenExport:
    """What ``scripts/export_tokens.py`` wrote: the DatasetDict, its tokenizer and export metadata."""

    dataset: object  # datasets.DatasetDict
    tokenizer: BehaviorTokenizer
    meta: dict
    location: str

    def video_codes(self, split: str) -> list[np.ndarray]:
        """The (T, G) int64 codes of every video of ``split``."""
        return [np.asarray(c, dtype=np.int64) for c in self.dataset[split].with_format("numpy")["codes"]]

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])


def load_token_export(spec: str | Path) -> TokenExport:
    """A local export folder (``dataset/``, ``tokenizer/``, ``export.json``) or a Hub dataset id."""
    from datasets import load_from_disk

    path = Path(spec)
    if path.exists():
        if not (path / "dataset").is_dir() or not (path / EXPORT_META).exists():
            raise FileNotFoundError(f"{path}: not a token export (expected dataset/ and {EXPORT_META}; "
                                    "make one with scripts/export_tokens.py)")
        if not (path / "tokenizer").is_dir():
            raise FileNotFoundError(f"{path}: the export has no tokenizer/ (scripts/export_tokens.py builds it)")
        return TokenExport(load_from_disk(str(path / "dataset")), BehaviorTokenizer.from_pretrained(path / "tokenizer"),
                           json.loads((path / EXPORT_META).read_text()), str(path))
    return _load_hub_export(str(spec))


def _load_hub_export(repo_id: str) -> TokenExport:
    from datasets import load_dataset
    from huggingface_hub import snapshot_download

    try:
        local = Path(snapshot_download(repo_id, repo_type="dataset", allow_patterns=["tokenizer/*", EXPORT_META]))
        dataset = load_dataset(repo_id)
    except Exception as e:  # offline, unknown repo and auth errors come from several libraries
        raise FileNotFoundError(f"{repo_id!r} is neither a local export folder nor a reachable Hub dataset "
                                f"({type(e).__name__}: {e})") from e
    return TokenExport(dataset, BehaviorTokenizer.from_pretrained(local / "tokenizer"),
                       json.loads((local / EXPORT_META).read_text()), repo_id)


@dataclass
class TokenStream:
    ids: np.ndarray  # (N,) int64: <sep> v1 ... <sep> v2 ...
    frames: int  # frames of pose the stream covers
    videos: int

    @property
    def tokens_per_frame(self) -> float:
        return len(self.ids) / max(self.frames, 1)


def token_stream(tokenizer: BehaviorTokenizer, videos: list[np.ndarray]) -> TokenStream:
    """Join videos' codes (each (T, G)) into one stream, each video preceded by ``<sep>``."""
    sep = tokenizer.sep_id
    parts = []
    for codes in videos:
        ids, _ = tokenizer.encode(codes)
        parts += [np.array([sep], dtype=np.int64), ids]
    ids = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    return TokenStream(ids, int(sum(len(c) for c in videos)), len(videos))


def split_stream(export: TokenExport, splits: list[str]) -> TokenStream:
    """One stream over the videos of every split in ``splits`` that the export holds."""
    present = [s for s in splits if s in export.dataset]
    if not present:
        raise ValueError(f"export {export.location} has none of the splits {splits} (it has {list(export.dataset)})")
    return token_stream(export.tokenizer, [c for s in present for c in export.video_codes(s)])


def held_out_split(export: TokenExport, name: str = "") -> str:
    """The split to evaluate on: ``name``, else validation, else test."""
    if name:
        if name not in export.dataset:
            raise ValueError(f"export {export.location} has no split {name!r} (it has {list(export.dataset)})")
        return name
    for s in ("validation", "test"):
        if s in export.dataset:
            return s
    raise ValueError(f"export {export.location} has no held-out split (validation or test); it has "
                     f"{list(export.dataset)}")


class BlockDataset(torch.utils.data.Dataset):
    """Non-overlapping blocks of ``block_size`` tokens of a stream; item i -> LongTensor (block_size,)."""

    def __init__(self, ids: np.ndarray, block_size: int):
        n = len(ids) // block_size
        if n == 0:
            raise ValueError(f"the training stream has {len(ids)} tokens, fewer than one block of {block_size}; "
                             "lower block_size or export more data")
        self.ids, self.block_size, self.n = ids, block_size, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        s = i * self.block_size
        return torch.from_numpy(np.asarray(self.ids[s:s + self.block_size], dtype=np.int64))
