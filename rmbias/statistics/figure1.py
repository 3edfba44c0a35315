"""Figure 1 / A1: median word ranks of reward models by base model, from score files to statistics.

One path serves the published RM scores and the workflow's own: :func:`figure1_observations`
takes wide score tables (column ``response`` + one reward column per prompt key) with each RM's
base-model family, joins them with a dictionary's long table and ranks the terms
(:func:`rmbias.statistics.ranks.rm_median_ranks`); :func:`analyse_observations` fits the mixed model
(:func:`rmbias.statistics.mixed_model.fit_random_intercept_model`) and the maximal model
(:func:`rmbias.statistics.maximal_model.fit_maximal_model`), runs the panel tests
(:func:`rmbias.statistics.group_tests.panel_tests`), the per-RM contrasts and their RM-level tests
(:mod:`rmbias.statistics.rm_level`) and the means table; :mod:`rmbias.statistics.figure1_outputs`
writes them. The published files are read by
:func:`reanalyse_published_scores`, the workflow's own dictionary-scope tables
(``results/rm_scores/dictionary/{rm}.parquet``) by :func:`analyse_own_scores`.

Which RMs a family comparison sees: the Llama and the Gemma RMs (:data:`CONTRAST`), whatever
else is configured. An RM of another family (a configured Qwen RM) keeps its observations (the
figure's points, the value profiles) and its row of per-RM contrasts, but both mixed models,
the panel tests, the RM-level tests and the means table are computed without it, so every
family term stays the Llama - Gemma contrast the paper reports, and a third family neither
joins a side nor enters the residual and random-effect variances the family terms are tested
against. ``RankingAnalysis.left_out`` names those RMs, and every record of the analysis says so
(:mod:`rmbias.statistics.figure1_outputs`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from rmbias.config import PAPER_PROMPT_KEY
from rmbias.frames import require_columns
from rmbias.io import InputError, read_parquet, read_wide_scores
from rmbias.models.families import CONTRAST_FAMILIES, family_label, family_of_published_rm, outside_contrast
from rmbias.statistics.group_tests import panel_test_columns, panel_tests
from rmbias.statistics.maximal_model import MaximalModelFit, fit_maximal_model
from rmbias.statistics.mixed_model import (
    FIG1_R_NAMES,
    FIG1_REFERENCE_LEVELS,
    MFD_CATEGORY_R_NAME,
    MixedModelFit,
    fit_random_intercept_model,
)
from rmbias.statistics.ranks import long_scores, rm_median_ranks
from rmbias.statistics.rm_level import rm_contrasts, rm_level_stars, rm_level_test_columns, rm_level_tests

logger = logging.getLogger(__name__)

CONTRAST = CONTRAST_FAMILIES
"""The two base-model families Figure 1 compares; differences are ``CONTRAST[1] - CONTRAST[0]``."""

MFD_SCHEMES = ("published_script", "virtue")

STAR_P_SOURCES = ("permutation", "welch", "rm_level")
"""Values of ``reanalysis.star_p`` / ``own_star_p``: the Bonferroni-corrected permutation or Welch p
of the panel tests, or the Holm-corrected exact permutation p over RM labels of each panel's
cell mean (:func:`rmbias.statistics.rm_level.rm_level_stars`)."""


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
    """Everything Figure 1 reports for one dictionary: observations, model, panels, per-RM
    contrasts and their RM-level tests, means.

    ``mixed_model`` (the published specification) and ``maximal_model`` (random slopes per RM,
    :mod:`rmbias.statistics.maximal_model`) are None when not fitted, ``panels`` / ``rm_level``
    empty (with their columns) when not tested; ``skipped`` then says why, per part (keys
    ``mixed_model``, ``maximal_model``, ``panel_tests``, ``rm_level``). ``rm_contrasts`` (one
    row per RM, of every family) is always computed. ``left_out``: family label -> the RMs of
    that family outside :data:`CONTRAST`, left out of every family comparison (empty when
    there are none). A further part is one more field here, its reason in
    :func:`analysis_gaps` when it can be skipped, its computation in :func:`analyse_observations`
    and its entry in :func:`rmbias.statistics.figure1_outputs.ranking_parts`.
    """

    observations: pd.DataFrame
    mixed_model: MixedModelFit | None
    panels: pd.DataFrame
    means: pd.DataFrame
    skipped: Mapping[str, str]
    rm_contrasts: pd.DataFrame
    rm_level: pd.DataFrame
    maximal_model: MaximalModelFit | None
    left_out: Mapping[str, Sequence[str]]


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
    obs = rm_median_ranks(scores, {key: prompt["framing"] for key, prompt in prompts.items()}, family_by_rm)
    if categories is not None:
        obs = obs[obs["category"].isin(categories)].reset_index(drop=True)
    return obs


def analysis_gaps(obs: pd.DataFrame, levels: tuple[str, str] = CONTRAST) -> dict[str, str]:
    """Why the mixed models, the panel tests or the RM-level tests cannot be computed from ``obs``
    (empty: all can).

    Both mixed models need at least two base families and at least 2 RMs in every family
    present (a family of one RM is confounded with its random intercept and slopes); the panel tests need
    at least 2 RMs in both families of ``levels`` (with one, no Llama - Gemma contrast exists);
    the RM-level tests at least 1 RM in both.
    """
    rms = obs.groupby("base_model")["rm"].nunique()
    counts = ", ".join(f"{family} {n}" for family, n in rms.items())
    gaps = {}
    if len(rms) < 2 or rms.min() < 2:
        gaps["mixed_model"] = f"not fitted: needs at least 2 base families with at least 2 RMs each (RMs per family: {counts})"
        gaps["maximal_model"] = gaps["mixed_model"]
    if any(rms.get(level, 0) < 2 for level in levels):
        gaps["panel_tests"] = f"not tested: needs at least 2 RMs of each of {' and '.join(levels)} (RMs per family: {counts})"
    if any(rms.get(level, 0) < 1 for level in levels):
        gaps["rm_level"] = f"not tested: needs at least 1 RM of each of {' and '.join(levels)} (RMs per family: {counts})"
    return gaps


def analyse_observations(
    obs: pd.DataFrame,
    n_resamples: int = 9999,
    seed: int = 0,
    star_p: str = "permutation",
    category_r_name: str = FIG1_R_NAMES["category"],
    reference_category: str | None = None,
) -> RankingAnalysis:
    """Mixed models, panel tests, per-RM contrasts, RM-level tests and means of Figure 1
    observations (:func:`figure1_observations`); the parts :func:`analysis_gaps` rules out are
    skipped, with the reason in ``skipped``. The family comparisons see the RMs of
    :data:`CONTRAST` only; the per-RM contrasts every RM (``left_out``: the others).

    ``category_r_name`` is the category factor's name in the mixed model's terms (the
    authors' ``Category`` for the Big Two, ``MFD_category`` for MFD2; :func:`category_r_name`; a
    lexicon's ``category_name``), ``reference_category`` its reference level in the models and the
    per-RM contrasts (default: the alphabetically first category).
    ``star_p`` (:data:`STAR_P_SOURCES`) picks the p behind the panels' stars; ``n_resamples``
    and ``seed`` serve the panel permutations and a Monte Carlo RM-level test alike.
    """
    if star_p not in STAR_P_SOURCES:
        raise InputError(f"star_p: {star_p!r} is not one of {', '.join(STAR_P_SOURCES)}")
    family_by_rm = dict(obs.drop_duplicates("rm")[["rm", "base_model"]].itertuples(index=False, name=None))
    compared = obs[obs["base_model"].isin(CONTRAST)]
    skipped = analysis_gaps(compared)
    contrasts = rm_contrasts(obs, reference_category)
    reference_levels = {**FIG1_REFERENCE_LEVELS, **({"category": reference_category} if reference_category else {})}
    rm_level = (
        pd.DataFrame(columns=rm_level_test_columns())
        if "rm_level" in skipped
        else rm_level_tests(contrasts, category_r_name=category_r_name, n_resamples=n_resamples, seed=seed)
    )
    panels = (
        pd.DataFrame(columns=panel_test_columns())
        if "panel_tests" in skipped
        else panel_tests(compared, n_resamples=n_resamples, seed=seed, star_p="permutation" if star_p == "rm_level" else star_p)
    )
    if star_p == "rm_level" and not panels.empty:
        panels = rm_level_stars(panels, rm_level)
    r_names = {**FIG1_R_NAMES, "category": category_r_name}
    return RankingAnalysis(
        observations=obs,
        mixed_model=None if "mixed_model" in skipped else fit_random_intercept_model(compared, reference_levels=reference_levels, r_names=r_names),
        panels=panels,
        means=mean_rank_table(obs),
        skipped=skipped,
        rm_contrasts=contrasts,
        rm_level=rm_level,
        maximal_model=None if "maximal_model" in skipped else fit_maximal_model(compared, reference_levels=reference_levels, r_names=r_names),
        left_out=outside_contrast(family_by_rm),
    )


def category_r_name(mfd_scheme: str | None) -> str:
    """The mixed model's name of the category factor: ``Category`` (Big Two, ``mfd_scheme`` None)
    or ``MFD_category`` (MFD2), as in the authors' R models."""
    return FIG1_R_NAMES["category"] if mfd_scheme is None else MFD_CATEGORY_R_NAME


def analysis_corpus(corpus: pd.DataFrame, mfd_scheme: str | None) -> tuple[pd.DataFrame, list[str]]:
    """The corpus and the categories the Figure 1 analysis uses.

    Big Two or any other lexicon (``mfd_scheme=None``): every category. MFD2, ``virtue`` (the paper's text): every
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


def check_published_prompt_keys(path: str | Path, prompt_keys: Sequence[str]) -> None:
    """Raise an :class:`InputError` naming the published score file ``path`` and the first of
    ``prompt_keys`` that is not of the paper's shape (:data:`rmbias.config.PAPER_PROMPT_KEY`), so
    cannot be one of its columns (a key of that shape the file lacks is reported by
    :func:`rmbias.io.read_wide_scores`)."""
    for key in prompt_keys:
        if not PAPER_PROMPT_KEY.fullmatch(key):
            raise InputError(f"{path}: prompt key {key!r} is not a published score column (those are the paper's keys "
                             "{adjective}_{superlative}_{concision}); the published scores are analysed with the paper's prompts")


def read_published_scores(path: str | Path, prompt_keys: Sequence[str]) -> pd.DataFrame:
    """A published score file (:func:`rmbias.io.read_wide_scores`) whose every response has a
    finite score on every one of ``prompt_keys``: an empty cell would be a NaN rank that
    ``n_ranked`` still counts. Raises :class:`InputError` naming the file, the first such row (its
    line in the file) and the prompt."""
    table = read_wide_scores(path, prompt_keys)
    scores = table[list(prompt_keys)].to_numpy(dtype=float)
    rows, columns = np.nonzero(~np.isfinite(scores))
    if len(rows):
        raise InputError(f"{path}: line {rows[0] + 2} (response {table['response'].iat[rows[0]]!r}) has no finite score "
                         f"for prompt {prompt_keys[columns[0]]} ({len(rows)} such cell(s)); the reanalysis needs every score")
    return table


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
    each RM's family is read from its name (:func:`rmbias.models.families.family_of_published_rm`).
    The files' prompt columns are the paper's keys: ``prompts`` must be some of them
    (:func:`check_published_prompt_keys`), each of them scored for every response
    (:func:`read_published_scores`)."""
    for path in score_paths.values():
        check_published_prompt_keys(path, prompts)
    corpus, categories = analysis_corpus(read_parquet(corpus_path, columns=["term", "category", "dictionary"]), mfd_scheme)
    wide = {rm: read_published_scores(path, list(prompts)) for rm, path in score_paths.items()}
    families = {rm: family_of_published_rm(rm) for rm in wide}
    return _analyse_wide_scores(wide, families, corpus, categories, prompts, category_r_name(mfd_scheme), None,
                                n_permutations, seed, star_p)


def _analyse_wide_scores(wide: Mapping[str, pd.DataFrame], families: Mapping[str, str], corpus: pd.DataFrame,
                         categories: Sequence[str], prompts: Mapping[str, Mapping[str, str]], category_name: str,
                         reference_category: str | None, n_permutations: int, seed: int, star_p: str) -> RankingAnalysis:
    """The Figure 1 analysis both sources share: :func:`figure1_observations` of ``wide`` (RM → wide
    score table) with ``families`` (RM → family label), then :func:`analyse_observations`."""
    obs = figure1_observations(wide, families, corpus, prompts, categories)
    return analyse_observations(obs, n_resamples=n_permutations, seed=seed, star_p=star_p,
                                category_r_name=category_name, reference_category=reference_category)


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
    category_name: str | None = None,
    reference_category: str | None = None,
) -> RankingAnalysis:
    """Figure 1 analysis of the configured RMs: ``score_paths`` maps RM id → its dictionary-scope
    score table (parquet), ``families`` RM id → its config ``family`` key (``llama``).

    The corpus is any lexicon's (:mod:`rmbias.corpora.dictionaries`): ``mfd_scheme`` applies to
    MFD2 only (None: every category of the lexicon is analysed); ``category_name`` is the
    lexicon's category factor name (default :func:`category_r_name` of ``mfd_scheme``) and
    ``reference_category`` its reference level (default: the alphabetically first category).

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
    return _analyse_wide_scores(wide, labels, corpus, categories, prompts, category_name or category_r_name(mfd_scheme),
                                reference_category, n_permutations, seed, star_p)
