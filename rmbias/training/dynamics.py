"""Section 4 training dynamics: Big Two ranks over checkpoints, Kendall tau, rank changes, ablations.

Input is a checkpoint score table (design §3): ``decoded``, ``token_id`` and one reward column
``step-{N}`` per checkpoint, for one prompt. Following design §6, the analysis keeps the tokens
whose decoded string is in the vocabulary shared by the compared base models, normalizes them
(ascii-folded, stripped, lowercased) and matches them to the expanded Big Two dictionary.
Ranks are taken within each checkpoint over those matched tokens (rank 1 = highest reward,
ties averaged). Rank changes (Figures 5 / A6) and their trajectories (Figure A7) may match
another dictionary and rank words, each the mean of its variants' scores (the authors: the
Big Two nouns, Gemma ∩ Llama vocabulary, step 1000 vs the final checkpoint).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from rmbias.corpora.dictionaries import normalize_term
from rmbias.corpora.vocabulary import read_category_by_term, read_shared_decoded
from rmbias.io import InputError, read_parquet
from rmbias.records import entries_from_table, statistics_record, write_statistics
from rmbias.statistics.published_ablations import load_ablation_tables

STEP_COLUMN = re.compile(r"^step-(\d+)$")
TABLES = ("ranks", "final", "kendall", "changes", "trajectories")
"""The CSV tables of the ``training_dynamics`` job."""


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


def checkpoint_kendall(table: pd.DataFrame) -> pd.DataFrame:
    """Kendall tau-b between checkpoint score columns (rows = tokens, columns ``step-{N}``).

    Checkpoints are ordered by N. Per checkpoint: tau with the previous checkpoint
    (``tau_previous``, NaN for the first) and with the final one (``tau_final``, 1 for the
    final itself), with two-sided p-values. Rows missing either score are left out of a pair.
    Returns columns ``step, tau_previous, p_previous, tau_final, p_final``.
    """
    steps = step_columns(table)
    if len(steps) < 2:
        raise InputError("checkpoint scores: need at least two step-{N} columns")
    final = table[steps[-1][1]]

    def tau(x: pd.Series, y: pd.Series) -> tuple[float, float]:
        result = stats.kendalltau(x, y, nan_policy="omit", variant="b")
        return float(result.statistic), float(result.pvalue)

    rows = []
    for index, (step, column) in enumerate(steps):
        tau_previous, p_previous = tau(table[steps[index - 1][1]], table[column]) if index else (np.nan, np.nan)
        tau_final, p_final = tau(table[column], final)
        rows.append({"step": step, "tau_previous": tau_previous, "p_previous": p_previous, "tau_final": tau_final, "p_final": p_final})
    return pd.DataFrame(rows)


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


def word_scores(matched: pd.DataFrame) -> pd.DataFrame:
    """One row per dictionary word of :func:`matched_tokens`' output: each ``step-{N}`` score
    averaged over the word's variants (" Love", "love", ...), as the authors' Figure 5 / A6;
    ``decoded`` is the normalized word. Columns ``decoded, category`` and the step columns."""
    steps = [column for _, column in step_columns(matched)]
    words = matched.groupby(["norm", "category"], as_index=False, sort=True)[steps].mean()
    return words.rename(columns={"norm": "decoded"})


def compared_steps(steps: Iterable[int], first_step: int | None = None, final_step: int | None = None) -> tuple[int, int]:
    """The (early, final) checkpoints compared by rank changes and the H.1 tables: ``first_step``,
    by default the first checkpoint after step 0 (the authors' first saved checkpoint, step
    1000), and ``final_step``, by default the last. Raises :class:`InputError` when a step is
    not a checkpoint or the early step does not precede the final one."""
    steps = sorted(set(steps))
    if len(steps) < 2:
        raise InputError("rank changes: need at least two checkpoints")
    first = next((s for s in steps if s > 0), steps[0]) if first_step is None else first_step
    final = steps[-1] if final_step is None else final_step
    missing = [step for step in (first, final) if step not in steps]
    if missing:
        raise InputError(f"rank changes: no checkpoint at step {missing[0]} (checkpoints: {', '.join(map(str, steps))})")
    if first >= final:
        raise InputError(f"rank changes: the early step {first} must precede the final step {final}")
    return first, final


def rank_changes(ranks: pd.DataFrame, first_step: int | None = None, final_step: int | None = None) -> pd.DataFrame:
    """Rank of each item (token or word) at the early and at the final checkpoint
    (:func:`compared_steps`), and the change.

    Columns ``token, category, rank_first, rank_final, rank_change`` (positive = the item rose),
    sorted by change, largest rise first.
    """
    first_step, final_step = compared_steps(ranks["step"], first_step, final_step)
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
    external_runs: Mapping[str, str | Path] | None = None,
    rank_change_corpus_path: str | None = None,
    first_step: int | None = None,
    final_step: int | None = None,
    per_word: bool = False,
) -> dict[str, pd.DataFrame]:
    """Every Section 4 table from the runs' checkpoint scores.

    ``score_paths``: run id → checkpoint score parquet; ``token_table_paths``: the token tables
    whose decoded strings' intersection is the shared vocabulary (the authors: Gemma ∩ Llama);
    ``runs``: one mapping per run with ``run``, ``base_model``, ``data_source``, ``data_size_k``;
    ``external_runs``: label → published ``rank_results_<label>.csv`` whose final-checkpoint
    median ranks are plotted beside the own runs (e.g. the GRMs, source ``uf+skywork (GRM)``; read by
    :func:`rmbias.statistics.published_ablations.load_ablation_tables`, ``run`` = ``external``).
    Rank changes (Figures 5 / A6) match the dictionary ``rank_change_corpus_path`` (default
    ``corpus_path``; the authors: the Big Two nouns), each token or, with ``per_word``, each word
    (its variants' scores averaged), between ``first_step`` and ``final_step``
    (:func:`compared_steps`).
    Returns ``ranks`` (median rank per run, step, category), ``final`` (last checkpoint of each
    run, plus the external points), ``kendall`` (tau per run and step), ``changes`` (rank
    change of every rank-change item per run) and ``trajectories`` (rank of every rank-change
    item at every checkpoint per run: ``token, category, step, rank``; Figure A7).
    """
    shared = read_shared_decoded(token_table_paths)
    category_by_norm = read_category_by_term(corpus_path)
    change_categories = read_category_by_term(rank_change_corpus_path) if rank_change_corpus_path else category_by_norm
    tables: dict[str, list[pd.DataFrame]] = {"ranks": [], "final": [], "kendall": [], "changes": [], "trajectories": []}
    for meta in runs:
        run = str(meta["run"])
        labels = {key: meta[key] for key in ("run", "base_model", "data_source", "data_size_k")}
        scores = read_parquet(score_paths[run])
        matched = matched_tokens(scores, shared, category_by_norm)
        items = matched_tokens(scores, shared, change_categories)
        if matched.empty or items.empty:
            raise InputError(f"{score_paths[run]}: no shared-vocabulary token matches the Big Two dictionary")
        ranks = checkpoint_ranks(matched)
        by_step = median_category_ranks_by_step(ranks).assign(**labels)
        tables["ranks"].append(by_step)
        tables["final"].append(final_checkpoint_ranks(by_step))
        tables["kendall"].append(checkpoint_kendall(matched).assign(**labels))
        item_ranks = checkpoint_ranks(word_scores(items) if per_word else items)
        tables["changes"].append(rank_changes(item_ranks, first_step, final_step).assign(**labels))
        tables["trajectories"].append(item_ranks.rename(columns={"decoded": "token"}).assign(**labels))
    frames = {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items()}
    if external_runs:
        external, _ = load_ablation_tables(external_runs)
        external = external.assign(run="external", data_source=external["data_source"] + " (" + external["method"] + ")")
        columns = ["run", "base_model", "data_source", "data_size_k", "category", "median_rank"]
        frames["final"] = pd.concat([frames["final"], external[columns]], ignore_index=True)
    return frames


def kendall_record(kendall: pd.DataFrame, final: pd.DataFrame) -> dict:
    """Record of the training dynamics: per run and checkpoint a Kendall tau-b with the previous
    checkpoint and one with the final checkpoint (the final's tau with itself is left out);
    ``final_ranks`` holds the rows of the final-ranks table."""
    ordered = kendall.sort_values(["run", "step"], kind="stable")
    ordered = ordered.assign(
        previous_step=ordered.groupby("run")["step"].shift(), final_step=ordered.groupby("run")["step"].transform("max")
    )
    cell = ["run", "base_model", "step"]
    previous = entries_from_table(
        ordered.dropna(subset=["tau_previous"]),
        test="Kendall tau-b, consecutive checkpoints",
        statistic="tau_previous",
        p="p_previous",
        cell=cell,
        inputs=["previous_step"],
    )
    to_final = entries_from_table(
        ordered[ordered["step"] < ordered["final_step"]],
        test="Kendall tau-b, checkpoint vs final checkpoint",
        statistic="tau_final",
        p="p_final",
        cell=cell,
        inputs=["final_step"],
    )
    return statistics_record(
        "training_dynamics",
        "Kendall tau-b between the token rankings of checkpoints of each own RM training run",
        [*previous, *to_final],
        final_ranks=final.to_dict(orient="records"),
    )


def training_dynamics_statistics(
    score_paths: Sequence[str | Path],
    token_table_paths: Iterable[str],
    corpus_path: str,
    runs: Sequence[Mapping[str, object]],
    external_runs: Mapping[str, str | Path],
    outputs: Mapping[str, str | Path],
    rank_changes_settings: Mapping[str, object] | None = None,
) -> None:
    """The ``training_dynamics`` job: ``score_paths`` are the runs' checkpoint score parquets in the
    order of ``runs``; :func:`training_dynamics` (``rank_changes_settings``: its
    ``rank_change_corpus_path``, ``first_step``, ``final_step`` and ``per_word``) writes its five
    tables to the CSVs ``outputs`` names by table (``ranks``, ``final``, ``kendall``,
    ``changes``, ``trajectories``), :func:`kendall_record` to ``outputs["json"]``."""
    by_run = dict(zip((str(meta["run"]) for meta in runs), score_paths))
    frames = training_dynamics(by_run, token_table_paths, corpus_path, runs, external_runs, **(rank_changes_settings or {}))
    write_statistics(
        kendall_record(frames["kendall"], frames["final"]),
        outputs["json"],
        {outputs[name]: frames[name] for name in TABLES},
    )

