"""Greedy generation with a causal LM, and Appendix F's generation check: does the boosted
model answer each held-out prompt with a boosted word (the authors' script prints its greedy
generations; the paper reports that it "responded with one of the 10 boosted words")?

The model is loaded by :func:`rmbias.models.loading.load_model`, each prompt rendered by its
:class:`~rmbias.models.conversations.Renderer` exactly as the log-probability jobs render it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence

import torch

from rmbias.models.loading import ModelSpec, load_model, resolve_device
from rmbias.records import write_statistics
from rmbias.training.authority_boost import generation_record, generation_table

logger = logging.getLogger(__name__)


def greedy_generations(spec: ModelSpec, prompts: Sequence[str], max_new_tokens: int,
                       device: str | torch.device = "auto") -> list[str]:
    """The greedy continuation (``model.generate``, no sampling, at most ``max_new_tokens``
    tokens) of each prompt rendered for ``spec`` (its chat template, or plain text with BOS),
    decoded without special tokens. One prompt at a time, so no padding enters the result."""
    device = resolve_device(device)
    renderer, model = load_model(spec, device, head="causal_lm", pad_from_tokenizer=True)
    texts = []
    for prompt in prompts:
        ids = torch.tensor([renderer.encode_rendered(prompt)], device=device)
        with torch.no_grad():
            output = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=False,
                                    max_new_tokens=max_new_tokens, pad_token_id=model.config.pad_token_id)
        texts.append(renderer.tokenizer.decode(output[0, ids.shape[1]:], skip_special_tokens=True))
    return texts


def authority_generation_check(entry: Mapping[str, object], prompts: Mapping[str, str], boosted_words: Sequence[str],
                               max_new_tokens: int, out_csv: str | os.PathLike, out_json: str | os.PathLike,
                               device: str = "auto", threads: int = 1) -> None:
    """The ``authority_generation`` job: :func:`greedy_generations` of the boosted model
    ``entry`` for the held-out ``prompts`` (key → text) on ``threads`` CPU threads, written as
    :func:`~rmbias.training.authority_boost.generation_table` (CSV) and its record (JSON)."""
    torch.set_num_threads(threads)
    generations = greedy_generations(ModelSpec.from_entry(entry), list(prompts.values()), max_new_tokens, device)
    table = generation_table(prompts, generations, boosted_words)
    write_statistics(generation_record(table, max_new_tokens), out_json, {out_csv: table})
    logger.info("generation check: %d of %d held-out prompts answered with a boosted word first: %s",
                int(table["boosted"].sum()), len(table), ", ".join(table["first_word"]))
