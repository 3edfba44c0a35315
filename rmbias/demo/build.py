"""Building the demo world: every model of :data:`rmbias.demo.world.DEMO_LMS` and
:data:`rmbias.demo.world.DEMO_RMS` trained and saved, with a manifest of the ground truth."""

from __future__ import annotations

import dataclasses
import logging
import os
import time
import zlib
from collections.abc import Collection
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import transformers

from rmbias.demo.architectures import reward_model_from, tiny_model
from rmbias.demo.tokenizers import CHAT_TEMPLATES, build_tokenizer
from rmbias.demo.training import (
    TrainingSettings,
    add_category_structure,
    train_causal_lm,
    train_reward_model,
)
from rmbias.demo.world import (
    DEMO_LMS,
    DEMO_RMS,
    FAVOURED_CATEGORY,
    answer_corpus,
    dictionary_pools,
    family_word_pools,
    planted_strength,
    planted_truth,
    rating_corpus,
    framing_words,
    shared_preference_pairs,
    text_words,
    word_appeal,
    word_pools,
)
from rmbias.io import save_pretrained_atomically, write_json
from rmbias.models.conversations import Renderer

logger = logging.getLogger(__name__)

RATING_CATEGORY_SCALE = 3.0
"""Scale of the category directions (:func:`rmbias.demo.training.add_category_structure`) in the
LMs that learn ratings. A rating is a framing × category interaction computed at the
conversation's last token; measured on a Gemma LM of the full world, with category directions
as long as a word's own vector 300 steps left the rating loss at the fit-only level (0.58
nats; optimum 0.33), three times as long they reached 0.34 nats. Even so the interaction is
learned late and not for every seed (400 steps: 0.56; 500 steps: 0.33 in the default world)."""


PLAIN_TEXT_SPACED_ANSWERS = 0.5
"""Share of a pretrained LM's answers that follow the plain-text prompt after a space (the rest
follow it directly): both forms get probability mass, as in a real pretrained LM, and Figure 2
ranks the bare one."""


def _derived_seed(seed: int, name: str) -> int:
    """A seed for one model or data set, fixed by the world's ``seed`` and the ``name``."""
    return zlib.crc32(f"{seed}:{name}".encode())


def _prompt_words(prompts: dict[str, dict]) -> list[str]:
    """Every word (:func:`rmbias.demo.world.text_words`) of the prompts' texts, once, sorted."""
    return sorted({word for prompt in prompts.values() for word in text_words(prompt["text"])})


def build_demo_world(corpora: pd.DataFrame, prompts: dict[str, dict], out_dir: str | os.PathLike,
                     strength: float, seed: int, settings: TrainingSettings = TrainingSettings(),
                     max_words_per_category: int | None = None, model_ids: Collection[str] | None = None) -> dict[str, Path]:
    """Train and save the demo world's models; return model id → directory (``out_dir/<id>``).

    ``model_ids`` (default: every one) builds only those models and the instruct LMs their
    reward models copy; each model's seed derives from its id, so a model is the same whether
    or not the others are built.

    ``corpora`` is the long dictionary table (term, category, dictionary); ``prompts`` the
    ``prompts:`` mapping of a prompts file (key → {text, framing}; any keys, :func:`rmbias.demo.world.wording_parts`
    and :func:`rmbias.demo.world.framing_words` read the wording); ``strength`` in [0, 1]
    the planted effect. Every word has one appeal (:func:`rmbias.demo.world.word_appeal`, from
    the world's ``seed`` alone, common to the families); each family's world has one
    :func:`rmbias.demo.world.planted_truth` (per-prompt strengths, drawn from the world's
    ``seed`` and the family), and its models share one tokenizer over its :func:`rmbias.demo.world.family_word_pools`
    and the prompt words. The causal LMs of :data:`rmbias.demo.world.DEMO_LMS`
    are trained from random initialisation on their world's answers
    (:func:`rmbias.demo.world.answer_corpus`) and ratings (:func:`rmbias.demo.world.rating_corpus`).
    The reward models of :data:`rmbias.demo.world.DEMO_RMS` copy their instruct LM's backbone,
    get a score head initialised at random from the RM's seed, and Bradley–Terry training of
    that head (:func:`rmbias.demo.training.train_reward_model`) on
    :func:`rmbias.demo.world.shared_preference_pairs` drawn with a seed of the world and the
    RM's seed only: the RMs of one seed see identical pairs, whatever their family, and the
    pairs say nothing about agency or communion. Whatever
    family difference the RMs show is inherited from their backbones
    (:mod:`rmbias.demo.training`). ``out_dir/demo_world.json`` records the ground truth
    (favoured categories, mean and per-prompt strengths, word appeals, word counts,
    training losses per objective); it is deterministic, so the build times go to the log, with a
    line per model (:func:`_log_model`). Everything is determined by ``seed``.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    pools = word_pools(corpora, max_words_per_category=max_words_per_category, seed=seed)
    family_pools = {family: family_word_pools(pools, family) for family in CHAT_TEMPLATES}
    tokenizers = {
        family: build_tokenizer([*(word for words in fam.values() for word in words), *_prompt_words(prompts)], family)
        for family, fam in family_pools.items()
    }
    truth = {family: planted_truth(prompts, family, strength, _derived_seed(seed, family)) for family in CHAT_TEMPLATES}
    appeal = word_appeal(pools, _derived_seed(seed, "word-appeal"))
    trained: dict[str, transformers.PreTrainedModel] = {}
    paths: dict[str, Path] = {}
    record: dict[str, dict] = {}
    rm_specs = [spec for spec in DEMO_RMS if model_ids is None or spec.id in model_ids]
    needed = None if model_ids is None else set(model_ids) | {spec.backbone for spec in rm_specs}
    for spec in DEMO_LMS:
        if needed is not None and spec.id not in needed:
            continue
        model_started = time.perf_counter()
        model_seed = _derived_seed(seed, spec.id)
        corpus = answer_corpus(family_pools[spec.family], truth[spec.family], appeal,
                               answers_per_prompt=settings.lm_steps * settings.lm_answers_per_step, seed=model_seed,
                               leading_space_share=0.0 if spec.chat else PLAIN_TEXT_SPACED_ANSWERS)
        ratings = None
        if spec.rates:
            ratings = rating_corpus(family_pools[spec.family], truth[spec.family], appeal,
                                    n=settings.rating_steps * settings.lm_ratings_per_step, seed=model_seed)
        model = tiny_model(spec.arch, tokenizers[spec.family], "causal_lm", seed=model_seed,
                           hidden_size=spec.hidden_size, num_layers=spec.num_layers, output_scale=spec.output_scale)
        add_category_structure(model, tokenizers[spec.family],
                               {**dictionary_pools(family_pools[spec.family]), **framing_words(prompts)},
                               seed=model_seed, scale=RATING_CATEGORY_SCALE if spec.rates else 1.0)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(model_seed)
            lm_settings = dataclasses.replace(settings, lm_learning_rate=spec.learning_rate or settings.lm_learning_rate)
            losses = train_causal_lm(model, Renderer(tokenizers[spec.family], chat=spec.chat), corpus, ratings, prompts,
                                     lm_settings)
        trained[spec.id] = model
        paths[spec.id] = out_dir / spec.id
        save_pretrained_atomically(model, tokenizers[spec.family], paths[spec.id])
        record[spec.id] = _model_record(model, spec.family, spec.type, losses)
        _log_model(spec.id, record[spec.id], losses, time.perf_counter() - model_started)
    lm_specs = {spec.id: spec for spec in DEMO_LMS}
    for spec in rm_specs:
        model_started = time.perf_counter()
        backbone = lm_specs[spec.backbone]
        pairs_seed = _derived_seed(seed, f"rm-pairs-{spec.seed}")
        pairs = shared_preference_pairs(pools, prompts, n=settings.rm_steps * settings.rm_batch_size, seed=pairs_seed)
        model = reward_model_from(trained[spec.backbone], backbone.arch, tokenizers[backbone.family], spec.seed)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(pairs_seed)
            losses = train_reward_model(model, Renderer(tokenizers[backbone.family], chat=backbone.chat), pairs, settings)
        paths[spec.id] = out_dir / spec.id
        save_pretrained_atomically(model, tokenizers[backbone.family], paths[spec.id])
        record[spec.id] = {**_model_record(model, backbone.family, "reward_model", losses),
                           "pairs_seed": pairs_seed, "head_seed": spec.seed}
        _log_model(spec.id, record[spec.id], losses, time.perf_counter() - model_started)
    write_json({
        "strength": strength,
        "seed": seed,
        "favoured_category": FAVOURED_CATEGORY,
        "planted_strength": {family: planted_strength(family, strength) for family in CHAT_TEMPLATES},
        "prompt_truth": truth,
        "word_appeal": appeal,
        "words_per_category": {category: len(words) for category, words in pools.items()},
        "models": record,
    }, out_dir / "demo_world.json")
    logger.info("demo world built in %.1f s", time.perf_counter() - started)
    return paths


def _log_model(model_id: str, record: dict, losses: dict[str, list[float]], seconds: float) -> None:
    """Log one built model: id, type, optimizer steps, build time (data, training, saving) and
    final loss per objective, the mean over the last tenth of the steps (``loss_last_tenth`` of
    its :func:`_model_record`), e.g. ``demo model demo-llama-it (instruction-tuned): 500 steps
    in 41.2 s, final loss answer 1.2345 rating 0.3456``."""
    final = " ".join(f"{objective} {values['loss_last_tenth']:.4f}" for objective, values in record["losses"].items())
    steps = max(len(values) for values in losses.values())
    logger.info("demo model %s (%s): %d steps in %.1f s, final loss %s", model_id, record["type"], steps, seconds, final)


def _model_record(model: transformers.PreTrainedModel, family: str, model_type: str,
                  losses: dict[str, list[float]]) -> dict:
    """What the world's manifest says about one model: family, type, parameter count and, per
    training objective (e.g. ``answer``, ``rating``, ``bradley_terry``), the mean loss (nats)
    over the first and the last tenth of the steps."""
    def tenths(values: list[float]) -> dict[str, float]:
        tenth = max(1, len(values) // 10)
        return {"loss_first_tenth": float(np.mean(values[:tenth])), "loss_last_tenth": float(np.mean(values[-tenth:]))}

    return {
        "family": family,
        "type": model_type,
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "losses": {objective: tenths(values) for objective, values in losses.items()},
    }
