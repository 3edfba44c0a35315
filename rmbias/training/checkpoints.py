"""Exhaustive token search of every saved training checkpoint (Section 4, design §3).

Each checkpoint is the base model with its LoRA adapter merged in and its trained score head.
Scoring reuses the engine of :mod:`rmbias.scoring.search` (prefix cache, shards): shards live in
``shard_dir/step-{N}/``, so finished checkpoints are never rescored and a killed job resumes.
"""

from __future__ import annotations

import logging
import os
from functools import partial
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
import torch

from rmbias.corpora.dictionaries import normalize_term
from rmbias.io import InputError, read_parquet, save_pretrained_atomically, write_parquet
from rmbias.models.conversations import Renderer
from rmbias.models.loading import ModelSpec, load_model
from rmbias.scoring.search import candidates_from_table, score_candidates
from rmbias.scoring.shards import directory_identity
from rmbias.training.reward_training import saved_checkpoint_steps

logger = logging.getLogger(__name__)


def load_checkpoint_model(base: ModelSpec, checkpoint: str | os.PathLike,
                          device: str | torch.device = "auto") -> tuple[Renderer, torch.nn.Module]:
    """(renderer, reward model) of one checkpoint: ``base`` as a sequence classifier in its
    entry's dtype with the checkpoint's LoRA adapter merged in and its trained score head, the
    pad token as in training. An ordinary ``*ForSequenceClassification`` (prefix caches work)."""
    return load_model(base, device, head="reward_model", adapter=checkpoint, pad_from_tokenizer=True)


def export_final_checkpoint(base_entry: Mapping[str, Any], checkpoint_dir: str | os.PathLike,
                            out_dir: str | os.PathLike, device: str | torch.device = "auto") -> Path:
    """Write a training run's final checkpoint (highest saved step) as a plain Hugging Face
    reward model in ``out_dir``: :func:`load_checkpoint_model` (merged on ``device``), saved atomically with its
    tokenizer (the base's chat template included) and a provenance file naming the
    checkpoint. A ``reward_models`` entry with ``training_run`` is scored from this directory
    like any published RM. Returns the checkpoint exported."""
    steps = saved_checkpoint_steps(checkpoint_dir)
    if not steps:
        raise InputError(f"{checkpoint_dir}: no saved checkpoint to export")
    checkpoint = Path(checkpoint_dir) / f"checkpoint-{steps[-1]}"
    renderer, model = load_checkpoint_model(ModelSpec.from_entry(base_entry), checkpoint, device)
    save_pretrained_atomically(model, renderer.tokenizer, out_dir,
                               provenance={"checkpoint": str(checkpoint), "step": steps[-1], "base": base_entry["id"]})
    logger.info("exported %s (step %d) to %s", checkpoint, steps[-1], out_dir)
    return checkpoint


def _merged_checkpoint(base: ModelSpec, checkpoint: Path, device: torch.device) -> torch.nn.Module:
    return load_checkpoint_model(base, checkpoint, device)[1]


def score_checkpoints(base_entry: Mapping[str, Any], checkpoint_dir: str | os.PathLike, prompt_key: str,
                      prompt: Mapping[str, str], candidates: pd.DataFrame, shard_dir: str | os.PathLike, *,
                      method: str = "prefix", shard_size: int | None = None, device: str = "auto") -> pd.DataFrame:
    """Rewards of every candidate under every checkpoint for one prompt.

    ``base_entry`` is the base model's config entry (an instruction-tuned entry's chat template is
    used); ``candidates`` has ``response`` and ``token_id``. Returns ``decoded``, ``token_id`` and
    one float32 column ``step-{N}`` per checkpoint, steps ascending.
    """
    base = ModelSpec.from_entry(base_entry)
    entry = {**base_entry, "kind": "reward_model", "score": "logits[:, 0]"}
    table = candidates.rename(columns={"response": "decoded"})[["decoded", "token_id"]].reset_index(drop=True)
    token_cache: dict = {}  # the checkpoints share the base's renderer: render and tokenize once
    for step in saved_checkpoint_steps(checkpoint_dir):
        checkpoint = Path(checkpoint_dir) / f"checkpoint-{step}"
        wide, report = score_candidates(
            entry, {prompt_key: prompt}, candidates, Path(shard_dir) / f"step-{step}", method=method,
            shard_size=shard_size, device=device, model_loader=partial(_merged_checkpoint, base, checkpoint),
            extra_identity=directory_identity(checkpoint), token_cache=token_cache,
        )
        logger.info("checkpoint %d: %s", step, report)
        table[f"step-{step}"] = wide[prompt_key].to_numpy()
    return table


def dictionary_tokens(token_table: pd.DataFrame, terms: Iterable[str]) -> pd.DataFrame:
    """The rows of a token table whose normalized ``decoded`` (:func:`~rmbias.corpora.dictionaries.normalize_term`)
    is one of the normalized ``terms``: the tokens a dictionary-term analysis ranks."""
    normalized_terms = {normalize_term(term) for term in terms}
    return token_table[token_table["decoded"].map(normalize_term).isin(normalized_terms)].reset_index(drop=True)


def write_checkpoint_scores(base_entry: Mapping[str, Any], checkpoint_dir: str | os.PathLike, prompt_key: str,
                            prompt: Mapping[str, str], token_table_path: str | os.PathLike, shard_dir: str | os.PathLike,
                            out_path: str | os.PathLike, threads: int = 1, scope: str = "vocab",
                            corpus_paths: Sequence[str | os.PathLike] = (), **options) -> None:
    """:func:`score_checkpoints` on ``threads`` CPU threads, written to ``out_path``: over the base
    tokenizer's whole vocabulary (``scope="vocab"``), or over its :func:`dictionary_tokens` of
    the terms of ``corpus_paths`` (``scope="dictionary"``)."""
    torch.set_num_threads(threads)
    token_table = read_parquet(token_table_path)
    if scope == "dictionary":
        terms = [term for path in corpus_paths for term in read_parquet(path, columns=["term"])["term"]]
        token_table = dictionary_tokens(token_table, terms)
        logger.info("dictionary scope: %d tokens of %s", len(token_table), token_table_path)
    elif scope != "vocab":
        raise InputError(f"training.checkpoint_scope: {scope!r} is not one of vocab, dictionary")
    candidates = candidates_from_table(token_table, "vocab")
    write_parquet(score_checkpoints(base_entry, checkpoint_dir, prompt_key, prompt, candidates, shard_dir, **options),
                  out_path)
