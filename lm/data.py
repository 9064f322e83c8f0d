"""Token streams for the GPT: an export (local folder or Hub dataset) -> ids -> fixed-length blocks.

Each video becomes ``<sep>`` followed by its tokens, and the videos of a split are joined into one
stream; ``<sep>`` thus means "a video starts", which is also how an unprompted sample begins.
Training blocks are consecutive, non-overlapping ``block_size`` slices of the stream. Videos are
read from the (memory-mapped Arrow) dataset one at a time and a stream can be written to disk as
int32 and memory-mapped, so training reads streams larger than memory block by block.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from behavior_tokens.core.errors import ArtifactError, ConfigError
from behavior_tokens.core.files import check_manifest, file_sha256, read_json
from behavior_tokens.core.layout import DATASET_DIR, EXPORT_META, TOKENIZER_DIR

from .tokenizer import BehaviorTokenizer


@dataclass
class TokenExport:
    """What ``scripts/export_tokens.py`` wrote: the DatasetDict, its tokenizer and export metadata."""

    dataset: object  # datasets.DatasetDict
    tokenizer: BehaviorTokenizer
    meta: dict
    location: str
    fingerprint: str | None = None  # sha256 of its manifest (every file of it), what a GPT trained on it records

    def video_codes(self, split: str, column: str | None = None) -> Iterator[np.ndarray]:
        """The units of each video of ``split`` that the tokenizer reads ((T, G) codes, or (T, 1) syllables),
        or another ``column``, as int64, one video at a time."""
        column = column or self.tokenizer.scheme.column
        ds = self.dataset[split].select_columns([column]).with_format("numpy")
        for i in range(len(ds)):
            x = np.asarray(ds[i][column], dtype=np.int64)
            yield x.reshape(len(x), -1)

    @property
    def fps(self) -> float:
        return float(self.meta["fps"])


def _check_dataset_files(path: Path, meta: dict) -> None:
    """Refuse an export whose dataset files are not those the export wrote (missing, extra or edited)."""
    recorded = meta.get("dataset_sha256")
    if recorded is None:
        return
    folder = path / DATASET_DIR
    present = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    for name in sorted(set(recorded) | present):
        if name not in present or name not in recorded or file_sha256(folder / name) != recorded[name]:
            what = "is missing" if name not in present else ("was added" if name not in recorded else "was edited")
            raise ArtifactError(str(folder / name), f"{what} since the export wrote it", "export the tokens again")


def _check_counts(dataset, meta: dict, where: str) -> None:
    for split, counts in (meta.get("splits") or {}).items():
        if split not in dataset or len(dataset[split]) != counts["videos"]:
            have = len(dataset[split]) if split in dataset else 0
            raise ArtifactError(where, f"split {split!r} holds {have} videos, the export recorded {counts['videos']}",
                                "export the tokens again")


def load_token_export(spec: str | Path) -> TokenExport:
    """A local export folder (``dataset/``, ``tokenizer/``, ``export.json``) or a Hub dataset id.

    A local export is checked against what it recorded when written: the sha256 of every file of it (its
    manifest: the dataset, the tokenizer, the syllable model, export.json itself) and the videos per split, so an
    edited or damaged export is refused.
    """
    from datasets import load_from_disk

    path = Path(spec)
    if path.exists():
        if not (path / DATASET_DIR).is_dir() or not (path / EXPORT_META).exists():
            raise ArtifactError(str(path), f"not a token export (expected {DATASET_DIR}/ and {EXPORT_META})",
                                "make one with scripts/export_tokens.py")
        if not (path / TOKENIZER_DIR).is_dir():
            raise ArtifactError(str(path), f"the export has no {TOKENIZER_DIR}/",
                                "scripts/export_tokens.py builds it")
        meta = read_json(path / EXPORT_META, "export record")
        fingerprint = None
        if meta.get("manifest"):
            fingerprint = check_manifest(path, "export the tokens again")
        else:  # written before exports had a manifest: its dataset files at least
            _check_dataset_files(path, meta)
        try:
            dataset = load_from_disk(str(path / DATASET_DIR))
        except Exception as e:  # datasets raises several types for a damaged folder
            raise ArtifactError(str(path / DATASET_DIR), f"damaged dataset ({type(e).__name__}: {e})",
                                "export the tokens again") from None
        _check_counts(dataset, meta, str(path / EXPORT_META))
        tok = BehaviorTokenizer.from_pretrained(path / TOKENIZER_DIR, (meta.get("finish") or {}).get("sha256"))
        return TokenExport(dataset, tok, meta, str(path), fingerprint)
    return _load_hub_export(str(spec))


def _load_hub_export(repo_id: str) -> TokenExport:
    from datasets import load_dataset
    from huggingface_hub import snapshot_download

    try:
        local = Path(snapshot_download(repo_id, repo_type="dataset", allow_patterns=["tokenizer/*", EXPORT_META]))
        dataset = load_dataset(repo_id)
    except Exception as e:  # offline, unknown repo and auth errors come from several libraries
        raise ArtifactError("--tokens", f"{repo_id!r} is neither a local export folder nor a reachable Hub dataset "
                            f"({type(e).__name__}: {' '.join(str(e).split())[:200]})",
                            "check the path, or the network and the repository id") from None
    meta = read_json(local / EXPORT_META, "export record")
    _check_counts(dataset, meta, f"{repo_id}/{EXPORT_META}")
    tok = BehaviorTokenizer.from_pretrained(local / TOKENIZER_DIR, (meta.get("finish") or {}).get("sha256"))
    return TokenExport(dataset, tok, meta, repo_id)


@dataclass
class TokenStream:
    ids: np.ndarray  # (N,) ints: <sep> v1 ... <sep> v2 ... (in memory, or a np.memmap)
    frames: int  # frames of pose the stream covers
    videos: int

    @property
    def tokens_per_frame(self) -> float:
        return len(self.ids) / max(self.frames, 1)


def _video_ids(tokenizer: BehaviorTokenizer, codes: np.ndarray) -> np.ndarray:
    return np.concatenate([[tokenizer.sep_id], tokenizer.encode(codes)[0]]).astype(np.int64)


def token_stream(tokenizer: BehaviorTokenizer, videos: Iterable[np.ndarray], path: str | Path | None = None
                 ) -> TokenStream:
    """Join videos' codes (each (T, G)) into one stream, each video preceded by ``<sep>``.

    With ``path`` the stream is written there as int32 (one video at a time, then renamed into
    place) with a ``.json`` beside it, and returned memory-mapped.
    """
    frames = n_videos = 0
    if path is None:
        parts = []
        for codes in videos:
            parts.append(_video_ids(tokenizer, codes))
            frames, n_videos = frames + len(codes), n_videos + 1
        return TokenStream(np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64), frames, n_videos)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        for codes in videos:
            _video_ids(tokenizer, codes).astype(np.int32).tofile(f)
            frames, n_videos = frames + len(codes), n_videos + 1
    path.with_suffix(".json").write_text(json.dumps({"frames": frames, "videos": n_videos}))
    os.replace(tmp, path)
    return open_token_stream(path)


def open_token_stream(path: str | Path) -> TokenStream:
    """A stream written by :func:`token_stream`, memory-mapped."""
    path = Path(path)
    meta = json.loads(path.with_suffix(".json").read_text())
    ids = np.memmap(path, dtype=np.int32, mode="r") if path.stat().st_size else np.zeros(0, dtype=np.int32)
    return TokenStream(ids, meta["frames"], meta["videos"])


def split_stream(export: TokenExport, splits: list[str], path: str | Path | None = None) -> TokenStream:
    """One stream over the videos of every split in ``splits`` that the export holds (to ``path`` if given)."""
    present = [s for s in splits if s in export.dataset]
    if not present:
        raise ConfigError("--train_splits", f"export {export.location} has none of the splits {splits} "
                          f"(it has {', '.join(export.dataset)})", "name splits the export holds")
    return token_stream(export.tokenizer, (c for s in present for c in export.video_codes(s)), path)


def held_out_split(export: TokenExport, name: str = "") -> str:
    """The split to evaluate on: ``name``, else validation, else test."""
    if name:
        if name not in export.dataset:
            raise ConfigError("--eval_split", f"export {export.location} has no split {name!r} "
                              f"(it has {', '.join(export.dataset)})", "name a split the export holds")
        return name
    for s in ("validation", "test"):
        if s in export.dataset:
            return s
    raise ConfigError("--tokens", f"export {export.location} has no held-out split (validation or test); it has "
                      f"{', '.join(export.dataset)}", "export a run that held videos out")


def block_windows(n_tokens: int, block_size: int, stride: int) -> int:
    """How many blocks of ``block_size`` start every ``stride`` tokens in a stream of ``n_tokens``."""
    return 0 if n_tokens < block_size else (n_tokens - block_size) // stride + 1


class BlockDataset(torch.utils.data.Dataset):
    """Blocks of ``block_size`` tokens of a stream starting every ``stride`` tokens (default: the block size,
    no overlap); item i -> LongTensor (block_size,)."""

    def __init__(self, ids: np.ndarray, block_size: int, stride: int = 0):
        self.stride = stride or block_size
        n = block_windows(len(ids), block_size, self.stride)
        if n == 0:
            raise ConfigError("--block_size", f"the training stream has {len(ids)} tokens, fewer than one block "
                              f"of {block_size}", "lower --block_size or export more data")
        self.ids, self.block_size, self.n = ids, block_size, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> torch.Tensor:
        s = i * self.stride
        return torch.from_numpy(np.asarray(self.ids[s:s + self.block_size], dtype=np.int64))
