"""Figure 1 / A1 reanalysis of published reward-model scores: load, analyse, write.

Reads the published wide score files (column ``response`` + one column per prompt key), joins
them with a dictionary's long table, runs :func:`rmbias.stats.analyse_rm_rankings` and writes
every statistic as JSON and CSV with the uniform labels of ``results/stats/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

import pandas as pd

from rmbias.io import InputError, read_parquet, read_wide_scores, write_csv, write_json, write_parquet
from rmbias.stats import RankingAnalysis, analyse_rm_rankings, long_scores, stat_records

MFD_SCHEMES = ("published_script", "virtue")


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
    )


def write_ranking_analysis(analysis: RankingAnalysis, outputs: Mapping[str, str], label: str) -> None:
    """Write the analysis: keys ``observations`` (parquet), ``mixed_model_json/csv``,
    ``panel_tests_json/csv``, ``means_json/csv``; ``label`` names the analysis in the records."""
    fit = analysis.mixed_model
    fixed = fit.fixed_effects
    write_parquet(analysis.observations, outputs["observations"])
    write_csv(fixed, outputs["mixed_model_csv"])
    write_json(
        {
            "analysis": f"{label}_mixed_model",
            "formula": fit.formula,
            "method": "REML, random intercept per RM (statsmodels MixedLM); df by nlme::lme's rule",
            "random_intercept_var": fit.random_intercept_var,
            "residual_var": fit.residual_var,
            "reml_loglik": fit.reml_loglik,
            "n_obs": fit.n_obs,
            "n_groups": fit.n_groups,
            "optimizer_warnings": list(fit.optimizer_warnings),
            "fixed_effects": stat_records(
                fixed, analysis=f"{label}_mixed_model", test="t (lme fixed effect)", statistic="t", p="p", df="df"
            ),
        },
        outputs["mixed_model_json"],
    )
    panels = analysis.panels
    write_csv(panels, outputs["panel_tests_csv"])
    write_json(
        stat_records(
            panels,
            analysis=f"{label}_panel_tests",
            test="Welch t; permutation test of the Welch t",
            statistic="t",
            p="p_permutation",
            df="df",
            correction="bonferroni over panels (p_welch_bonferroni, p_permutation_bonferroni); "
            f"stars from {panels['star_p'].iloc[0]}",
        ),
        outputs["panel_tests_json"],
    )
    write_csv(analysis.means, outputs["means_csv"])
    write_json(
        {
            "analysis": f"{label}_means",
            "description": "mean over (RM, prompt) of the median rank per framing x category x base model",
            "rows": analysis.means.to_dict(orient="records"),
        },
        outputs["means_json"],
    )
