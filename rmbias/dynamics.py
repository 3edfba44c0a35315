"""Section 4 analyses of checkpoint scores: Big Two ranks over training, rank changes, ablations.

Input is a checkpoint score table (design §3): ``decoded``, ``token_id`` and one reward column
``step-{N}`` per checkpoint, for one prompt. Following design §6, the analysis keeps the tokens
whose decoded string is in the vocabulary shared by the compared base models, normalizes them
(ascii-folded, stripped, lowercased) and matches them to the expanded Big Two dictionary.
Ranks are taken within each checkpoint over those matched tokens (rank 1 = highest reward,
ties averaged).
"""

from __future__ import annotations

import re
from typing import Iterable, Mapping

import pandas as pd

from rmbias.corpora import normalize_term
from rmbias.io import InputError, read_parquet
from rmbias.basemodels import read_category_by_term, read_shared_decoded
from rmbias.stats import checkpoint_kendall

STEP_COLUMN = re.compile(r"^step-(\d+)$")


def step_columns(table: pd.DataFrame) -> list[tuple[int, str]]:
    """``(step, column)`` of every ``step-{N}`` column, ordered by step."""
    steps = sorted((int(m.group(1)), c) for c in table.columns if (m := STEP_COLUMN.match(str(c))))
    if not steps:
        raise InputError("checkpoint scores: no step-{N} column")
    return steps


def matched_tokens(table: pd.DataFrame, shared_decoded: Iterable[str], category_by_norm: Mapping[str, str]) -> pd.DataFrame:
    """Rows of ``table`` whose ``decoded`` is shared and whose normalized form is a dictionary term.

    Adds ``norm`` and ``category`` columns. Several tokens may map to one term (" Love", "love");
    each token is one ranked item, as in the paper's exhaustive token search.
    """
    shared = set(shared_decoded)
    kept = table[table["decoded"].isin(shared)].copy()
    kept["norm"] = kept["decoded"].map(normalize_term)
    kept["category"] = kept["norm"].map(category_by_norm)
    return kept.dropna(subset=["category"]).reset_index(drop=True)


def checkpoint_ranks(matched: pd.DataFrame) -> pd.DataFrame:
    """Within-checkpoint ranks of the matched tokens: long frame ``decoded, category, step, rank``."""
    steps = step_columns(matched)
    frames = []
    for step, column in steps:
        frames.append(
            pd.DataFrame(
                {
                    "decoded": matched["decoded"],
                    "category": matched["category"],
                    "step": step,
                    "rank": matched[column].rank(ascending=False, method="average"),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def median_category_ranks_by_step(ranks: pd.DataFrame) -> pd.DataFrame:
    """Median rank per (step, category): columns ``step, category, median_rank``."""
    return ranks.groupby(["step", "category"], as_index=False)["rank"].median().rename(columns={"rank": "median_rank"})


def rank_changes(ranks: pd.DataFrame, first_step: int | None = None) -> pd.DataFrame:
    """Rank of each token at ``first_step`` and at the final checkpoint, and the change.

    ``first_step`` defaults to the first checkpoint after step 0 (the paper compares its first
    saved checkpoint, step 1000, with the final one). Columns ``token, category, rank_first,
    rank_final, rank_change`` (positive = the token rose), sorted by change, largest rise first.
    """
    steps = sorted(ranks["step"].unique())
    if len(steps) < 2:
        raise InputError("rank changes: need at least two checkpoints")
    if first_step is None:
        first_step = next((s for s in steps if s > 0), steps[0])
    final_step = steps[-1]
    first = ranks[ranks["step"] == first_step].set_index("decoded")
    final = ranks[ranks["step"] == final_step].set_index("decoded")
    changes = pd.DataFrame(
        {
            "token": first.index,
            "category": first["category"].to_numpy(),
            "rank_first": first["rank"].to_numpy(),
            "rank_final": final.loc[first.index, "rank"].to_numpy(),
        }
    )
    changes["rank_change"] = changes["rank_first"] - changes["rank_final"]
    return changes.sort_values(["rank_change", "token"], ascending=[False, True], kind="stable").reset_index(drop=True)


def final_checkpoint_ranks(by_step: pd.DataFrame) -> pd.DataFrame:
    """The rows of the last step of a :func:`median_category_ranks_by_step` frame."""
    return by_step[by_step["step"] == by_step["step"].max()].reset_index(drop=True)


def training_dynamics(
    score_paths: Mapping[str, str],
    token_table_paths: Iterable[str],
    corpus_path: str,
    runs: Iterable[Mapping[str, object]],
    external_points: Iterable[Mapping[str, object]] = (),
) -> dict[str, pd.DataFrame]:
    """Every Section 4 table from the runs' checkpoint scores.

    ``score_paths``: run id → checkpoint score parquet; ``token_table_paths``: the token tables
    of every training base (their decoded strings' intersection is the shared vocabulary);
    ``runs``: one mapping per run with ``run``, ``base_model``, ``data_source``, ``data_size_k``;
    ``external_points``: published final ranks to plot beside the own runs (e.g. the GRMs).
    Returns ``ranks`` (median rank per run, step, category), ``final`` (last checkpoint of each
    run, plus the external points), ``kendall`` (tau per run and step) and ``changes`` (rank
    change of every matched token per run, first saved vs final checkpoint).
    """
    shared = read_shared_decoded(token_table_paths)
    category_by_norm = read_category_by_term(corpus_path)
    tables: dict[str, list[pd.DataFrame]] = {"ranks": [], "final": [], "kendall": [], "changes": []}
    for meta in runs:
        run = str(meta["run"])
        labels = {key: meta[key] for key in ("run", "base_model", "data_source", "data_size_k")}
        matched = matched_tokens(read_parquet(score_paths[run]), shared, category_by_norm)
        if matched.empty:
            raise InputError(f"{score_paths[run]}: no shared-vocabulary token matches the Big Two dictionary")
        ranks = checkpoint_ranks(matched)
        by_step = median_category_ranks_by_step(ranks).assign(**labels)
        tables["ranks"].append(by_step)
        tables["final"].append(final_checkpoint_ranks(by_step))
        tables["kendall"].append(checkpoint_kendall(matched).assign(**labels))
        tables["changes"].append(rank_changes(ranks).assign(**labels))
    frames = {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items()}
    external = pd.DataFrame(list(external_points))
    if not external.empty:
        frames["final"] = pd.concat([frames["final"], external.assign(run="external")], ignore_index=True)
    return frames
