"""A trained GPT on disk: model, tokenizer and the configs they were made with, in one folder.

``save_lm`` writes what ``AutoModelForCausalLM.from_pretrained`` and ``AutoTokenizer.from_pretrained`` load,
with the run's ``LMConfig`` and the export record of the tokens it was trained on; ``load_lm`` reads it back
and checks the tokenizer against the export's record and the model against the tokenizer; ``push_lm``
uploads the folder to the Hub.
"""

from __future__ import annotations

from pathlib import Path

import torch

from behavior_tokens.core.errors import ArtifactError
from behavior_tokens.core.files import model_dir, read_json, write_json_atomic
from behavior_tokens.core.layout import EXPORT_META, LM_CONFIG_FILE

from .config import LMConfig
from .tokenizer import BehaviorTokenizer


def save_lm(model, tokenizer, cfg: LMConfig, export_meta: dict, folder: str | Path) -> Path:
    """Model and tokenizer into one folder (AutoModelForCausalLM / AutoTokenizer load it), with configs."""
    folder = Path(folder)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(folder)
    cfg.save(folder / LM_CONFIG_FILE)
    write_json_atomic(folder / EXPORT_META, export_meta)
    return folder


def load_lm(folder: str | Path) -> tuple[torch.nn.Module, BehaviorTokenizer, LMConfig, dict]:
    """(model, tokenizer, config, export metadata) of a model saved by ``train_lm``."""
    from transformers import AutoModelForCausalLM
    folder = model_dir(folder, LM_CONFIG_FILE, "a trained GPT", "name a finished scripts/train_lm.py run or its "
                       "model/ folder")
    meta = read_json(folder / EXPORT_META, "export record")
    tok = BehaviorTokenizer.from_pretrained(folder, (meta.get("finish") or {}).get("sha256"))
    try:
        model = AutoModelForCausalLM.from_pretrained(str(folder)).eval()
    except Exception as e:  # transformers / safetensors raise several types for a damaged folder
        raise ArtifactError(str(folder), f"damaged model ({type(e).__name__}: {' '.join(str(e).split())[:200]})",
                            "train the GPT again") from None
    if model.config.vocab_size != len(tok):
        raise ArtifactError(str(folder), f"the model knows {model.config.vocab_size} tokens, its tokenizer {len(tok)}",
                            "restore the model folder as training wrote it")
    return model, tok, LMConfig.load(folder / LM_CONFIG_FILE), meta


def push_lm(folder: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> None:
    """Upload a saved model folder (model, tokenizer, configs) to the Hub; failures leave it as it is."""
    from huggingface_hub import HfApi
    try:
        api = HfApi(token=token)
        api.create_repo(repo_id, private=private, exist_ok=True)
        api.upload_folder(folder_path=str(folder), repo_id=repo_id)
    except Exception as e:  # network, auth and offline errors come from several libraries
        raise RuntimeError(f"--push_to_hub: push as {repo_id!r} failed ({type(e).__name__}: {e}) "
                           f"(the local model in {folder} is intact; check the network and your token)") from e


def check_trained_on(cfg: LMConfig, export, lm: str | Path) -> None:
    """Refuse an export that is not the one the GPT (its config ``cfg``) was trained on: made again or edited since
    (its manifest differs), so its tokens no longer mean what the GPT learned."""
    trained_on = cfg.export_fingerprint
    if trained_on and export.fingerprint and trained_on != export.fingerprint:
        raise ArtifactError(str(export.location), f"is not the export the GPT in {lm} was trained on (made again or "
                            "edited since)", "train the GPT again on this export, or restore the export it was "
                            "trained on")
