"""LoRA supervised fine-tuning of a causal LM: the Appendix F.1 "authority" boost
(:func:`boost_authority_words`, on the examples of :mod:`rmbias.training.authority_boost`).

Examples (prompt, response) are rendered by :mod:`rmbias.models.conversations`, padded by
:mod:`rmbias.models.batching`; the base is loaded by :func:`rmbias.models.loading.load_model`; the LoRA setup
and precision policy are :mod:`rmbias.models.lora`'s.
"""

from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import torch
import transformers

from rmbias.io import InputError, save_pretrained_atomically
from rmbias.logs import TrainingProgress
from rmbias.models.batching import IGNORED_LABEL, right_pad
from rmbias.models.conversations import Renderer
from rmbias.models.loading import ModelSpec, load_model, resolve_device
from rmbias.models.lora import (
    autocast,
    epoch_batches,
    lora_training_setup,
    optimizer_step,
    steps_per_epoch,
    weights_dtype,
)
from rmbias.training.authority_boost import authority_examples
from rmbias.training.settings import SftConfig

logger = logging.getLogger(__name__)


def _sft_features(renderer: Renderer, prompt, response: str, max_length: int,
                  loss_on: str = "response") -> tuple[list[int], list[int]]:
    """(input ids, labels) of one example rendered by ``renderer``. With ``loss_on="response"`` the labels are
    :data:`IGNORED_LABEL` on the prompt part, so the loss covers the response and the template's
    closing tokens only; with ``"text"`` every token is a label."""
    full = renderer.encode_rendered(prompt, response)
    if loss_on == "text":
        return full[:max_length], full[:max_length]
    prefix = renderer.encode_rendered(prompt)
    if full[:len(prefix)] != prefix:
        raise InputError(f"authority SFT: the template does not split cleanly before the response {response!r}")
    labels = [IGNORED_LABEL] * len(prefix) + full[len(prefix):]
    return full[:max_length], labels[:max_length]


def optimizer_groups(n_examples: int, cfg: SftConfig) -> list[list[np.ndarray]]:
    """The micro-batch groups (arrays of example indices) of every optimizer step of the run, in
    order: whole epochs (:func:`~rmbias.models.lora.epoch_batches`), cut after ``max_steps`` groups when
    that is set."""
    per_epoch = steps_per_epoch(n_examples, cfg.batch_size, cfg.gradient_accumulation_steps)
    total = cfg.max_steps if cfg.max_steps is not None else cfg.epochs * per_epoch
    groups: list[list[np.ndarray]] = []
    for epoch in range(math.ceil(total / per_epoch)):
        groups += epoch_batches(n_examples, cfg.batch_size, cfg.gradient_accumulation_steps, cfg.seed, epoch)
    return groups[:total]


def finetune_sft_lora(base: ModelSpec, examples: pd.DataFrame, out_dir: str | os.PathLike,
                      cfg: SftConfig, device: str | torch.device = "auto") -> Path:
    """LoRA SFT of a causal LM on ``examples`` (columns prompt, response), each rendered with
    the base's :class:`~rmbias.models.conversations.Renderer` (chat template for an instruction-tuned base or one the entry
    gives), loss on the response tokens or on the whole text (``cfg.loss_on``); writes the merged model and its
    tokenizer to ``out_dir`` in Hugging Face format (atomically). Logs a progress line every
    ``cfg.log_every_steps`` optimizer steps (:class:`rmbias.logs.TrainingProgress`). Returns ``out_dir``."""
    out_dir = Path(out_dir)
    device = resolve_device(device)
    if len(examples) == 0:
        raise InputError(f"{out_dir}: no SFT examples")
    transformers.set_seed(cfg.seed)
    renderer, model = load_model(base, device, head="causal_lm", dtype=weights_dtype(cfg, device),
                                 pad_from_tokenizer=True)
    features = [_sft_features(renderer, p, r, cfg.max_length, cfg.loss_on)
                for p, r in zip(examples["prompt"], examples["response"])]
    groups = optimizer_groups(len(features), cfg)
    model, optimizer, scheduler = lora_training_setup(model, cfg, "CAUSAL_LM", len(groups), device)
    logger.info("authority SFT: %d optimizer steps (%s schedule), loss on the %s", len(groups), cfg.lr_schedule, cfg.loss_on)
    progress = TrainingProgress(logger, len(groups), cfg.log_every_steps)
    for step, group in enumerate(groups, start=1):
        started = time.perf_counter()
        learning_rate = scheduler.get_last_lr()[0]
        group_examples = sum(len(m) for m in group)
        step_loss = 0.0
        for micro in group:
            with autocast(cfg, device):
                ids, labels = zip(*(features[i] for i in micro))
                loss = model(**right_pad(ids, renderer.tokenizer.pad_token_id, labels=labels, device=device)).loss
            weighted = loss * len(micro) / group_examples
            weighted.backward()
            step_loss += weighted.item()
        optimizer_step(model, optimizer, scheduler, cfg)
        progress.step(step, step_loss, group_examples, time.perf_counter() - started, learning_rate)
    merged = model.merge_and_unload()
    save_pretrained_atomically(merged, renderer.tokenizer, out_dir)
    logger.info("authority SFT: merged model saved to %s", out_dir)
    return out_dir


def boost_authority_words(base_entry: Mapping[str, object], prompts: Mapping[str, Mapping[str, str]],
                          train_keys: Sequence[str], extra_prompts: Sequence[str], words: Sequence[str],
                          settings: Mapping[str, object], out_dir: str | os.PathLike, device: str = "auto",
                          threads: int = 1) -> Path:
    """The boosted model of Appendix F.1: :func:`~rmbias.training.sft.finetune_sft_lora` of the base entry on
    :func:`authority_examples` with ``settings`` (:class:`~rmbias.training.settings.SftConfig` fields) on
    ``threads`` CPU threads, saved to ``out_dir``. Returns ``out_dir``."""
    torch.set_num_threads(threads)
    examples = authority_examples(prompts, train_keys, extra_prompts, words)
    logger.info("authority SFT: %d examples (%d prompts x %d words)", len(examples),
                examples["prompt"].nunique(), len(words))
    return finetune_sft_lora(ModelSpec.from_entry(base_entry), examples, out_dir, SftConfig.from_mapping(settings),
                             device=device)
