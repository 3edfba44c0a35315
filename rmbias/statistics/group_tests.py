"""Group comparisons: Welch and permutation t-tests, Cohen's d, panel tests, ANOVA, stars.

All tests compare observations in the data's own units (median-rank units in the paper); a
two-group contrast is always ``levels[1] - levels[0]`` (e.g. Llama - Gemma).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.stats.multitest import multipletests

from rmbias.frames import require_columns
from rmbias.io import InputError
from rmbias.models.families import CONTRAST_FAMILIES

STAR_THRESHOLDS = ((0.001, "***"), (0.01, "**"), (0.05, "*"))


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
    require_columns(obs, [*by, group, value], "two-group test input")
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


def panel_test_columns(
    panels: Sequence[str] = ("category", "framing"), levels: tuple[str, str] = CONTRAST_FAMILIES
) -> list[str]:
    """The columns of a :func:`panel_tests` table, in order."""
    return [
        *panels,
        *(f"{stat}_{level}" for stat in ("n", "mean") for level in levels),
        "t", "df", "p_welch", "contrast", "p_permutation", "d_pooled", "d_average",
        "p_welch_bonferroni", "p_permutation_bonferroni", "stars", "star_p", "n_resamples", "seed",
    ]


def panel_tests(
    obs: pd.DataFrame,
    panels: Sequence[str] = ("category", "framing"),
    group: str = "base_model",
    levels: tuple[str, str] = CONTRAST_FAMILIES,
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
    return table[panel_test_columns(panels, levels)]


def three_way_anova(obs: pd.DataFrame, factors: Sequence[str], value: str = "median_rank") -> pd.DataFrame:
    """Type-II ANOVA of ``value ~ C(f1) * C(f2) * C(f3)`` (OLS), one row per term.

    Returns columns ``term`` (e.g. ``C(category):C(framing):C(model)``, ``Residual``),
    ``sum_sq``, ``df``, ``F``, ``p``.
    """
    require_columns(obs, [value, *factors], "ANOVA input")
    formula = f"{value} ~ " + " * ".join(f"C({factor})" for factor in factors)
    table = sm.stats.anova_lm(smf.ols(formula, data=obs).fit(), typ=2)
    return table.rename(columns={"PR(>F)": "p"}).rename_axis("term").reset_index()
