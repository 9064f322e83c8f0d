"""From any pose record to the units a GPT reads: quantizer codes, or the export's syllables.

A :class:`UnitEncoder` holds what an export was made with (its quantizer, checked against the
recorded weights, and its syllable model) so new videos (another source, or faulted copies of
held-out ones) become the same units as the export's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from behavior_tokens.core.layout import TOKENIZER_DIR
from behavior_tokens.data import PoseRecord
from behavior_tokens.quantize import load_quantizer
from behavior_tokens.quantize.export import encode_record, syllable_features
from behavior_tokens.quantize.syllables import SYLLABLE_DIR, SyllableModel

from .data import TokenExport


@dataclass
class UnitEncoder:
    quantizer: object
    pipeline: object
    syllables: SyllableModel | None
    column: str  # "codes" or "syllables": what the tokenizer reads

    @classmethod
    def of_export(cls, export: TokenExport, column: str | None = None) -> UnitEncoder:
        model, pipeline = load_quantizer(export.meta["checkpoint"], expect_sha256=export.meta["checkpoint_sha256"])
        folder = Path(export.location) / SYLLABLE_DIR
        syllables = SyllableModel.load(folder) if folder.is_dir() else None
        return cls(model, pipeline, syllables, column or export.tokenizer.scheme.column)

    def __call__(self, record: PoseRecord) -> np.ndarray:
        """Units (T, G) codes or (T, 1) syllables of one video."""
        enc = encode_record(self.quantizer, self.pipeline, record)
        if self.column == "codes":
            return enc.codes.astype(np.int64)
        (feats,) = syllable_features([enc], [record], self.syllables.cfg)
        return self.syllables.assign(feats)[:, None]


def tokenizer_folder(export: TokenExport) -> Path:
    return Path(export.location) / TOKENIZER_DIR
