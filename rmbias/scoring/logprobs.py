"""Next-token log-probabilities of a language model after each prompt, over its whole vocabulary.

For every prompt, the model reads the rendered prompt (the chat template's generation prompt
for instruction-tuned models, the raw prompt for pretrained ones) and the log-softmax of its
next-token logits is taken in float32. Prompts are batched by token length: prompts of equal
length need no padding, so every row is computed exactly as it would be alone (padding would
shift sliding attention windows, and costs compute).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from rmbias.config import prompt_texts
from rmbias.corpora.tokens import decode_each
from rmbias.io import write_parquet
from rmbias.models.loading import ModelSpec, input_device, load_model

logger = logging.getLogger(__name__)



def batches_by_length(sequences: list[list[int]], batch_size: int) -> list[list[int]]:
    """Indices of ``sequences`` grouped into batches of equal length, at most ``batch_size`` each.

    Batches come in order of length, and indices within a batch in input order.
    """
    by_length: dict[int, list[int]] = defaultdict(list)
    for index, sequence in enumerate(sequences):
        by_length[len(sequence)].append(index)
    return [
        indices[start:start + batch_size]
        for _, indices in sorted(by_length.items())
        for start in range(0, len(indices), batch_size)
    ]


@torch.no_grad()
def next_token_logprobs(model: torch.nn.Module, sequences: list[list[int]], batch_size: int) -> np.ndarray:
    """Float32 log-probabilities of the next token after each sequence, shape ``[len(sequences), vocab]``.

    ``vocab`` is the width of the model's output logits.
    """
    device = input_device(model)
    rows: dict[int, np.ndarray] = {}
    for batch in batches_by_length(sequences, batch_size):
        input_ids = torch.tensor([sequences[index] for index in batch], device=device)
        logits = model(input_ids=input_ids, logits_to_keep=1).logits[:, -1, :]
        logprobs = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
        rows.update(zip(batch, logprobs))
    return np.stack([rows[index] for index in range(len(sequences))])


def logprob_table(decoded: list[str], logprobs: np.ndarray, prompt_keys: list[str]) -> pd.DataFrame:
    """Wide table: token_id, decoded, one float32 column per prompt key.

    ``logprobs`` has shape ``[len(prompt_keys), n_tokens]``; rows are kept for the ids that the
    tokenizer can decode (``len(decoded)`` of them, possibly fewer than the logits' width).
    """
    n_tokens = min(len(decoded), logprobs.shape[1])
    table = pd.DataFrame({
        "token_id": np.arange(n_tokens, dtype=np.int64),
        "decoded": decoded[:n_tokens],
    })
    columns = {key: logprobs[row, :n_tokens].astype(np.float32) for row, key in enumerate(prompt_keys)}
    return pd.concat([table, pd.DataFrame(columns)], axis=1)


def write_logprobs(entry: Mapping[str, Any], prompts: Mapping[str, Any], out_path: str | os.PathLike,
                   device: str = "auto", threads: int = 1, batch_size: int | None = None) -> None:
    """Load the language model of ``entry``, compute every prompt's next-token log-probabilities
    and write the wide table to ``out_path`` (parquet)."""
    torch.set_num_threads(threads)
    spec = ModelSpec.from_entry(entry)
    renderer, model = load_model(spec, device, head="causal_lm")
    texts = prompt_texts(prompts)
    sequences = renderer.encode([renderer.render(text) for text in texts.values()])
    logprobs = next_token_logprobs(model, sequences, batch_size or spec.logprob_batch_size)
    decoded = decode_each(renderer.tokenizer, list(range(len(renderer.tokenizer))))
    logger.info("%s: next-token log-probabilities for %d prompts over %d logits (%d decodable tokens)",
                spec.id, len(texts), logprobs.shape[1], len(decoded))
    write_parquet(logprob_table(decoded, logprobs, list(texts)), out_path)
