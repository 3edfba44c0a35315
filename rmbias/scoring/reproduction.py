"""The reproduction check: this workflow's dictionary-scope rewards against the published ones,
under the entry's tokenization (``bos``) and, on a sample of the published responses, under the
other one (:data:`rmbias.models.conversations.BOS_MODES`), so a reader sees which of the two the
published numbers were computed with."""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.stats

from rmbias.io import read_parquet, read_wide_scores, write_csv
from rmbias.models.conversations import other_bos_mode

logger = logging.getLogger(__name__)


def compare_scores(ours: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Per prompt column both tables share: n shared responses, Spearman rho and max |ours − published|.

    Responses are matched by their exact string (the first row of a repeated response counts);
    rows with a missing score on either side are left out of that prompt.
    """
    prompt_keys = [column for column in ours.columns if column in published.columns
                   and column not in ("response", "token_id")]
    joined = ours.drop_duplicates("response").merge(published.drop_duplicates("response"), on="response",
                                                    suffixes=("_ours", "_published"))
    rows = []
    for key in prompt_keys:
        pair = joined[[f"{key}_ours", f"{key}_published"]].astype(float).dropna()
        ours_scores, published_scores = pair.iloc[:, 0].to_numpy(), pair.iloc[:, 1].to_numpy()
        rho = scipy.stats.spearmanr(ours_scores, published_scores).statistic if len(pair) > 1 else np.nan
        diff = float(np.max(np.abs(ours_scores - published_scores))) if len(pair) else np.nan
        rows.append({"prompt": key, "n": len(pair), "spearman": float(rho), "max_abs_diff": diff})
    return pd.DataFrame(rows, columns=["prompt", "n", "spearman", "max_abs_diff"])


def sample_responses(published: pd.DataFrame, n: int) -> pd.DataFrame:
    """``n`` responses of a published score table, evenly spaced over its distinct responses in
    sorted order (all of them when it has at most ``n``): the candidates (column ``response``)
    the reproduction check scores under the other tokenization."""
    responses = np.sort(published["response"].astype(str).unique())
    picks = np.unique(np.linspace(0, len(responses) - 1, num=min(n, len(responses))).round().astype(int))
    return pd.DataFrame({"response": responses[picks] if len(responses) else responses})


REPRODUCTION_COLUMNS = ["bos", "responses", "prompt", "n", "spearman", "max_abs_diff"]


def reproduction_table(ours: pd.DataFrame, other: pd.DataFrame, published: pd.DataFrame, bos: str) -> pd.DataFrame:
    """:func:`compare_scores` against ``published`` of our scores under the entry's BOS mode ``bos``
    on every response (``responses`` = ``all``) and on the sample ``other`` was scored on
    (``sample``), and of ``other`` (the sample under the other BOS mode); columns
    :data:`REPRODUCTION_COLUMNS`."""
    in_sample = ours["response"].isin(set(other["response"]))
    parts = [
        compare_scores(ours, published).assign(bos=bos, responses="all"),
        compare_scores(ours[in_sample], published).assign(bos=bos, responses="sample"),
        compare_scores(other, published).assign(bos=other_bos_mode(bos), responses="sample"),
    ]
    return pd.concat(parts, ignore_index=True)[REPRODUCTION_COLUMNS]


def write_reproduction_check(ours_paths: Sequence[str | os.PathLike], other_bos_path: str | os.PathLike,
                             published_path: str | os.PathLike, bos: str, out_path: str | os.PathLike) -> None:
    """Write :func:`reproduction_table` of our score parquets (one per lexicon of the dictionary
    scope, BOS mode ``bos``; a response in several keeps its first row), the other-BOS sample's
    parquet and a published score CSV as CSV to ``out_path``."""
    ours = pd.concat([read_parquet(path) for path in ours_paths], ignore_index=True).drop_duplicates("response")
    table = reproduction_table(ours, read_parquet(other_bos_path), read_wide_scores(published_path), bos)
    for (mode, responses), rows in table.groupby(["bos", "responses"], sort=False):
        logger.info("reproduction check %s vs %s, bos %s, %s responses: min spearman %.4f, max |diff| %.4g over %d prompts",
                    ", ".join(map(str, ours_paths)), published_path, mode, responses, rows["spearman"].min(), rows["max_abs_diff"].max(), len(rows))
    write_csv(table, out_path)
