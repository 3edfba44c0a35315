"""The reproduction check: this workflow's dictionary-scope rewards against the published ones."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
import scipy.stats

from rmbias.io import read_parquet, read_wide_scores, write_csv

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


def write_reproduction_check(ours_path: str | os.PathLike, published_path: str | os.PathLike,
                             out_path: str | os.PathLike) -> None:
    """Compare our score parquet with a published score CSV and write :func:`compare_scores` as CSV."""
    comparison = compare_scores(read_parquet(ours_path), read_wide_scores(published_path))
    logger.info("reproduction check %s vs %s: min spearman %.4f, max |diff| %.4g over %d prompts",
                ours_path, published_path, comparison["spearman"].min(), comparison["max_abs_diff"].max(),
                len(comparison))
    write_csv(comparison, out_path)
