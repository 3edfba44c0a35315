"""The REML random-intercept model of Figure 1, reported like R's ``summary(nlme::lme(...))``.

:func:`fit_random_intercept_model` fits ``median_rank ~ base_model * category * framing +
(1 | rm)`` with statsmodels' ``mixedlm`` in the authors' parameterization (their R script's
``lme(sum_value ~ base_model*Category*prompt_framing, random = ~1|model_id)``: reference levels
Gemma, the alphabetically first category, positive framing) and names each coefficient as R
prints it with the authors' variable names (:func:`r_term_name`, e.g.
``base_modelLlama:CategoryCommunion:prompt_framingnegative``). Degrees of freedom follow nlme's
rule (:func:`nlme_fixed_effect_df`), so every number can be laid beside ``nlme::lme``'s output
(``tests/test_stats_r.py`` does).
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import stats

from rmbias.frames import require_columns
from rmbias.io import InputError
from rmbias.records import entries_from_table

FIG1_FACTORS = ("base_model", "category", "framing")
"""The crossed fixed factors of the Figure 1 model (data columns)."""

FIG1_R_NAMES = {"base_model": "base_model", "category": "Category", "framing": "prompt_framing"}
"""The authors' R variable name of each Figure 1 factor (Big Two; their MFD model names the
category ``MFD_category``, :data:`MFD_CATEGORY_R_NAME`). Term names are built from these."""

MFD_CATEGORY_R_NAME = "MFD_category"
"""The authors' R name of the category factor of the MFD2 model."""

FIG1_REFERENCE_LEVELS = {"framing": "positive"}
"""Reference levels of the Figure 1 factors that are not R's alphabetical default: the authors
declare ``prompt_framing`` with levels ``c("positive", "negative")``. Base model (Gemma) and
category (Agency; Authority / Authority_Virtue for MFD2) keep the alphabetically first level."""


@dataclass(frozen=True)
class MixedModelFit:
    """REML random-intercept fit, reported like R's ``summary(nlme::lme(...))``.

    ``fixed_effects``: one row per coefficient, columns ``term`` (R's name, e.g.
    ``base_modelLlama:CategoryCommunion``), ``estimate``, ``se``, ``df``, ``t``, ``p``
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


def fixed_effect_column_kinds(design: np.ndarray, groups: Sequence) -> np.ndarray:
    """Kind of each fixed-effect column with respect to one grouping factor.

    ``design``: (N, p) fixed-effects design matrix; ``groups``: length-N group labels. A column
    constant over all rows is ``"intercept"``; a non-intercept column constant within every
    group is ``"between"`` (group-level, e.g. an RM's base model), any other column
    ``"within"``. Returns a string array of length p.
    """
    design = np.asarray(design, dtype=float)
    codes = pd.factorize(pd.Series(groups))[0]
    tolerance = np.sqrt(np.finfo(float).eps)
    is_intercept = np.ptp(design, axis=0) < tolerance
    spread_within = pd.DataFrame(design).groupby(codes).agg(lambda column: np.ptp(column.to_numpy()))
    varies_within = (spread_within.to_numpy() >= tolerance).any(axis=0) & ~is_intercept
    return np.where(is_intercept, "intercept", np.where(varies_within, "within", "between"))


def nlme_fixed_effect_df(design: np.ndarray, groups: Sequence) -> np.ndarray:
    """Degrees of freedom of each fixed-effect column by ``nlme::lme``'s rule (one grouping level).

    ``design``: (N, p) fixed-effects design matrix; ``groups``: length-N group labels (m groups).
    Columns are intercept, between- or within-group (:func:`fixed_effect_column_kinds`).
    Between columns get m - p_between - 1 (the 1 for an intercept), within columns
    N - m - p_within (+1 when the design has no intercept), and an intercept gets the larger
    of the two, as nlme's ``getFixDF`` does. Returns a float array of length p.
    """
    kinds = fixed_effect_column_kinds(design, groups)
    n_obs, n_groups = np.shape(design)[0], pd.Series(groups).nunique()
    has_intercept = bool((kinds == "intercept").any())
    df_between = n_groups - (kinds == "between").sum() - (1 if has_intercept else 0)
    df_within = n_obs - n_groups - (kinds == "within").sum() + (0 if has_intercept else 1)
    df = np.where(kinds == "between", df_between, df_within).astype(float)
    df[kinds == "intercept"] = max(df_between, df_within)
    return df


def r_term_name(patsy_name: str) -> str:
    """``base_model[T.Llama]:prompt_framing[T.negative]`` -> ``base_modelLlama:prompt_framingnegative``."""
    if patsy_name == "Intercept":
        return "(Intercept)"
    return re.sub(r"([A-Za-z_][A-Za-z0-9_.]*)\[T\.([^\]]*)\]", r"\1\2", patsy_name)


def coded_factor_frame(
    data: pd.DataFrame,
    response: str,
    factors: Sequence[str],
    group: str,
    reference_levels: Mapping[str, str],
    r_names: Mapping[str, str],
) -> tuple[pd.DataFrame, str]:
    """The model frame of a Figure 1 model and its fixed-effects formula, factors coded as R codes them.

    Returns a frame with ``response``, ``group`` and each factor under its R name
    (``r_names[factor]``, default the column name) as a categorical whose first category is the
    reference level of treatment coding: ``reference_levels[factor]`` when given (entries for
    factors not in ``factors`` are ignored), else R's default, the alphabetically first level;
    and the formula ``response ~ f1 * f2 * ...`` in those names.
    """
    require_columns(data, [response, group, *factors], "mixed-model input")
    names = {factor: r_names.get(factor, factor) for factor in factors}
    frame = data[[response, group]].copy()
    for factor in factors:
        values = data[factor].astype(str)
        levels = sorted(values.unique())
        reference = reference_levels.get(factor, levels[0])
        if reference not in levels:
            raise InputError(f"mixed model: reference level {reference!r} of {factor!r} is not among its levels {levels}")
        frame[names[factor]] = pd.Categorical(values, categories=[reference, *(level for level in levels if level != reference)])
    return frame, f"{response} ~ {' * '.join(names[factor] for factor in factors)}"


def fixed_effect_table(patsy_names: Sequence[str], estimate: np.ndarray, se: np.ndarray, df: np.ndarray) -> pd.DataFrame:
    """The fixed-effects table of a model: ``term`` (R's name, :func:`r_term_name`), ``estimate``,
    ``se`` (response units), ``df``, ``t`` and ``p`` (two-sided, t distribution with ``df``)."""
    t = np.asarray(estimate) / np.asarray(se)
    return pd.DataFrame(
        {
            "term": [r_term_name(name) for name in patsy_names],
            "estimate": estimate,
            "se": se,
            "df": df,
            "t": t,
            "p": 2 * stats.t.sf(np.abs(t), df),
        }
    )


REML_OPTIMIZERS = ({"method": "bfgs", "gtol": 1e-10}, {"method": "powell"}, {"method": "lbfgs"})


def _best_reml_fit(model) -> tuple[object, list[str]]:
    """Fit ``model`` by REML with each of :data:`REML_OPTIMIZERS`; keep the highest finite log-likelihood.

    The REML surface of a random-intercept variance can be flat near zero, and a single
    optimizer may stop on the boundary (statsmodels' default L-BFGS does so on the Big Two
    data, where R finds an interior optimum). An optimizer that fails outright (statsmodels'
    L-BFGS raises on a singular Hessian in small designs) counts as one that did not reach a
    finite optimum. Returns the best fit and the warnings it raised.
    """
    fits = []
    for options in REML_OPTIMIZERS:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = model.fit(reml=True, **options)
            except np.linalg.LinAlgError:
                continue
        if np.isfinite(result.llf):
            fits.append((result.llf, result, sorted({str(w.message).splitlines()[0] for w in caught})))
    if not fits:
        raise InputError(f"mixed model {model.endog_names} ~ ...: no optimizer reached a finite REML log-likelihood")
    _, best, caught = max(fits, key=lambda fit: fit[0])
    return best, caught


def fixed_effect_entries(fit, test: str) -> list[dict]:
    """One statistics-record test entry per fixed effect of ``fit`` (a :class:`MixedModelFit` or a
    maximal fit: ``fixed_effects`` with term, estimate, se, df, t, p; ``n_obs``, ``n_groups``), named
    ``test``, with the numbers of observations and RMs as its inputs."""
    fixed = fit.fixed_effects.assign(n_obs=fit.n_obs, n_groups=fit.n_groups)
    return entries_from_table(fixed, test=test, statistic="t", p="p", df="df", term="term", estimate="estimate", se="se",
                              inputs=["n_obs", "n_groups"])


def fit_random_intercept_model(
    data: pd.DataFrame,
    response: str = "median_rank",
    factors: Sequence[str] = FIG1_FACTORS,
    group: str = "rm",
    reference_levels: Mapping[str, str] = FIG1_REFERENCE_LEVELS,
    r_names: Mapping[str, str] = FIG1_R_NAMES,
) -> MixedModelFit:
    """Fit ``response ~ f1 * f2 * ... + (1 | group)`` by REML (statsmodels ``mixedlm``).

    Factors use treatment coding; a factor's reference level is ``reference_levels[factor]``
    when given (entries for factors not in ``factors`` are ignored), else R's default, the
    alphabetically first level. ``r_names`` maps a data column to the variable name R's
    formula uses (default: the column name), so terms read as R prints them. Degrees of
    freedom follow :func:`nlme_fixed_effect_df`; p-values are two-sided from the t
    distribution with those df (not statsmodels' normal z).
    """
    frame, formula = coded_factor_frame(data, response, factors, group, reference_levels, r_names)
    model = smf.mixedlm(formula, frame, groups=frame[group])
    result, fit_warnings = _best_reml_fit(model)
    df = nlme_fixed_effect_df(model.exog, model.groups)
    table = fixed_effect_table(model.exog_names, result.fe_params.to_numpy(), result.bse_fe.to_numpy(), df)
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
