"""Writing a Figure 1 analysis: one statistics record and CSV per part, and the two jobs.

A :class:`~rmbias.statistics.figure1.RankingAnalysis` is written part by part
(:func:`ranking_parts`): the published specification's mixed model, the maximal mixed model,
the panel tests, the RM-level tests with the per-RM contrasts, the strength-of-evidence table
(:mod:`rmbias.statistics.evidence`) and the means, each as a record
through :func:`rmbias.records.write_statistics` (a skipped part as a record that says why);
every record names the RMs the family comparisons left out (:func:`left_out_content`).
:func:`figure1_statistics` (published scores) and :func:`own_figure1_statistics` (the configured
RMs) are the ``fig1_reanalysis`` and ``fig1_own`` jobs.
"""

from __future__ import annotations

import logging
from typing import Callable, Mapping

import pandas as pd

from rmbias.io import write_parquet
from rmbias.records import entries_from_table, statistics_record, write_statistics
from rmbias.statistics.evidence import strength_of_evidence
from rmbias.statistics.figure1 import CONTRAST, RankingAnalysis, analyse_own_scores, reanalyse_published_scores
from rmbias.statistics.maximal_model import MaximalModelFit, maximal_model_record
from rmbias.statistics.mixed_model import MixedModelFit, fixed_effect_entries
from rmbias.statistics.rm_level import contrast_categories, contrast_meanings, rm_level_record

logger = logging.getLogger(__name__)

MIXED_MODEL_COLUMNS = ("term", "estimate", "se", "df", "t", "p")
"""Columns of a mixed model's fixed-effects CSV (published and maximal), written without rows
when the model is not fitted."""


def _fixed_effects(fit: MixedModelFit | MaximalModelFit | None) -> pd.DataFrame:
    return pd.DataFrame(columns=list(MIXED_MODEL_COLUMNS)) if fit is None else fit.fixed_effects[list(MIXED_MODEL_COLUMNS)]


def mixed_model_record(fit: MixedModelFit, analysis: str) -> dict:
    """Record of the mixed model: one t test per fixed effect, the fit itself under ``model``."""
    return statistics_record(
        analysis,
        f"REML random-intercept model {fit.formula}: t test of each fixed effect (nlme df)",
        fixed_effect_entries(fit, "t (lme fixed effect)"),
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


def ranking_parts(analysis: RankingAnalysis, label: str) -> dict[str, tuple[str, Callable[[], dict], dict[str, pd.DataFrame]]]:
    """The written parts of ``analysis``: part -> (its name in words, a function building its
    record ``<label>_<part>`` when it was computed, {CSV output key: table}). The record goes to
    output key ``<part>_json``; a part in ``analysis.skipped`` gets a record without tests
    instead, and its tables have their columns and no rows."""
    fit, maximal = analysis.mixed_model, analysis.maximal_model
    categories = contrast_categories(analysis.rm_contrasts)
    return {
        "mixed_model": ("mixed model", lambda: mixed_model_record(fit, f"{label}_mixed_model"), {"mixed_model_csv": _fixed_effects(fit)}),
        "maximal_model": (
            "maximal mixed model",
            lambda: maximal_model_record(maximal, f"{label}_maximal_model"),
            {"maximal_model_csv": _fixed_effects(maximal)},
        ),
        "panel_tests": (
            "panel tests", lambda: panel_tests_record(analysis.panels, f"{label}_panel_tests"), {"panel_tests_csv": analysis.panels}
        ),
        "rm_level": (
            "RM-level tests",
            lambda: rm_level_record(analysis.rm_level, f"{label}_rm_level", contrast_columns=contrast_meanings(categories)),
            {"rm_level_csv": analysis.rm_level, "rm_contrasts_csv": analysis.rm_contrasts},
        ),
        "evidence": (
            "strength of evidence",
            lambda: statistics_record(
                f"{label}_evidence",
                "every family term under the published specification (random intercept, nlme df), the maximal model "
                "(random slopes per RM, between-RM df) and the RM-level tests over RM labels (exact permutation, Welch)",
                [],
            ),
            {"evidence_csv": strength_of_evidence(_fixed_effects(fit), _fixed_effects(maximal), analysis.rm_level,
                                                  None if maximal is None else maximal.singular)},
        ),
        "means": (
            "means",
            lambda: statistics_record(
                f"{label}_means",
                "mean over (RM, prompt) of the median rank per framing x category x base model",
                [],
                means=analysis.means.to_dict(orient="records"),
            ),
            {"means_csv": analysis.means},
        ),
    }


def left_out_content(analysis: RankingAnalysis) -> dict[str, object]:
    """Record content naming the RMs outside the compared families (``analysis.left_out``):
    ``n_left_out_rms`` (how many) and ``left_out_rms`` (family label -> RMs; empty when none),
    with the rule in words under ``left_out_rule``."""
    return {
        "n_left_out_rms": sum(len(rms) for rms in analysis.left_out.values()),
        "left_out_rms": {family: list(rms) for family, rms in analysis.left_out.items()},
        "left_out_rule": f"RMs of a family other than {' and '.join(CONTRAST)} are left out of every family comparison "
                         "(mixed models, panel tests, RM-level tests, means); they keep their observations and per-RM contrasts",
    }


def write_ranking_analysis(analysis: RankingAnalysis, outputs: Mapping[str, str], label: str) -> None:
    """Write the analysis: keys ``observations`` (parquet), ``mixed_model_json/csv``,
    ``maximal_model_json/csv``, ``evidence_json/csv``, ``panel_tests_json/csv``, ``rm_level_json/csv`` and ``rm_contrasts_csv``, ``means_json/csv``
    (:func:`ranking_parts`); ``label`` prefixes each record's ``analysis``. A skipped part is
    written as a record without tests whose ``skipped`` says why, and a CSV with the part's
    columns and no rows. Every record holds :func:`left_out_content`."""
    write_parquet(analysis.observations, outputs["observations"])
    left_out = left_out_content(analysis)
    for part, (name, record, tables) in ranking_parts(analysis, label).items():
        reason = analysis.skipped.get(part)
        written = statistics_record(f"{label}_{part}", f"{name} {reason}", [], skipped=reason, **left_out) if reason else {**record(), **left_out}
        write_statistics(written, outputs[f"{part}_json"], {outputs[key]: table for key, table in tables.items()})


def _log_analysis(analysis: RankingAnalysis) -> None:
    if analysis.mixed_model is not None:
        for warning in analysis.mixed_model.optimizer_warnings:
            logger.warning("mixed model: %s", warning)
    if analysis.maximal_model is not None and analysis.maximal_model.note:
        logger.warning("maximal model: %s", analysis.maximal_model.note)
    for part, reason in analysis.skipped.items():
        logger.warning("%s %s", part, reason)
    for family, rms in analysis.left_out.items():
        logger.info("%d %s RM(s) left out of the %s comparisons: %s", len(rms), family, " vs ".join(CONTRAST), ", ".join(rms))
    obs = analysis.observations
    logger.info("%d observations from %d RMs", len(obs), obs["rm"].nunique())


def figure1_statistics(outputs: Mapping[str, str], label: str, **reanalysis: object) -> RankingAnalysis:
    """The ``fig1_reanalysis`` job: :func:`~rmbias.statistics.figure1.reanalyse_published_scores` (``reanalysis`` are its
    arguments), then :func:`write_ranking_analysis` to ``outputs`` under ``label``."""
    analysis = reanalyse_published_scores(**reanalysis)
    write_ranking_analysis(analysis, outputs, label)
    _log_analysis(analysis)
    return analysis


def own_figure1_statistics(outputs: Mapping[str, str], label: str, **own: object) -> RankingAnalysis:
    """The ``fig1_own`` job: :func:`~rmbias.statistics.figure1.analyse_own_scores` (``own`` are its arguments), then
    :func:`write_ranking_analysis` to ``outputs`` under ``label``."""
    analysis = analyse_own_scores(**own)
    write_ranking_analysis(analysis, outputs, label)
    _log_analysis(analysis)
    return analysis
