"""Figure 2 (Section 3.1): do base models rank a lexicon's terms (the paper: the Big Two nouns) as their RMs do?

Per (model, prompt, category) the median log-probability rank of the lexicon's terms
(:func:`rmbias.statistics.ranks.logprob_median_ranks`); a type-II three-way ANOVA ``median_rank ~
category * framing * model`` and a Welch t-test between the two models in every (framing,
category) cell. Any prompts serve, at least two per framing (:func:`rmbias.config.load_prompts`). :func:`figure2_statistics` is the ``fig2_stats`` job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd
from statsmodels.stats.multitest import multipletests

from rmbias.io import InputError, read_parquet, write_parquet
from rmbias.records import entries_from_table, statistics_record, write_statistics
from rmbias.statistics.group_tests import stars, three_way_anova, welch_by_cell
from rmbias.statistics.ranks import logprob_median_ranks

FIG2_FACTORS = ("category", "framing", "model")
"""The crossed factors of the Figure 2 ANOVA."""


def dictionary_log_probs(tables: Mapping[str, pd.DataFrame], corpus: pd.DataFrame, prompts: Sequence[str]) -> pd.DataFrame:
    """Log-probabilities of the dictionary terms that are single tokens in every model (Figure 2).

    ``tables`` maps model id → wide log-prob table (``decoded`` + one column per prompt key);
    ``corpus`` is a long dictionary table (``term``, ``category``). A term counts when some
    token of each model decodes exactly to it (the bare, lowercase form that follows the chat
    template's assistant header); duplicates keep their highest log-prob. Returns the long frame
    ``model, prompt, term, category, logprob`` (terms a model lacks are absent for that model;
    :func:`rmbias.statistics.ranks.logprob_median_ranks` keeps the terms every model has).
    """
    terms = corpus[["term", "category"]].drop_duplicates()
    per_model = []
    for model, table in tables.items():
        best = table[table["decoded"].isin(terms["term"])].groupby("decoded")[list(prompts)].max()
        long = best.rename_axis("term").reset_index().melt(id_vars="term", var_name="prompt", value_name="logprob")
        long.insert(0, "model", model)
        per_model.append(long)
    frame = pd.concat(per_model, ignore_index=True)
    return frame.merge(terms, on="term")[["model", "prompt", "term", "category", "logprob"]]


def check_shared_categories(logprobs: pd.DataFrame, corpus: pd.DataFrame, models: Sequence[str]) -> None:
    """Raise :class:`InputError` naming the lexicon, the category and the models when some
    category of ``corpus`` (``term, category, dictionary``) has no term that every one of
    ``models`` has a log-prob for in ``logprobs`` (:func:`dictionary_log_probs`): Figure 2 ranks
    only the terms each model produces as one token, exactly as written."""
    counts = logprobs.dropna(subset=["logprob"]).groupby("term")["model"].nunique()
    shared = set(counts.index[counts == len(models)])
    lexicon = ", ".join(sorted(corpus["dictionary"].unique()))
    for category, terms in corpus.groupby("category", sort=True)["term"]:
        if not shared & set(terms):
            raise InputError(f"lexicon {lexicon}: category {category} has no term that is one token, exactly as written, "
                             f"in every model of {' and '.join(models)} ({terms.nunique()} term(s), e.g. {sorted(terms)[0]!r}); "
                             "Figure 2 ranks single-token terms")


def model_cell_welch_tests(obs: pd.DataFrame, cells: Sequence[str] = ("framing", "category")) -> pd.DataFrame:
    """Figure 2 follow-ups: Welch t-test between the two models in each (framing, category) cell.

    The models are taken in sorted order (contrast ``second - first``); p-values are
    Benjamini-Hochberg corrected over the cells (``p_fdr``, which drives ``stars``). Columns as
    :func:`welch_by_cell`.
    """
    models = tuple(sorted(obs["model"].unique()))
    if len(models) != 2:
        raise InputError(f"Figure 2 tests: need exactly two models, got {len(models)}")
    table = welch_by_cell(obs, cells, "model", models)
    table["p_fdr"] = multipletests(table["p_welch"], method="fdr_bh")[1]
    table["stars"] = table["p_fdr"].map(stars)
    return table


def figure2_analysis(
    logprob_paths: Mapping[str, str | Path], corpus_path: str | Path, prompts: Mapping[str, Mapping[str, str]]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Figure 2: median log-prob rank of a lexicon's terms per (model, prompt, category).

    ``logprob_paths`` maps the two model ids to their log-prob parquet; ``corpus_path`` is the
    lexicon's corpus (:mod:`rmbias.corpora.dictionaries`), every category of which needs a term
    both models have as one token (:func:`check_shared_categories`). Returns
    (observations ``model, prompt, framing, category, median_rank``; the type-II 3-way ANOVA
    ``median_rank ~ category * framing * model``; Welch t per (framing, category) cell with
    Benjamini–Hochberg FDR).
    """
    keys = list(prompts)
    tables = {model: read_parquet(path, columns=["decoded", *keys]) for model, path in logprob_paths.items()}
    corpus = read_parquet(corpus_path, columns=["term", "category", "dictionary"])
    logprobs = dictionary_log_probs(tables, corpus, keys)
    check_shared_categories(logprobs, corpus, list(tables))
    observations = logprob_median_ranks(logprobs, {key: p["framing"] for key, p in prompts.items()})
    return observations, three_way_anova(observations, FIG2_FACTORS), model_cell_welch_tests(observations)


def anova_record(anova: pd.DataFrame, analysis: str) -> dict:
    """Record of the ANOVA: one F test per model term (the ``Residual`` row gives their denominator df)."""
    residual = anova.loc[anova["term"] == "Residual", "df"]
    terms = anova.dropna(subset=["F"]).assign(df_residual=float(residual.iloc[0]))
    return statistics_record(
        analysis,
        "type-II 3-way ANOVA (OLS) of the median log-prob rank: " + " * ".join(FIG2_FACTORS),
        entries_from_table(
            terms, test="3-way ANOVA, type II (OLS)", statistic="F", p="p", df="df", term="term", inputs=["sum_sq", "df_residual"]
        ),
    )


def cell_welch_record(welch: pd.DataFrame, analysis: str) -> dict:
    """Record of the cell tests: one Welch t per (framing, category), Benjamini-Hochberg over cells."""
    groups = [column for column in welch.columns if column.startswith(("n_", "mean_"))] + ["contrast"]
    return statistics_record(
        analysis,
        "Welch t between the two models' median log-prob ranks in each (framing, category) cell",
        entries_from_table(
            welch,
            test="Welch t",
            statistic="t",
            p="p_welch",
            df="df",
            correction="Benjamini-Hochberg FDR over cells",
            p_adjusted="p_fdr",
            cell=["framing", "category"],
            inputs=groups,
        ),
    )


def figure2_statistics(
    logprob_paths: Mapping[str, str | Path],
    corpus_path: str | Path,
    prompts: Mapping[str, Mapping[str, str]],
    outputs: Mapping[str, str],
    label: str,
) -> None:
    """The ``fig2_stats`` job: :func:`figure2_analysis`, written to ``outputs`` keys ``observations``
    (parquet), ``anova_csv/json`` and ``welch_csv/json``; ``label`` prefixes each record's ``analysis``."""
    observations, anova, welch = figure2_analysis(logprob_paths, corpus_path, prompts)
    write_parquet(observations, outputs["observations"])
    write_statistics(anova_record(anova, f"{label}_anova"), outputs["anova_json"], {outputs["anova_csv"]: anova})
    write_statistics(cell_welch_record(welch, f"{label}_welch"), outputs["welch_json"], {outputs["welch_csv"]: welch})
