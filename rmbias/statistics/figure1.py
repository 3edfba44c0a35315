"""Figure 1 / A1: median word ranks of reward models by base model, from score files to statistics.

One path serves the published RM scores and the workflow's own: :func:`figure1_observations`
takes wide score tables (column ``response`` + one reward column per prompt key) with each RM's
base-model family, joins them with a dictionary's long table and ranks the terms
(:func:`rmbias.statistics.ranks.rm_median_ranks`); :func:`analyse_observations` fits the mixed model
(:func:`rmbias.statistics.mixed_model.fit_random_intercept_model`), runs the panel tests
(:func:`rmbias.statistics.group_tests.panel_tests`) and the means table; every statistic is written
through :func:`rmbias.records.write_statistics`. The published files are read by
:func:`reanalyse_published_scores`, the workflow's own dictionary-scope tables
(``results/rm_scores/dictionary/{rm}.parquet``) by :func:`analyse_own_scores`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from rmbias.frames import require_columns
from rmbias.io import InputError, read_parquet, read_wide_scores, write_parquet
from rmbias.models.families import family_label, family_of_published_rm
from rmbias.records import entries_from_table, statistics_record, write_statistics
from rmbias.statistics.group_tests import panel_test_columns, panel_tests
from rmbias.statistics.mixed_model import FIG1_R_NAMES, MFD_CATEGORY_R_NAME, MixedModelFit, fit_random_intercept_model
from rmbias.statistics.ranks import long_scores, rm_median_ranks

logger = logging.getLogger(__name__)

CONTRAST = (family_label("gemma"), family_label("llama"))
"""The two base-model families Figure 1 compares; differences are ``CONTRAST[1] - CONTRAST[0]``."""

MFD_SCHEMES = ("published_script", "virtue")

MIXED_MODEL_COLUMNS = ("term", "estimate", "se", "df", "t", "p")
"""Columns of :attr:`MixedModelFit.fixed_effects`, written (without rows) when no model is fitted."""


def mean_rank_table(obs: pd.DataFrame, group: str = "base_model", levels: tuple[str, str] = CONTRAST) -> pd.DataFrame:
    """Mean of the median ranks per framing x category x base model, wide, with the difference.

    Returns columns ``framing, category, Gemma, Llama, Llama - Gemma`` (rank units); a family
    without observations has NaN means.
    """
    require_columns(obs, ["framing", "category", group, "median_rank"], "mean-table input")
    means = obs.groupby(["framing", "category", group])["median_rank"].mean().unstack(group)
    table = means.reindex(columns=list(levels)).reset_index()
    table.columns.name = None
    table[f"{levels[1]} - {levels[0]}"] = table[levels[1]] - table[levels[0]]
    return table


@dataclass(frozen=True)
class RankingAnalysis:
    """Everything Figure 1 reports for one dictionary: observations, model, panels, means.

    ``mixed_model`` is None when it was not fitted, ``panels`` empty when the panels were not
    tested; ``skipped`` then says why, per part (keys ``mixed_model``, ``panel_tests``).
    """

    observations: pd.DataFrame
    mixed_model: MixedModelFit | None
    panels: pd.DataFrame
    means: pd.DataFrame
    skipped: Mapping[str, str]


def figure1_observations(
    wide_scores: Mapping[str, pd.DataFrame],
    family_by_rm: Mapping[str, str],
    corpus: pd.DataFrame,
    prompts: Mapping[str, Mapping[str, str]],
    categories: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The Figure 1 observations of every RM of ``wide_scores``: the one path from score tables to ranks.

    ``wide_scores``: RM name -> wide table (``response`` + one reward column per key of
    ``prompts``); ``family_by_rm``: RM name -> family label (``"Gemma"``); ``corpus``: the long
    table (``term, category, dictionary``) whose terms are ranked, within each (RM, prompt),
    over every term of it that the table holds. ``categories`` (default: all) selects which
    categories are kept after ranking. Returns ``rm, base_model, prompt, framing, category,
    median_rank, n_ranked`` (rank units, 1 = best; ``n_ranked`` terms ranked per RM and prompt).
    """
    scores = pd.concat([long_scores(wide, rm, corpus) for rm, wide in sorted(wide_scores.items())], ignore_index=True)
    obs = rm_median_ranks(scores, {key: prompt["valence"] for key, prompt in prompts.items()}, family_by_rm)
    if categories is not None:
        obs = obs[obs["category"].isin(categories)].reset_index(drop=True)
    return obs


def analysis_gaps(obs: pd.DataFrame, levels: tuple[str, str] = CONTRAST) -> dict[str, str]:
    """Why the mixed model or the panel tests cannot be computed from ``obs`` (empty: both can).

    The mixed model needs at least two base families and at least 2 RMs in every family
    present (a family of one RM is confounded with its random intercept); the panel tests need
    at least 2 RMs in both families of ``levels`` (with one, no Llama - Gemma contrast exists).
    """
    rms = obs.groupby("base_model")["rm"].nunique()
    counts = ", ".join(f"{family} {n}" for family, n in rms.items())
    gaps = {}
    if len(rms) < 2 or rms.min() < 2:
        gaps["mixed_model"] = f"not fitted: needs at least 2 base families with at least 2 RMs each (RMs per family: {counts})"
    if any(rms.get(level, 0) < 2 for level in levels):
        gaps["panel_tests"] = f"not tested: needs at least 2 RMs of each of {' and '.join(levels)} (RMs per family: {counts})"
    return gaps


def analyse_observations(
    obs: pd.DataFrame,
    n_resamples: int = 9999,
    seed: int = 0,
    star_p: str = "permutation",
    category_r_name: str = FIG1_R_NAMES["category"],
) -> RankingAnalysis:
    """Mixed model, panel tests and means of Figure 1 observations (:func:`figure1_observations`);
    the parts :func:`analysis_gaps` rules out are skipped, with the reason in ``skipped``.

    ``category_r_name`` is the category factor's name in the mixed model's terms (the
    authors' ``Category`` for the Big Two, ``MFD_category`` for MFD2; :func:`category_r_name`).
    """
    skipped = analysis_gaps(obs)
    panels = (
        pd.DataFrame(columns=panel_test_columns())
        if "panel_tests" in skipped
        else panel_tests(obs, n_resamples=n_resamples, seed=seed, star_p=star_p)
    )
    return RankingAnalysis(
        observations=obs,
        mixed_model=None
        if "mixed_model" in skipped
        else fit_random_intercept_model(obs, r_names={**FIG1_R_NAMES, "category": category_r_name}),
        panels=panels,
        means=mean_rank_table(obs),
        skipped=skipped,
    )


def category_r_name(mfd_scheme: str | None) -> str:
    """The mixed model's name of the category factor: ``Category`` (Big Two, ``mfd_scheme`` None)
    or ``MFD_category`` (MFD2), as in the authors' R models."""
    return FIG1_R_NAMES["category"] if mfd_scheme is None else MFD_CATEGORY_R_NAME


def analysis_corpus(corpus: pd.DataFrame, mfd_scheme: str | None) -> tuple[pd.DataFrame, list[str]]:
    """The corpus and the categories the Figure 1 analysis uses.

    Big Two (``mfd_scheme=None``): both categories. MFD2, ``virtue`` (the paper's text): every
    MFD2 term is ranked, the five ``*_Virtue`` categories are analysed. MFD2,
    ``published_script`` (what the authors' R script computed, and what reproduces the
    paper's MFD2 claims): only the terms of the columns Care_Virtue..Sanctity_Virtue are
    ranked (every category except Sanctity_Vice, a column-range slip in the script) and virtue
    and vice are merged into one category per foundation.
    """
    if mfd_scheme is None:
        return corpus, sorted(corpus["category"].unique())
    if mfd_scheme == "virtue":
        return corpus, sorted(c for c in corpus["category"].unique() if c.endswith("_Virtue"))
    if mfd_scheme == "published_script":
        kept = corpus[corpus["category"] != "Sanctity_Vice"].copy()
        kept["category"] = kept["category"].str.replace(r"_(Virtue|Vice)$", "", regex=True)
        return kept.drop_duplicates(["term", "category"]), sorted(kept["category"].unique())
    raise InputError(f"reanalysis.mfd_scheme: {mfd_scheme!r} is not one of {', '.join(MFD_SCHEMES)}")


def reanalyse_published_scores(
    score_paths: Mapping[str, str | Path],
    corpus_path: str | Path,
    prompts: Mapping[str, Mapping[str, str]],
    mfd_scheme: str | None,
    n_permutations: int,
    seed: int,
    star_p: str,
) -> RankingAnalysis:
    """Figure 1 analysis of published scores: ``score_paths`` maps RM name → wide score CSV;
    each RM's family is read from its name (:func:`rmbias.models.families.family_of_published_rm`)."""
    corpus, categories = analysis_corpus(read_parquet(corpus_path, columns=["term", "category", "dictionary"]), mfd_scheme)
    wide = {rm: read_wide_scores(path, list(prompts)) for rm, path in score_paths.items()}
    families = {rm: family_of_published_rm(rm) for rm in wide}
    return _analyse_wide_scores(wide, families, corpus, categories, prompts, mfd_scheme, n_permutations, seed, star_p)


def _analyse_wide_scores(wide: Mapping[str, pd.DataFrame], families: Mapping[str, str], corpus: pd.DataFrame,
                         categories: Sequence[str], prompts: Mapping[str, Mapping[str, str]], mfd_scheme: str | None,
                         n_permutations: int, seed: int, star_p: str) -> RankingAnalysis:
    """The Figure 1 analysis both sources share: :func:`figure1_observations` of ``wide`` (RM → wide
    score table) with ``families`` (RM → family label), then :func:`analyse_observations`."""
    obs = figure1_observations(wide, families, corpus, prompts, categories)
    return analyse_observations(
        obs, n_resamples=n_permutations, seed=seed, star_p=star_p, category_r_name=category_r_name(mfd_scheme)
    )


def read_own_scores(path: str | Path, prompt_keys: Sequence[str], terms: Sequence[str], dictionary: str) -> pd.DataFrame:
    """One RM's dictionary-scope score table (``results/rm_scores/dictionary/{rm}.parquet``), checked.

    The table must hold a ``response`` column, a finite reward in every one of ``prompt_keys``
    and a row for every one of ``terms`` (the analysed ``dictionary``'s terms). Raises
    :class:`InputError` naming the file and the first problem. Returns ``response`` + the
    prompt columns (rewards, float).
    """
    table = read_parquet(path)
    missing = [column for column in ["response", *prompt_keys] if column not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}")
    rewards = table[list(prompt_keys)].to_numpy(dtype=float)
    if not np.isfinite(rewards).all():
        rows, columns = np.nonzero(~np.isfinite(rewards))
        raise InputError(
            f"{path}: {len(rows)} reward(s) are NaN or infinite (first: response {table['response'].iat[rows[0]]!r}, "
            f"prompt {prompt_keys[columns[0]]})"
        )
    absent = sorted(set(terms) - set(table["response"].astype(str)))
    if absent:
        raise InputError(
            f"{path}: {len(table)} rows, but {len(absent)} of the {len(set(terms))} terms of dictionary {dictionary} "
            f"have no row (first: {absent[0]!r}); rescore it"
        )
    return table[["response", *prompt_keys]]


def analyse_own_scores(
    score_paths: Mapping[str, str | Path],
    families: Mapping[str, str],
    corpus_path: str | Path,
    prompts: Mapping[str, Mapping[str, str]],
    mfd_scheme: str | None,
    n_permutations: int,
    seed: int,
    star_p: str,
) -> RankingAnalysis:
    """Figure 1 analysis of the configured RMs: ``score_paths`` maps RM id → its dictionary-scope
    score table (parquet), ``families`` RM id → its config ``family`` key (``llama``).

    Each RM ranks the terms of the analysed dictionary it was scored on; the dictionary scope
    scores every dictionary term as a whole string, so these are the terms the published RMs
    rank too (see :func:`read_own_scores` for the checks).
    """
    corpus = read_parquet(corpus_path, columns=["term", "category", "dictionary"])
    dictionary = ", ".join(sorted(corpus["dictionary"].unique()))
    corpus, categories = analysis_corpus(corpus, mfd_scheme)
    terms = corpus["term"].unique()
    wide = {rm: read_own_scores(path, list(prompts), terms, dictionary) for rm, path in score_paths.items()}
    labels = {rm: family_label(families[rm]) for rm in wide}
    return _analyse_wide_scores(wide, labels, corpus, categories, prompts, mfd_scheme, n_permutations, seed, star_p)


def mixed_model_record(fit: MixedModelFit, analysis: str) -> dict:
    """Record of the mixed model: one t test per fixed effect, the fit itself under ``model``."""
    fixed = fit.fixed_effects.assign(n_obs=fit.n_obs, n_groups=fit.n_groups)
    return statistics_record(
        analysis,
        f"REML random-intercept model {fit.formula}: t test of each fixed effect (nlme df)",
        entries_from_table(
            fixed,
            test="t (lme fixed effect)",
            statistic="t",
            p="p",
            df="df",
            term="term",
            estimate="estimate",
            se="se",
            inputs=["n_obs", "n_groups"],
        ),
        model={
            "formula": fit.formula,
            "method": "REML, random intercept per RM (statsmodels MixedLM); df by nlme::lme's rule",
            "random_intercept_var": fit.random_intercept_var,
            "residual_var": fit.residual_var,
            "reml_loglik": fit.reml_loglik,
            "n_obs": fit.n_obs,
            "n_groups": fit.n_groups,
            "optimizer_warnings": list(fit.optimizer_warnings),
        },
    )


def panel_tests_record(panels: pd.DataFrame, analysis: str, levels: tuple[str, str] = CONTRAST) -> dict:
    """Record of the panel tests: per panel a Welch t and a permutation test of it, Bonferroni over panels."""
    shared = {
        "correction": "bonferroni over panels",
        "cell": ["category", "framing"],
        "effect_size": ["d_pooled", "d_average"],
    }
    groups = [f"{stat}_{level}" for stat in ("n", "mean") for level in levels] + ["contrast"]
    welch = entries_from_table(
        panels, test="Welch t", statistic="t", p="p_welch", df="df", p_adjusted="p_welch_bonferroni", inputs=groups, **shared
    )
    permutation = entries_from_table(
        panels,
        test="permutation test of the Welch t",
        statistic="t",
        p="p_permutation",
        p_adjusted="p_permutation_bonferroni",
        inputs=[*groups, "n_resamples", "seed"],
        **shared,
    )
    return statistics_record(
        analysis,
        f"{levels[1]} vs {levels[0]} median ranks in each (category, framing) panel; Cohen's d in rank units",
        [*welch, *permutation],
        stars_from=str(panels["star_p"].iloc[0]),
    )


def write_ranking_analysis(analysis: RankingAnalysis, outputs: Mapping[str, str], label: str) -> None:
    """Write the analysis: keys ``observations`` (parquet), ``mixed_model_json/csv``,
    ``panel_tests_json/csv``, ``means_json/csv``; ``label`` prefixes each record's ``analysis``.
    A skipped part is written as a record without tests whose ``skipped`` says why, and a CSV
    with the part's columns and no rows."""
    write_parquet(analysis.observations, outputs["observations"])
    if analysis.mixed_model is None:
        reason = analysis.skipped["mixed_model"]
        write_statistics(
            statistics_record(f"{label}_mixed_model", f"mixed model {reason}", [], skipped=reason),
            outputs["mixed_model_json"],
            {outputs["mixed_model_csv"]: pd.DataFrame(columns=list(MIXED_MODEL_COLUMNS))},
        )
    else:
        write_statistics(
            mixed_model_record(analysis.mixed_model, f"{label}_mixed_model"),
            outputs["mixed_model_json"],
            {outputs["mixed_model_csv"]: analysis.mixed_model.fixed_effects},
        )
    if "panel_tests" in analysis.skipped:
        reason = analysis.skipped["panel_tests"]
        panel_record = statistics_record(f"{label}_panel_tests", f"panel tests {reason}", [], skipped=reason)
    else:
        panel_record = panel_tests_record(analysis.panels, f"{label}_panel_tests")
    write_statistics(panel_record, outputs["panel_tests_json"], {outputs["panel_tests_csv"]: analysis.panels})
    write_statistics(
        statistics_record(
            f"{label}_means",
            "mean over (RM, prompt) of the median rank per framing x category x base model",
            [],
            means=analysis.means.to_dict(orient="records"),
        ),
        outputs["means_json"],
        {outputs["means_csv"]: analysis.means},
    )


def _log_analysis(analysis: RankingAnalysis) -> None:
    if analysis.mixed_model is not None:
        for warning in analysis.mixed_model.optimizer_warnings:
            logger.warning("mixed model: %s", warning)
    for part, reason in analysis.skipped.items():
        logger.warning("%s %s", part, reason)
    obs = analysis.observations
    logger.info("%d observations from %d RMs", len(obs), obs["rm"].nunique())


def figure1_statistics(outputs: Mapping[str, str], label: str, **reanalysis: object) -> RankingAnalysis:
    """The ``fig1_reanalysis`` job: :func:`reanalyse_published_scores` (``reanalysis`` are its
    arguments), then :func:`write_ranking_analysis` to ``outputs`` under ``label``."""
    analysis = reanalyse_published_scores(**reanalysis)
    write_ranking_analysis(analysis, outputs, label)
    _log_analysis(analysis)
    return analysis


def own_figure1_statistics(outputs: Mapping[str, str], label: str, **own: object) -> RankingAnalysis:
    """The ``fig1_own`` job: :func:`analyse_own_scores` (``own`` are its arguments), then
    :func:`write_ranking_analysis` to ``outputs`` under ``label``."""
    analysis = analyse_own_scores(**own)
    write_ranking_analysis(analysis, outputs, label)
    _log_analysis(analysis)
    return analysis
