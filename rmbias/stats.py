"""Every statistic of the paper, as pure functions over data frames.

Units: a *rank* is a position among the terms scored for one (model, prompt): 1 = highest
reward (or log-probability), ties get the average of the positions they span. A *median rank*
is the median of those ranks over the terms of one category; one median rank per
(model, prompt, category) is one observation of the analyses below.

Sections follow the paper:

- Figure 1 (Section 2): :func:`rm_median_ranks`, :func:`fit_random_intercept_model`
  (R's ``nlme::lme`` REML fit with nlme's degrees of freedom), :func:`panel_tests`
  (Welch and permutation t-tests, Bonferroni, Cohen's d), :func:`mean_rank_table`.
- Figure 2 (Section 3.1): :func:`logprob_median_ranks`, :func:`three_way_anova`,
  :func:`model_cell_welch_tests`.
- Top-k (Section 2): :func:`normalize_term`, :func:`top_k_by_category`.
- Figure 4 / Appendix G: :func:`checkpoint_kendall`, :func:`load_ablation_tables`.
- Output: :func:`stat_records` turns any result table into uniformly labelled records.

Nothing here reads or writes files except :func:`load_ablation_tables`, which reads the
published CSV files it is given.
"""

from __future__ import annotations

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.multitest import multipletests

from rmbias.corpora import normalize_term
from rmbias.io import InputError, sanitize_for_json

BASE_MODELS = ("Gemma", "Llama", "Qwen")
FIG1_FACTORS = ("base_model", "category", "framing")
FIG2_FACTORS = ("category", "valence", "model")
STAR_THRESHOLDS = ((0.001, "***"), (0.01, "**"), (0.05, "*"))


# --------------------------------------------------------------------------- names, tokens


def base_model_from_name(name: str) -> str:
    """Base-model family of a model name: "Gemma", "Llama" or "Qwen" (case-insensitive substring).

    Raises :class:`InputError` naming the model when no family (or more than one) matches.
    """
    matches = [family for family in BASE_MODELS if family.lower() in str(name).lower()]
    if len(matches) != 1:
        raise InputError(f"model {name!r}: cannot tell its base model (expected exactly one of gemma, llama, qwen in the name)")
    return matches[0]


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"{what}: missing column(s) {', '.join(missing)}")


def _valence_of(prompts: pd.Series, valence_by_prompt: Mapping[str, str]) -> pd.Series:
    unknown = sorted(set(prompts) - set(valence_by_prompt))
    if unknown:
        raise InputError(f"prompt {unknown[0]!r}: no valence in the prompt metadata")
    return prompts.map(valence_by_prompt)


# --------------------------------------------------------------------------- ranks


def long_scores(wide: pd.DataFrame, rm: str, corpus: pd.DataFrame) -> pd.DataFrame:
    """Melt a published wide score table and attach each response's dictionary categories.

    ``wide``: column ``response`` plus one reward column per prompt key (the published layout).
    ``corpus``: long table with ``term``, ``category``, ``dictionary``. Responses not in the
    corpus are dropped; a term in several categories appears once per category.
    Returns columns ``rm, prompt, term, category, dictionary, score`` (score = reward, float).
    """
    _require_columns(wide, ["response"], f"scores of {rm}")
    _require_columns(corpus, ["term", "category", "dictionary"], "corpus")
    melted = wide.melt(id_vars="response", var_name="prompt", value_name="score").rename(columns={"response": "term"})
    joined = melted.merge(corpus[["term", "category", "dictionary"]], on="term", how="inner")
    joined.insert(0, "rm", rm)
    return joined[["rm", "prompt", "term", "category", "dictionary", "score"]].reset_index(drop=True)


def median_category_ranks(frame: pd.DataFrame, unit: str, value: str) -> pd.DataFrame:
    """Median rank per (unit, prompt, category) of the terms, ranked within each (unit, prompt).

    ``frame`` is long: ``unit`` (model column), ``prompt``, ``term``, ``category``, ``value``.
    Each (unit, prompt) ranks every distinct term of the frame once (rank 1 = highest
    ``value``, ties averaged), whatever its categories; the median is then taken over the
    terms of each category. So the caller decides the ranking universe by what it passes
    (for MFD2: every term, virtue and vice) and, afterwards, which categories it analyses.
    Returns columns ``unit, prompt, category, median_rank`` (rank units, 1 = best).
    """
    _require_columns(frame, [unit, "prompt", "term", "category", value], "rank input")
    keys = [unit, "prompt", "term"]
    if frame.groupby(keys)[value].nunique(dropna=False).gt(1).any():
        raise InputError(f"rank input: a term has different {value} values in different categories")
    distinct = frame.drop_duplicates(keys)[keys + [value]].copy()
    distinct["rank"] = distinct.groupby([unit, "prompt"])[value].rank(ascending=False, method="average")
    ranked = frame[keys + ["category"]].merge(distinct[keys + ["rank"]], on=keys)
    medians = ranked.groupby([unit, "prompt", "category"], as_index=False)["rank"].median()
    return medians.rename(columns={"rank": "median_rank"})


def rm_median_ranks(scores: pd.DataFrame, valence_by_prompt: Mapping[str, str]) -> pd.DataFrame:
    """Figure 1 observations: one median rank per (rm, prompt, category).

    ``scores``: long frame ``rm, prompt, term, category, score`` (see :func:`long_scores`);
    ranking is over every term of the frame (see :func:`median_category_ranks`).
    Returns ``rm, base_model, prompt, framing, category, median_rank``.
    """
    medians = median_category_ranks(scores, unit="rm", value="score")
    medians["base_model"] = medians["rm"].map(base_model_from_name)
    medians["framing"] = _valence_of(medians["prompt"], valence_by_prompt)
    return medians[["rm", "base_model", "prompt", "framing", "category", "median_rank"]]


def logprob_median_ranks(logprobs: pd.DataFrame, valence_by_prompt: Mapping[str, str]) -> pd.DataFrame:
    """Figure 2 observations: one median log-prob rank per (model, prompt, category).

    ``logprobs``: long frame ``model, prompt, term, category, logprob``. Only terms that have a
    log-prob for every model are kept (the paper's "present in both vocabularies"); ranks are
    within (model, prompt), rank 1 = highest log-prob.
    Returns ``model, prompt, valence, category, median_rank``.
    """
    _require_columns(logprobs, ["model", "prompt", "term", "category", "logprob"], "log-prob input")
    present = logprobs.dropna(subset=["logprob"])
    models_per_term = present.groupby("term")["model"].nunique()
    shared = models_per_term.index[models_per_term == present["model"].nunique()]
    medians = median_category_ranks(present[present["term"].isin(shared)], unit="model", value="logprob")
    medians["valence"] = _valence_of(medians["prompt"], valence_by_prompt)
    return medians[["model", "prompt", "valence", "category", "median_rank"]]


# --------------------------------------------------------------------------- mixed model


@dataclass(frozen=True)
class MixedModelFit:
    """REML random-intercept fit, reported like R's ``summary(nlme::lme(...))``.

    ``fixed_effects``: one row per coefficient, columns ``term`` (R's name, e.g.
    ``base_modelLlama:categoryCommunion``), ``estimate``, ``se``, ``df``, ``t``, ``p``
    (two-sided, t distribution with nlme's df). Variances are in squared response units.
    """

    formula: str
    fixed_effects: pd.DataFrame
    random_intercept_var: float
    residual_var: float
    reml_loglik: float
    n_obs: int
    n_groups: int
    optimizer_warnings: tuple[str, ...] = ()


def nlme_fixed_effect_df(design: np.ndarray, groups: Sequence) -> np.ndarray:
    """Degrees of freedom of each fixed-effect column by ``nlme::lme``'s rule (one grouping level).

    ``design``: (N, p) fixed-effects design matrix; ``groups``: length-N group labels (m groups).
    A column constant over all rows is an intercept; a non-intercept column constant within
    every group is *between*-group, any other column *within*-group. Between columns get
    m - p_between - 1 (the 1 for an intercept), within columns N - m - p_within (+1 when the
    design has no intercept), and an intercept gets the larger of the two, as nlme's
    ``getFixDF`` does. Returns a float array of length p.
    """
    design = np.asarray(design, dtype=float)
    codes = pd.factorize(pd.Series(groups))[0]
    n_obs, n_groups = design.shape[0], codes.max() + 1
    tolerance = np.sqrt(np.finfo(float).eps)
    is_intercept = np.ptp(design, axis=0) < tolerance
    spread_within = pd.DataFrame(design).groupby(codes).agg(lambda column: np.ptp(column.to_numpy()))
    varies_within = (spread_within.to_numpy() >= tolerance).any(axis=0) & ~is_intercept
    is_between = ~is_intercept & ~varies_within
    has_intercept = bool(is_intercept.any())
    df_between = n_groups - is_between.sum() - (1 if has_intercept else 0)
    df_within = n_obs - n_groups - varies_within.sum() + (0 if has_intercept else 1)
    df = np.where(is_between, df_between, df_within).astype(float)
    df[is_intercept] = max(df_between, df_within)
    return df


def _r_term_name(patsy_name: str) -> str:
    """``base_model[T.Llama]:framing[T.positive]`` -> ``base_modelLlama:framingpositive``."""
    if patsy_name == "Intercept":
        return "(Intercept)"
    return re.sub(r"([A-Za-z_][A-Za-z0-9_.]*)\[T\.([^\]]*)\]", r"\1\2", patsy_name)


REML_OPTIMIZERS = ({"method": "bfgs", "gtol": 1e-10}, {"method": "powell"}, {"method": "lbfgs"})


def _best_reml_fit(model) -> tuple[object, list[str]]:
    """Fit ``model`` by REML with each of :data:`REML_OPTIMIZERS`; keep the highest finite log-likelihood.

    The REML surface of a random-intercept variance can be flat near zero, and a single
    optimizer may stop on the boundary (statsmodels' default L-BFGS does so on the Big Two
    data, where R finds an interior optimum). Returns the best fit and the warnings it raised.
    """
    fits = []
    for options in REML_OPTIMIZERS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = model.fit(reml=True, **options)
        if np.isfinite(result.llf):
            fits.append((result.llf, result, sorted({str(w.message).splitlines()[0] for w in caught})))
    if not fits:
        raise InputError(f"mixed model {model.endog_names} ~ ...: no optimizer reached a finite REML log-likelihood")
    _, best, caught = max(fits, key=lambda fit: fit[0])
    return best, caught


def fit_random_intercept_model(
    data: pd.DataFrame,
    response: str = "median_rank",
    factors: Sequence[str] = FIG1_FACTORS,
    group: str = "rm",
) -> MixedModelFit:
    """Fit ``response ~ f1 * f2 * ... + (1 | group)`` by REML (statsmodels ``mixedlm``).

    Factors use treatment coding with R's default reference level (the alphabetically first:
    Gemma, the first category, negative), so coefficient names read as in R. Degrees of
    freedom follow :func:`nlme_fixed_effect_df`; p-values are two-sided from the t
    distribution with those df (not statsmodels' normal z).
    """
    _require_columns(data, [response, group, *factors], "mixed-model input")
    frame = data[[response, group, *factors]].copy()
    for factor in factors:
        frame[factor] = pd.Categorical(frame[factor].astype(str), categories=sorted(frame[factor].astype(str).unique()))
    formula = f"{response} ~ {' * '.join(factors)}"
    model = smf.mixedlm(formula, frame, groups=frame[group])
    result, fit_warnings = _best_reml_fit(model)
    df = nlme_fixed_effect_df(model.exog, model.groups)
    estimate = result.fe_params.to_numpy()
    se = result.bse_fe.to_numpy()
    t = estimate / se
    table = pd.DataFrame(
        {
            "term": [_r_term_name(name) for name in model.exog_names],
            "estimate": estimate,
            "se": se,
            "df": df,
            "t": t,
            "p": 2 * stats.t.sf(np.abs(t), df),
        }
    )
    return MixedModelFit(
        formula=f"{formula} + (1 | {group})",
        fixed_effects=table,
        random_intercept_var=float(result.cov_re.iloc[0, 0]),
        residual_var=float(result.scale),
        reml_loglik=float(result.llf),
        n_obs=int(model.nobs),
        n_groups=int(model.n_groups),
        optimizer_warnings=tuple(fit_warnings),
    )


# --------------------------------------------------------------------------- two-group tests


def stars(p: float) -> str:
    """Significance stars: ``***`` p < .001, ``**`` < .01, ``*`` < .05, else ``ns``."""
    for threshold, label in STAR_THRESHOLDS:
        if p < threshold:
            return label
    return "ns"


def welch_t(first: np.ndarray, second: np.ndarray) -> tuple[float, float, float]:
    """Welch t-test of mean(second) - mean(first): (t, Welch-Satterthwaite df, two-sided p)."""
    result = stats.ttest_ind(second, first, equal_var=False)
    return float(result.statistic), float(result.df), float(result.pvalue)


def permutation_welch_p(first: np.ndarray, second: np.ndarray, n_resamples: int = 9999, seed: int = 0) -> float:
    """Two-sample permutation p-value of the Welch t statistic (two-sided).

    Group labels are reshuffled (scipy ``permutation_test``, independent samples, vectorised);
    when the number of distinct relabelings is at most ``n_resamples`` they are enumerated
    exactly. Two-sided p = twice the smaller one-sided tail proportion, capped at 1.
    """

    def welch_statistic(x: np.ndarray, y: np.ndarray, axis: int) -> np.ndarray:
        return stats.ttest_ind(y, x, equal_var=False, axis=axis).statistic

    result = stats.permutation_test(
        (np.asarray(first, float), np.asarray(second, float)),
        welch_statistic,
        permutation_type="independent",
        vectorized=True,
        n_resamples=n_resamples,
        rng=np.random.default_rng(seed),
    )
    return float(result.pvalue)


def cohens_d(first: np.ndarray, second: np.ndarray) -> dict[str, float]:
    """Cohen's d of mean(second) - mean(first) under both standardiser conventions.

    ``d_pooled``: SD = sqrt(((n1-1)s1² + (n2-1)s2²) / (n1+n2-2)); ``d_average``: SD =
    sqrt((s1² + s2²) / 2); s² are sample variances (ddof=1). Unitless.
    """
    first, second = np.asarray(first, float), np.asarray(second, float)
    n1, n2 = len(first), len(second)
    var1, var2 = first.var(ddof=1), second.var(ddof=1)
    difference = second.mean() - first.mean()
    pooled_sd = np.sqrt(((n1 - 1) * var1 + (n2 - 1) * var2) / (n1 + n2 - 2))
    average_sd = np.sqrt((var1 + var2) / 2)
    return {"d_pooled": float(difference / pooled_sd), "d_average": float(difference / average_sd)}


def _two_groups(cell: pd.DataFrame, group: str, levels: tuple[str, str], value: str) -> tuple[np.ndarray, np.ndarray]:
    samples = tuple(cell.loc[cell[group] == level, value].to_numpy(float) for level in levels)
    if min(len(sample) for sample in samples) < 2:
        raise InputError(f"two-group test: fewer than 2 observations of {levels} in a cell")
    return samples


def welch_by_cell(
    obs: pd.DataFrame, by: Sequence[str], group: str, levels: tuple[str, str], value: str = "median_rank"
) -> pd.DataFrame:
    """Welch t-test ``levels[1] - levels[0]`` within each cell of ``by``.

    Returns one row per cell: the ``by`` columns, ``n_<level>``, ``mean_<level>``, ``t``,
    ``df`` (Welch-Satterthwaite), ``p_welch`` (two-sided), ``contrast`` ("Llama - Gemma").
    """
    _require_columns(obs, [*by, group, value], "two-group test input")
    rows = []
    for keys, cell in obs.groupby(list(by), sort=True):
        first, second = _two_groups(cell, group, levels, value)
        t, df, p = welch_t(first, second)
        rows.append(
            {
                **dict(zip(by, keys)),
                f"n_{levels[0]}": len(first),
                f"n_{levels[1]}": len(second),
                f"mean_{levels[0]}": first.mean(),
                f"mean_{levels[1]}": second.mean(),
                "t": t,
                "df": df,
                "p_welch": p,
                "contrast": f"{levels[1]} - {levels[0]}",
            }
        )
    return pd.DataFrame(rows)


def panel_tests(
    obs: pd.DataFrame,
    panels: Sequence[str] = ("category", "framing"),
    group: str = "base_model",
    levels: tuple[str, str] = ("Gemma", "Llama"),
    value: str = "median_rank",
    n_resamples: int = 9999,
    seed: int = 0,
    star_p: str = "permutation",
) -> pd.DataFrame:
    """Figure 1 panel comparisons, Llama vs Gemma in each (category, framing) panel.

    Per panel: Welch t (statistic for Llama - Gemma, Welch-Satterthwaite df, parametric
    two-sided p), a permutation test of the Welch t (:func:`permutation_welch_p`), both
    Bonferroni-corrected over the panels (``p_*_bonferroni``), and Cohen's d under both
    conventions (:func:`cohens_d`, sign Llama - Gemma in rank units: negative = Llama ranks
    the category better). ``star_p`` ("permutation" or "welch") picks the corrected p that
    drives ``stars``; the choice is recorded in column ``star_p``.

    Note: the published R script takes ``MKinfer::perm.t.test(...)$p.value[1]``, which is the
    parametric Welch p, not the permutation p; ``star_p="welch"`` reproduces its stars.
    """
    if star_p not in ("permutation", "welch"):
        raise InputError(f"star_p: {star_p!r} is not one of permutation, welch")
    table = welch_by_cell(obs, panels, group, levels, value)
    permutation_p, effect_sizes = [], []
    for _, cell in obs.groupby(list(panels), sort=True):
        first, second = _two_groups(cell, group, levels, value)
        permutation_p.append(permutation_welch_p(first, second, n_resamples=n_resamples, seed=seed))
        effect_sizes.append(cohens_d(first, second))
    table["p_permutation"] = permutation_p
    table = pd.concat([table, pd.DataFrame(effect_sizes)], axis=1)
    for source in ("welch", "permutation"):
        table[f"p_{source}_bonferroni"] = multipletests(table[f"p_{source}"], method="bonferroni")[1]
    table["stars"] = table[f"p_{star_p}_bonferroni"].map(stars)
    table["star_p"] = f"{star_p} (bonferroni)"
    table["n_resamples"] = n_resamples
    table["seed"] = seed
    return table


def mean_rank_table(obs: pd.DataFrame, group: str = "base_model", levels: tuple[str, str] = ("Gemma", "Llama")) -> pd.DataFrame:
    """Mean of the median ranks per framing x category x base model, wide, with the difference.

    Returns columns ``framing, category, Gemma, Llama, Llama - Gemma`` (rank units).
    """
    _require_columns(obs, ["framing", "category", group, "median_rank"], "mean-table input")
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
) -> RankingAnalysis:
    """Figure 1 end to end: ranks over every term of ``scores``, then the analysed ``categories``.

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
        mixed_model=fit_random_intercept_model(obs),
        panels=panel_tests(obs, n_resamples=n_resamples, seed=seed, star_p=star_p),
        means=mean_rank_table(obs),
    )


# --------------------------------------------------------------------------- Figure 2


def three_way_anova(obs: pd.DataFrame, factors: Sequence[str] = FIG2_FACTORS, value: str = "median_rank") -> pd.DataFrame:
    """Type-II ANOVA of ``value ~ C(f1) * C(f2) * C(f3)`` (OLS), one row per term.

    Returns columns ``term`` (e.g. ``C(category):C(valence):C(model)``, ``Residual``),
    ``sum_sq``, ``df``, ``F``, ``p``.
    """
    _require_columns(obs, [value, *factors], "ANOVA input")
    formula = f"{value} ~ " + " * ".join(f"C({factor})" for factor in factors)
    table = sm.stats.anova_lm(smf.ols(formula, data=obs).fit(), typ=2)
    return table.rename(columns={"PR(>F)": "p"}).rename_axis("term").reset_index()


def model_cell_welch_tests(obs: pd.DataFrame, cells: Sequence[str] = ("valence", "category")) -> pd.DataFrame:
    """Figure 2 follow-ups: Welch t-test between the two models in each (valence, category) cell.

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


# --------------------------------------------------------------------------- top-k


def top_k_by_category(
    scores: pd.DataFrame, category_by_token: Mapping[str, str], k: int = 10
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Category make-up of each RM's k top-scoring tokens, and its base-model average.

    ``scores``: ``rm, decoded, score``; ``category_by_token``: normalized token
    (:func:`normalize_term`) -> category. Per RM the tokens are sorted by score (highest
    first, position 1..k); for each category: ``count`` of top-k tokens whose normalized form
    is in that category, and their ``mean_rank`` (mean position, NaN when none).
    Returns (per RM: ``rm, base_model, category, count, mean_rank``; per base model:
    ``base_model, category, mean_count, mean_rank`` = mean of counts and NaN-ignoring mean
    of the per-RM mean ranks).
    """
    _require_columns(scores, ["rm", "decoded", "score"], "top-k input")
    categories = sorted(set(category_by_token.values()))
    rows = []
    for rm, rm_scores in scores.groupby("rm", sort=True):
        top = rm_scores.sort_values("score", ascending=False, kind="stable").head(k)
        top_categories = top["decoded"].map(normalize_term).map(category_by_token).to_numpy()
        positions = np.arange(1, len(top) + 1)
        for category in categories:
            in_category = positions[top_categories == category]
            rows.append(
                {
                    "rm": rm,
                    "base_model": base_model_from_name(rm),
                    "category": category,
                    "count": len(in_category),
                    "mean_rank": in_category.mean() if len(in_category) else np.nan,
                }
            )
    per_rm = pd.DataFrame(rows)
    per_family = per_rm.groupby(["base_model", "category"], as_index=False).agg(
        mean_count=("count", "mean"), mean_rank=("mean_rank", "mean")
    )
    return per_rm, per_family


# --------------------------------------------------------------------------- checkpoints


def checkpoint_kendall(table: pd.DataFrame) -> pd.DataFrame:
    """Kendall tau-b between checkpoint score columns (rows = tokens, columns ``step-{N}``).

    Checkpoints are ordered by N. Per checkpoint: tau with the previous checkpoint
    (``tau_previous``, NaN for the first) and with the final one (``tau_final``, 1 for the
    final itself), with two-sided p-values. Rows missing either score are left out of a pair.
    Returns columns ``step, tau_previous, p_previous, tau_final, p_final``.
    """
    steps = sorted((int(match.group(1)), column) for column in table.columns if (match := re.fullmatch(r"step-(\d+)", str(column))))
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


@dataclass(frozen=True)
class AblationRun:
    """What a published ``rank_results_{label}.csv`` holds: preference data size (thousands), source, loss."""

    data_size_k: float
    data_source: str
    method: str


# Data sizes as the paper states them (Section 4.1: 13k, 26k, 53k, 106k Unified-Feedback; 77k
# Skywork). The GRM file's own ``data_size`` column says 85 (its final Skywork fine-tune
# only); the paper plots the GRMs at 632k ("more than 630k preferences": the Unified-Feedback
# stage plus Skywork), so that is the size used here.
PUBLISHED_ABLATIONS = {
    "uf_13": AblationRun(13, "uf", "BT"),
    "uf_27": AblationRun(26, "uf", "BT"),
    "uf_54": AblationRun(53, "uf", "BT"),
    "uf_100": AblationRun(106, "uf", "BT"),
    "sky_80k": AblationRun(77, "skywork", "BT"),
    "grm_80k": AblationRun(632, "uf+skywork", "GRM"),
}
# The published uf_13 and uf_27 files are byte-identical and their model ids say
# "unified27k": the content is the 26k run, so uf_27 is the copy to keep.
PUBLISHED_IDENTICAL_KEEP = ("uf_27",)
ABLATION_COLUMNS = ["model_id", "Category", "checkpoint", "base_model", "sum_value"]


def _read_ablation_csv(label: str, path: Path, content: bytes) -> pd.DataFrame:
    try:
        table = pd.read_csv(io.BytesIO(content))
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as err:
        raise InputError(f"{path}: not a readable CSV ({str(err).splitlines()[0]})") from err
    _require_columns(table, ABLATION_COLUMNS, str(path))
    table = table[ABLATION_COLUMNS].copy()
    missing_base = table["base_model"].isna()
    table.loc[missing_base, "base_model"] = table.loc[missing_base, "model_id"].map(base_model_from_name)
    table.insert(0, "label", label)
    return table


def load_ablation_tables(
    paths: Mapping[str, str | Path],
    runs: Mapping[str, AblationRun] = PUBLISHED_ABLATIONS,
    keep_on_identical: Sequence[str] = PUBLISHED_IDENTICAL_KEEP,
) -> tuple[pd.DataFrame, list[str]]:
    """Read the Figure 4b ablation tables, repair their duplication, keep each run's final checkpoint.

    ``paths``: label (e.g. ``uf_13``) -> ``rank_results_*.csv``; ``runs``: label -> its data
    size/source/method. Files with the same sha256 cannot all be what their labels say: of
    such a group only the label listed in ``keep_on_identical`` is kept (none if no member
    is listed). Repeated rows are dropped; a (model, category, checkpoint) with conflicting
    values is an :class:`InputError`. A missing ``base_model`` is inferred from ``model_id``.
    Returns (one row per run, model and category at its last checkpoint: ``label, model_id,
    base_model, method, data_source, data_size_k, category, checkpoint, median_rank``;
    warnings, one line each, naming the files concerned).
    """
    unknown = sorted(set(paths) - set(runs))
    if unknown:
        raise InputError(f"ablation table {unknown[0]!r}: no data size/source/method known for this label")
    contents = {}
    for label, path in paths.items():
        if not Path(path).exists():
            raise InputError(f"{path}: file does not exist")
        contents[label] = Path(path).read_bytes()
    warnings, dropped = [], set()
    digests = pd.Series({label: hashlib.sha256(content).hexdigest() for label, content in contents.items()})
    for digest, labels in digests.groupby(digests).groups.items():
        if len(labels) < 2:
            continue
        kept = [label for label in labels if label in keep_on_identical][:1]
        dropped.update(set(labels) - set(kept))
        names = ", ".join(Path(paths[label]).name for label in labels)
        outcome = f"kept {kept[0]}" if kept else "kept none"
        warnings.append(f"{names} are byte-identical (sha256 {digest[:12]}); {outcome}, dropped {', '.join(sorted(set(labels) - set(kept)))}")
    tables = []
    for label in (label for label in paths if label not in dropped):
        path = Path(paths[label])
        table = _read_ablation_csv(label, path, contents[label])
        repeated = int(table.duplicated().sum())
        if repeated:
            warnings.append(f"{path.name}: {repeated} repeated rows dropped ({len(table) - repeated} distinct)")
            table = table.drop_duplicates()
        if table.duplicated(["model_id", "Category", "checkpoint"]).any():
            raise InputError(f"{path}: a model/category/checkpoint has conflicting sum_value rows")
        tables.append(table)
    combined = pd.concat(tables, ignore_index=True)
    last = combined.groupby(["label", "model_id", "Category"])["checkpoint"].transform("max")
    final = combined[combined["checkpoint"] == last].rename(columns={"Category": "category", "sum_value": "median_rank"})
    run_info = pd.DataFrame([{"label": label, **vars(run)} for label, run in runs.items()])
    final = final.merge(run_info, on="label", how="left")
    columns = ["label", "model_id", "base_model", "method", "data_source", "data_size_k", "category", "checkpoint", "median_rank"]
    return final[columns].reset_index(drop=True), warnings


# --------------------------------------------------------------------------- output records


def stat_records(
    frame: pd.DataFrame,
    *,
    analysis: str,
    test: str,
    statistic: str,
    p: str,
    df: str | None = None,
    correction: str = "none",
) -> list[dict]:
    """Result table -> JSON-ready records with the uniform keys of ``results/stats/``.

    ``statistic``, ``p`` and ``df`` name columns of ``frame``; each record has ``analysis,
    test, statistic, df, p, correction`` followed by every other column of ``frame`` as a
    free key. NaN and inf become None.
    """
    named = [statistic, p] + ([df] if df else [])
    _require_columns(frame, named, f"records of {analysis}")
    extra = frame.drop(columns=named)
    records = []
    for index in range(len(frame)):
        record = {
            "analysis": analysis,
            "test": test,
            "statistic": frame[statistic].iloc[index],
            "df": frame[df].iloc[index] if df else None,
            "p": frame[p].iloc[index],
            "correction": correction,
        }
        record.update(extra.iloc[index].to_dict())
        records.append(sanitize_for_json(record))
    return records
