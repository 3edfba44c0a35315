"""Figure 1 / A1: the reanalysis of published reward-model scores, from files to statistics.

Reads the published wide score files (column ``response`` + one column per prompt key), joins
them with a dictionary's long table, ranks the terms (:func:`rmbias.ranks.rm_median_ranks`),
fits the mixed model (:func:`rmbias.mixed_model.fit_random_intercept_model`), runs the panel
tests (:func:`rmbias.group_tests.panel_tests`) and the means table, and writes every statistic
through :func:`rmbias.records.write_statistics`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from rmbias.families import family_label
from rmbias.frames import require_columns
from rmbias.group_tests import panel_tests
from rmbias.io import InputError, read_parquet, read_wide_scores, write_parquet
from rmbias.mixed_model import FIG1_R_NAMES, MFD_CATEGORY_R_NAME, MixedModelFit, fit_random_intercept_model
from rmbias.ranks import long_scores, rm_median_ranks
from rmbias.records import entries_from_table, statistics_record, write_statistics

logger = logging.getLogger(__name__)

CONTRAST = (family_label("gemma"), family_label("llama"))
"""The two base-model families Figure 1 compares; differences are ``CONTRAST[1] - CONTRAST[0]``."""

MFD_SCHEMES = ("published_script", "virtue")


def mean_rank_table(obs: pd.DataFrame, group: str = "base_model", levels: tuple[str, str] = CONTRAST) -> pd.DataFrame:
    """Mean of the median ranks per framing x category x base model, wide, with the difference.

    Returns columns ``framing, category, Gemma, Llama, Llama - Gemma`` (rank units).
    """
    require_columns(obs, ["framing", "category", group, "median_rank"], "mean-table input")
    means = obs.groupby(["framing", "category", group])["median_rank"].mean().unstack(group)
    table = means[list(levels)].reset_index()
    table.columns.name = None
    table[f"{levels[1]} - {levels[0]}"] = table[levels[1]] - table[levels[0]]
    return table


@dataclass(frozen=True)
class RankingAnalysis:
    """Everything Figure 1 reports for one dictionary: observations, model, panels, means."""

    observations: pd.DataFrame
    mixed_model: MixedModelFit
    panels: pd.DataFrame
    means: pd.DataFrame


def analyse_rm_rankings(
    scores: pd.DataFrame,
    valence_by_prompt: Mapping[str, str],
    categories: Sequence[str] | None = None,
    n_resamples: int = 9999,
    seed: int = 0,
    star_p: str = "permutation",
    category_r_name: str = FIG1_R_NAMES["category"],
) -> RankingAnalysis:
    """Figure 1 end to end: ranks over every term of ``scores``, then the analysed ``categories``.

    ``category_r_name`` is the category factor's name in the mixed model's terms (the
    authors' ``Category`` for the Big Two, ``MFD_category`` for MFD2).

    ``categories`` (default: all) selects which categories enter the model and the panels
    after ranking (MFD2: the five ``*_Virtue``). The published R script differs for MFD2: it
    ranks only the terms of the columns Care_Virtue..Sanctity_Virtue (every category but
    Sanctity_Vice) and merges virtue and vice per foundation; this follows the paper's text
    (virtue categories, ranked among all MFD2 terms).
    """
    obs = rm_median_ranks(scores, valence_by_prompt)
    if categories is not None:
        obs = obs[obs["category"].isin(categories)].reset_index(drop=True)
    return RankingAnalysis(
        observations=obs,
        mixed_model=fit_random_intercept_model(obs, r_names={**FIG1_R_NAMES, "category": category_r_name}),
        panels=panel_tests(obs, n_resamples=n_resamples, seed=seed, star_p=star_p),
        means=mean_rank_table(obs),
    )



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
    """Figure 1 analysis of published scores: ``score_paths`` maps RM name → wide score CSV."""
    corpus, categories = analysis_corpus(read_parquet(corpus_path, columns=["term", "category", "dictionary"]), mfd_scheme)
    keys = list(prompts)
    scores = pd.concat(
        [long_scores(read_wide_scores(path, keys), rm, corpus) for rm, path in sorted(score_paths.items())],
        ignore_index=True,
    )
    return analyse_rm_rankings(
        scores,
        {key: prompt["valence"] for key, prompt in prompts.items()},
        categories=categories,
        n_resamples=n_permutations,
        seed=seed,
        star_p=star_p,
        category_r_name=FIG1_R_NAMES["category"] if mfd_scheme is None else MFD_CATEGORY_R_NAME,
    )




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
    ``panel_tests_json/csv``, ``means_json/csv``; ``label`` prefixes each record's ``analysis``."""
    write_parquet(analysis.observations, outputs["observations"])
    write_statistics(
        mixed_model_record(analysis.mixed_model, f"{label}_mixed_model"),
        outputs["mixed_model_json"],
        {outputs["mixed_model_csv"]: analysis.mixed_model.fixed_effects},
    )
    write_statistics(
        panel_tests_record(analysis.panels, f"{label}_panel_tests"),
        outputs["panel_tests_json"],
        {outputs["panel_tests_csv"]: analysis.panels},
    )
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


def figure1_statistics(outputs: Mapping[str, str], label: str, **reanalysis: object) -> RankingAnalysis:
    """The ``fig1_reanalysis`` job: :func:`reanalyse_published_scores` (``reanalysis`` are its
    arguments), then :func:`write_ranking_analysis` to ``outputs`` under ``label``."""
    analysis = reanalyse_published_scores(**reanalysis)
    write_ranking_analysis(analysis, outputs, label)
    for warning in analysis.mixed_model.optimizer_warnings:
        logger.warning("mixed model: %s", warning)
    logger.info("%d observations from %d RMs", analysis.mixed_model.n_obs, analysis.mixed_model.n_groups)
    return analysis
