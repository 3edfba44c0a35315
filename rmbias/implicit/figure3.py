"""Figure 3: how strongly a Llama model favours a word (e.g. Freedom, Love) over a Gemma model.

For every (llama, gemma) implicit pair file, each word's MWLR averaged over its spelling
variants (:func:`rmbias.implicit.measures.variant_scores`) and its rank among all tokens of the pair;
rows sorted by model version and size. :func:`figure3_table` is the ``fig3_data`` job.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from rmbias.implicit.measures import variant_score
from rmbias.io import InputError, read_parquet, write_csv

logger = logging.getLogger(__name__)


def rank_among(scores: np.ndarray, value: float) -> int:
    """Rank that ``value`` takes among ``scores`` in descending order: 1 + number of scores strictly above it."""
    return 1 + int(np.count_nonzero(np.asarray(scores) > value))


def _version_key(model: str, version: object) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in str(version).split("."))
    except ValueError as err:
        raise InputError(f"model {model}: version {version!r} is not dotted integers like 3.2") from err


def _model_metadata(model_info: Mapping[str, Mapping[str, object]], model: str) -> tuple[object, float]:
    if model not in model_info or not {"version", "size_b"} <= set(model_info[model]):
        raise InputError(f"model {model}: metadata needs keys version and size_b")
    return model_info[model]["version"], float(model_info[model]["size_b"])


def _model_sort_key(model_info: Mapping[str, Mapping[str, object]], model: str) -> tuple[tuple[int, ...], float]:
    version, size_b = _model_metadata(model_info, model)
    return _version_key(model, version), size_b


def word_scores_across_pairs(
    pairs: Mapping[tuple[str, str], pd.DataFrame],
    model_info: Mapping[str, Mapping[str, object]],
    words: Sequence[str] = ("Freedom", "Love"),
    measure: str = "MWLR",
) -> pd.DataFrame:
    """Figure 3 data: each word's variant-averaged score in each (llama, gemma) comparison.

    ``pairs`` maps (llama model id, gemma model id) to that pair's implicit table for one
    prompt (llama = model 1, so positive = favoured by Llama). ``model_info`` maps every model
    id to ``{"version": "3.2", "size_b": 3.0}``. ``rank`` is :func:`rank_among` the pair's
    per-token scores (1 = highest), ``n_tokens`` the size of the joined vocabulary. Rows are
    sorted by Llama version, Llama size, Gemma version, Gemma size (ascending), then word order.
    Columns: llama, gemma, word, mwlr (the ``measure`` score), rank, n_tokens, llama_version,
    llama_size_b, gemma_version, gemma_size_b.
    """
    ordered_pairs = sorted(
        pairs, key=lambda pair: (_model_sort_key(model_info, pair[0]), _model_sort_key(model_info, pair[1]))
    )
    rows = []
    for llama, gemma in ordered_pairs:
        frame = pairs[(llama, gemma)]
        llama_version, llama_size = _model_metadata(model_info, llama)
        gemma_version, gemma_size = _model_metadata(model_info, gemma)
        token_scores = frame[measure].to_numpy()
        for word in words:
            score = variant_score(frame, word, measure)
            rows.append(
                {
                    "llama": llama,
                    "gemma": gemma,
                    "word": word,
                    "mwlr": score,
                    "rank": rank_among(token_scores, score),
                    "n_tokens": len(frame),
                    "llama_version": llama_version,
                    "llama_size_b": llama_size,
                    "gemma_version": gemma_version,
                    "gemma_size_b": gemma_size,
                }
            )
    return pd.DataFrame(rows)



def figure3_data(
    pair_paths: Mapping[tuple[str, str], str | Path],
    model_info: Mapping[str, Mapping[str, object]],
    words: Sequence[str],
) -> pd.DataFrame:
    """Figure 3: variant-averaged MWLR of ``words`` for every (llama, gemma) implicit pair file."""
    pairs = {pair: read_parquet(path) for pair, path in pair_paths.items()}
    return word_scores_across_pairs(pairs, model_info, words=tuple(words), measure="MWLR")


def figure3_table(
    pair_paths: Mapping[tuple[str, str], str | Path],
    model_info: Mapping[str, Mapping[str, object]],
    words: Sequence[str],
    out_csv: str | Path,
) -> None:
    """The ``fig3_data`` job: :func:`figure3_data` written as CSV."""
    table = figure3_data(pair_paths, model_info, words)
    write_csv(table, out_csv)
    logger.info("%d pairs x %d words -> %s", len(pair_paths), len(words), out_csv)
