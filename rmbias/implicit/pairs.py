"""The ``implicit_pair`` job: one model pair's implicit-reward table for one prompt.

Reads the two models' log-prob tables (``decoded`` + one natural-log-probability column per
prompt key), checks them, joins them by decoded string and scores every measure of
:mod:`rmbias.implicit.measures`. Model a is model 1 (the target): positive scores are tokens a favours.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import pandas as pd

from rmbias.implicit.measures import add_measures, join_vocabularies
from rmbias.io import InputError, read_parquet, write_parquet

logger = logging.getLogger(__name__)


def read_prompt_log_probs(path: str | os.PathLike, prompt: str, columns: Sequence[str] = ("decoded",)) -> pd.DataFrame:
    """Read ``columns`` and one prompt's column from a log-prob table, checking the values.

    Raises :class:`InputError` naming the file when a decoded string is missing or a
    log-prob is NaN or +inf.
    """
    table = read_parquet(path, columns=[*columns, prompt])
    if "decoded" in table and table["decoded"].isna().any():
        raise InputError(f"{path}: column decoded has {int(table['decoded'].isna().sum())} missing value(s)")
    values = table[prompt].to_numpy(dtype=np.float64)
    bad = np.isnan(values) | np.isposinf(values)
    if bad.any():
        raise InputError(f"{path}: column {prompt} has {int(bad.sum())} NaN or +inf log-prob(s)")
    return table


def implicit_pair_table(logprobs_a: str | os.PathLike, logprobs_b: str | os.PathLike, prompt: str) -> pd.DataFrame:
    """The file ``results/implicit/{prompt}/{a}__{b}.parquet``: joined vocabularies plus every measure."""
    a = read_prompt_log_probs(logprobs_a, prompt)
    b = read_prompt_log_probs(logprobs_b, prompt)
    return add_measures(join_vocabularies(a, b, prompt))


def write_implicit_pair(
    logprobs_a: str | os.PathLike, logprobs_b: str | os.PathLike, prompt: str, out_path: str | os.PathLike
) -> None:
    """Write :func:`implicit_pair_table` to ``out_path`` (``results/implicit/{prompt}/{a}__{b}.parquet``)."""
    table = implicit_pair_table(logprobs_a, logprobs_b, prompt)
    write_parquet(table, out_path)
    logger.info("%s vs %s, prompt %s: %d tokens in both vocabularies", logprobs_a, logprobs_b, prompt, len(table))
