"""The maximal mixed model of Figure 1: a random slope per RM for every term that varies within an RM.

The published specification (:mod:`rmbias.statistics.mixed_model`) gives each RM a random
intercept only, so the prompts of a framing (27 in the paper) count as that many independent
replications of the family effect. :func:`fit_maximal_model` fits, beside it, ``median_rank ~ base_model * Category *
prompt_framing + (1 + Category * prompt_framing | rm)``: every category x framing effect varies
from RM to RM, with an unstructured covariance, by REML, in the authors' parameterization and
term names (:func:`rmbias.statistics.mixed_model.coded_factor_frame`,
:func:`~rmbias.statistics.mixed_model.r_term_name`), reported like ``summary(lmerTest::lmer(...))``
(``tests/test_stats_r.py`` lays it beside lme4 + lmerTest).

How it is fitted: statsmodels' ``mixedlm(..., re_formula=...)`` builds the model (fixed design X,
random-effects design Z, groups), and its REML criterion is minimised in lme4's formulation:
over the relative Cholesky factor Lambda of the random-effects covariance (Sigma = sigma^2
Lambda Lambda'), the fixed effects and sigma^2 profiled out, with an analytic gradient and
L-BFGS-B under lme4's bounds (diagonal of Lambda >= 0). That criterion is statsmodels' REML
log-likelihood (the same number at every Lambda), but it stays well conditioned where Sigma is
singular, which statsmodels' own fit (it inverts Sigma) is not: on the published data it stops
3.6 (Big Two, unconverged) and 24 (MFD) REML log-likelihood units below lme4's optimum, which
this fit reaches, in well under a second per fit. Two starts, the moment
estimate (per-RM least squares, :func:`_moment_start`) and lme4's identity start, are tried and
the higher REML log-likelihood kept (the surface of a singular fit has several local optima).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import linalg, optimize

from rmbias.io import InputError
from rmbias.records import statistics_record
from rmbias.statistics.mixed_model import (
    FIG1_FACTORS,
    FIG1_R_NAMES,
    FIG1_REFERENCE_LEVELS,
    coded_factor_frame,
    fixed_effect_column_kinds,
    fixed_effect_entries,
    fixed_effect_table,
    r_term_name,
)

SINGULAR_TOLERANCE = 1e-4
"""lme4's ``isSingular`` tolerance: a fit is singular when a diagonal element of the relative
Cholesky factor Lambda (random-effect SDs in units of the residual SD) is below it."""

GRADIENT_TOLERANCE = 2e-3
"""lme4's ``check.conv.grad`` tolerance: a fit has converged when no component of the REML
deviance's gradient in Lambda (projected on the bounds) exceeds it in absolute value."""

BETWEEN_RM_DF = (
    "between-RM: n_RMs - between-RM fixed-effect columns - 1, for every term (each has a random slope "
    "per RM, so each is tested against between-RM variation); lmerTest's Satterthwaite df in a balanced "
    "design with a regular fit"
)
"""How :func:`fit_maximal_model` counts degrees of freedom (``MaximalModelFit.df_method``)."""


@dataclass(frozen=True)
class MaximalModelFit:
    """REML fit of the maximal model, reported like ``summary(lmerTest::lmer(...))``.

    ``formula``: the lme4 formula. ``fixed_effects``: the columns of the random-intercept
    model's table (``term``, ``estimate``, ``se``, ``df``, ``t``, ``p``; response units, df by
    ``df_method``). ``random_effects_cov``: (q, q) covariance of the per-RM random effects, rows
    and columns named by R's term names (``(Intercept)``, ``CategoryCommunion``, ...), response
    units squared; ``residual_var`` likewise. ``singular``: lme4's ``isSingular``
    (:data:`SINGULAR_TOLERANCE`); ``converged``: the projected gradient is below
    :data:`GRADIENT_TOLERANCE`; ``note``: one line, empty when the fit is regular, else what is
    wrong with it. ``optimizer_warnings``: scipy's messages of the kept start when it reported
    no success.
    """

    formula: str
    fixed_effects: pd.DataFrame
    singular: bool
    converged: bool
    note: str
    random_effects_cov: pd.DataFrame
    residual_var: float
    reml_loglik: float
    n_obs: int
    n_groups: int
    df_method: str
    optimizer_warnings: tuple[str, ...] = ()


class _CrossProducts(NamedTuple):
    """Per-group cross-products of the random-effects design Z (q columns), the fixed design X
    (p columns) and the response y, which the REML criterion needs; m groups."""

    zz: np.ndarray  # (m, q, q) Z_i'Z_i
    zx: np.ndarray  # (m, q, p) Z_i'X_i
    zy: np.ndarray  # (m, q) Z_i'y_i
    xx: np.ndarray  # (p, p) X'X
    xy: np.ndarray  # (p,) X'y
    yy: np.ndarray  # (m,) y_i'y_i
    n_obs: int


class _RemlState(NamedTuple):
    """The profiled REML criterion at one Lambda: ``deviance`` (-2 REML log-likelihood), its
    ``gradient`` in the packed lower triangle of Lambda, the fixed effects ``beta``, the REML
    residual variance ``sigma2`` and ``xvx_inv`` = (X'V*^-1 X)^-1, V* = V / sigma^2."""

    deviance: float
    gradient: np.ndarray
    beta: np.ndarray
    sigma2: float
    xvx_inv: np.ndarray


def _cross_products(model) -> _CrossProducts:
    """The :class:`_CrossProducts` of a statsmodels ``MixedLM``, groups in ``model.group_labels`` order."""
    rows = [model.row_indices[label] for label in model.group_labels]
    x, z, y = model.exog, model.exog_re, model.endog
    return _CrossProducts(
        zz=np.array([z[i].T @ z[i] for i in rows]),
        zx=np.array([z[i].T @ x[i] for i in rows]),
        zy=np.array([z[i].T @ y[i] for i in rows]),
        xx=x.T @ x,
        xy=x.T @ y,
        yy=np.array([y[i] @ y[i] for i in rows]),
        n_obs=len(y),
    )


def _unpack(theta: np.ndarray, q: int) -> np.ndarray:
    """The (q, q) lower-triangular Lambda from its packed lower triangle (row-major, as statsmodels packs it)."""
    factor = np.zeros((q, q))
    factor[np.tril_indices(q)] = theta
    return factor


def _reml(theta: np.ndarray, cross: _CrossProducts) -> _RemlState:
    """lme4's profiled REML deviance at the packed Lambda ``theta``, with its analytic gradient.

    Per group, V*_i = I + Z_i Lambda Lambda' Z_i' is handled through A_i = Lambda' Z_i'Z_i Lambda + I
    (Woodbury), so nothing inverts the random-effects covariance itself. The deviance is
    log|A| + log|X'V*^-1 X| + (N - p)(1 + log(2 pi r2 / (N - p))) with r2 the generalised
    residual sum of squares; its differential in Psi = Lambda Lambda' is tr(G dPsi) with
    G = sum_i Z_i'P_i Z_i - (N - p)/r2 sum_i w_i w_i' (P the REML projection, w_i = Z_i'V*_i^-1
    (y_i - X_i beta)), so the gradient in Lambda is 2 G Lambda.
    """
    q, p = cross.zx.shape[1:]
    lam = _unpack(theta, q)
    a_inv = np.linalg.inv(lam.T @ cross.zz @ lam + np.eye(q))
    # Z_i'V*_i^-1 = (I - K_i) Z_i' with K_i = Z_i'Z_i Lambda A_i^-1 Lambda'
    k = cross.zz @ lam @ a_inv @ lam.T
    zvz = cross.zz - k @ cross.zz
    zvx = cross.zx - k @ cross.zx
    zvy = cross.zy - np.einsum("gij,gj->gi", k, cross.zy)
    lzx = lam.T @ cross.zx
    lzy = cross.zy @ lam
    xvx = cross.xx - np.einsum("gij,gik->jk", lzx, a_inv @ lzx)
    xvy = cross.xy - np.einsum("gij,gik,gk->j", lzx, a_inv, lzy)
    yvy = cross.yy.sum() - np.einsum("gi,gij,gj->", lzy, a_inv, lzy)
    chol_x = np.linalg.cholesky(xvx)
    beta = linalg.cho_solve((chol_x, True), xvy)
    r2 = yvy - beta @ xvy
    dof = cross.n_obs - p
    deviance = -np.linalg.slogdet(a_inv)[1].sum() + 2 * np.log(np.diag(chol_x)).sum() + dof * (1 + np.log(2 * np.pi * r2 / dof))
    xvx_inv = linalg.cho_solve((chol_x, True), np.eye(p))
    w = zvy - zvx @ beta
    g = (zvz - zvx @ xvx_inv @ zvx.transpose(0, 2, 1)).sum(axis=0) - dof / r2 * w.T @ w
    return _RemlState(float(deviance), (2 * g @ lam)[np.tril_indices(q)], beta, float(r2 / dof), xvx_inv)


def _moment_start(cross: _CrossProducts, between_rows: np.ndarray) -> np.ndarray | None:
    """A moment estimate of Lambda (packed) from each group's own least-squares fit of y on Z.

    Each group's coefficients b_i (q,) are regressed on its between-group row (``between_rows``,
    (m, k): intercept and the fixed columns constant within a group); their residual covariance
    minus the mean sampling covariance sigma0^2 (Z_i'Z_i)^-1 (sigma0^2: the pooled within-group
    residual variance) estimates Sigma, which is projected onto the positive definite matrices
    (eigenvalues at least 1e-8 of the largest, so that its Cholesky factor exists; a larger floor
    sends the MFD fit to a worse local optimum) and scaled by sigma0^2. In a balanced design with
    a regular fit this is the REML optimum. None when a group's Z_i is rank-deficient or the
    counts leave no degrees of freedom.
    """
    n_groups, q = cross.zy.shape
    if any(np.linalg.matrix_rank(zz) < q for zz in cross.zz):
        return None
    coefficients = np.linalg.solve(cross.zz, cross.zy[..., None])[..., 0]
    within_ss = (cross.yy - np.einsum("gi,gi->g", coefficients, cross.zy)).sum()
    within_df = cross.n_obs - n_groups * q
    between_df = n_groups - np.linalg.matrix_rank(between_rows)
    if within_df <= 0 or between_df <= 0:
        return None
    sigma2 = within_ss / within_df
    fitted = between_rows @ np.linalg.lstsq(between_rows, coefficients, rcond=None)[0]
    residual = coefficients - fitted
    relative = (residual.T @ residual / between_df - sigma2 * np.linalg.inv(cross.zz).mean(axis=0)) / sigma2
    values, vectors = np.linalg.eigh(relative)
    floor = 1e-8 * max(values.max(), 1.0)
    return np.linalg.cholesky((vectors * np.clip(values, floor, None)) @ vectors.T)[np.tril_indices(q)]


def _minimise_reml(cross: _CrossProducts, starts: Sequence[np.ndarray]) -> tuple[np.ndarray, _RemlState, tuple[str, ...]]:
    """Minimise the REML deviance from each start (L-BFGS-B, diagonal of Lambda >= 0); the best
    Lambda (packed), its :class:`_RemlState` and scipy's message when that run reported no success."""
    q = cross.zx.shape[1]
    on_diagonal = np.equal(*np.tril_indices(q))
    bounds = [(0.0, None) if diagonal else (None, None) for diagonal in on_diagonal]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        state = _reml(theta, cross)
        return state.deviance, state.gradient

    runs = []
    for start in starts:
        result = optimize.minimize(
            objective, np.where(on_diagonal, np.abs(start), start), jac=True, method="L-BFGS-B", bounds=bounds,
            options={"maxiter": 10_000, "ftol": 1e-13, "gtol": 1e-6},
        )
        runs.append((result.fun, result))
    _, best = min(runs, key=lambda run: run[0])
    return best.x, _reml(best.x, cross), () if best.success else (f"L-BFGS-B: {best.message}",)


def _projected_gradient(theta: np.ndarray, gradient: np.ndarray, q: int) -> np.ndarray:
    """The gradient with the components that push a zero diagonal element of Lambda below zero removed."""
    on_bound = np.equal(*np.tril_indices(q)) & (theta <= 0) & (gradient > 0)
    return np.where(on_bound, 0.0, gradient)


def _fit_note(smallest_diagonal: float, largest_gradient: float) -> str:
    """One line saying what is wrong with a fit (empty when nothing is)."""
    problems = []
    if smallest_diagonal < SINGULAR_TOLERANCE:
        problems.append(
            "singular fit: the random-effects covariance is rank-deficient (smallest diagonal element of its "
            f"relative Cholesky factor {smallest_diagonal:.2g} < {SINGULAR_TOLERANCE:g}: a variance ~0 or a correlation ±1)"
        )
    if largest_gradient > GRADIENT_TOLERANCE:
        problems.append(f"not converged: largest REML gradient {largest_gradient:.2g} > {GRADIENT_TOLERANCE:g}")
    return "; ".join(problems) + ("; the RM-level tests stand" if problems else "")


def fit_maximal_model(
    data: pd.DataFrame,
    response: str = "median_rank",
    factors: Sequence[str] = FIG1_FACTORS,
    group: str = "rm",
    reference_levels: Mapping[str, str] = FIG1_REFERENCE_LEVELS,
    r_names: Mapping[str, str] = FIG1_R_NAMES,
) -> MaximalModelFit:
    """Fit ``response ~ f1 * f2 * ... + (1 + w1 * w2 * ... | group)`` by REML, w the factors that vary within a group.

    ``data``: one row per observation (Figure 1: ``rm, base_model, prompt, framing, category,
    median_rank``); factors are coded as in the random-intercept model (treatment coding,
    ``reference_levels``, R names from ``r_names``), and a factor constant within every group
    (``base_model``) gets no random slope. The random effects have an unstructured covariance.

    Degrees of freedom (:data:`BETWEEN_RM_DF`): with a random slope for every within-group
    term, every fixed effect is estimated against between-group variation, so each gets
    m - k - 1 df (m groups, k between-group fixed columns; 10 - 1 - 1 = 8 on the published
    data), the df of a two-sample comparison of per-RM contrasts; in a balanced design whose
    fit is regular this is what lmerTest's Satterthwaite approximation gives. Standard errors
    are sqrt(diag(sigma^2 (X'V*^-1 X)^-1)) at the REML optimum (lme4's ``vcov``); p two-sided
    from the t distribution. Raises :class:`InputError` when the fixed design is
    rank-deficient (an empty cell) or leaves no between-group df.
    """
    frame, formula = coded_factor_frame(data, response, factors, group, reference_levels, r_names)
    within = [r_names.get(factor, factor) for factor in factors if data.groupby(group)[factor].nunique().max() > 1]
    random_part = f"1 + {' * '.join(within)}" if within else "1"
    model = smf.mixedlm(formula, frame, groups=frame[group], re_formula=random_part)
    kinds = fixed_effect_column_kinds(model.exog, model.groups)
    df = model.n_groups - int((kinds == "between").sum()) - 1
    if np.linalg.matrix_rank(model.exog) < model.k_fe or df < 1:
        raise InputError(
            f"maximal model {formula}: the fixed design has rank {np.linalg.matrix_rank(model.exog)} of {model.k_fe} "
            f"columns and {df} between-{group} df; every cell needs observations and the groups must outnumber "
            "the between-group columns + 1"
        )
    cross = _cross_products(model)
    first_rows = [model.row_indices[label][0] for label in model.group_labels]
    between_rows = model.exog[np.ix_(first_rows, np.flatnonzero(kinds != "within"))]
    q = model.k_re
    moment = _moment_start(cross, between_rows)
    starts = [np.eye(q)[np.tril_indices(q)], *([] if moment is None else [moment])]
    theta, state, messages = _minimise_reml(cross, starts)
    lam = _unpack(theta, q)
    smallest_diagonal = float(np.diag(lam).min())
    largest_gradient = float(np.abs(_projected_gradient(theta, state.gradient, q)).max())
    # statsmodels names the random intercept (the first column of Z) after the groups
    names = ["(Intercept)", *(r_term_name(name) for name in model.data.exog_re_names[1:])]
    se = np.sqrt(np.diag(state.sigma2 * state.xvx_inv))
    return MaximalModelFit(
        formula=f"{formula} + ({random_part} | {group})",
        fixed_effects=fixed_effect_table(model.exog_names, state.beta, se, np.full(model.k_fe, float(df))),
        singular=smallest_diagonal < SINGULAR_TOLERANCE,
        converged=largest_gradient <= GRADIENT_TOLERANCE,
        note=_fit_note(smallest_diagonal, largest_gradient),
        random_effects_cov=pd.DataFrame(state.sigma2 * lam @ lam.T, index=names, columns=names),
        residual_var=state.sigma2,
        reml_loglik=-state.deviance / 2,
        n_obs=int(model.nobs),
        n_groups=int(model.n_groups),
        df_method=BETWEEN_RM_DF,
        optimizer_warnings=messages,
    )


def maximal_model_record(fit: MaximalModelFit, analysis: str) -> dict:
    """Record of the maximal model: one t test per fixed effect, the fit itself under ``model``
    (with ``singular``, ``converged``, the one-line ``note``, ``df_method`` and the random-effects
    covariance as ``random_effects``: ``terms`` and the ``cov`` matrix, response units squared)."""
    note = f" ({fit.note})" if fit.note else ""
    return statistics_record(
        analysis,
        f"REML maximal model {fit.formula}: t test of each fixed effect (between-RM df){note}",
        fixed_effect_entries(fit, "t (maximal lmer fixed effect)"),
        model={
            "formula": fit.formula,
            "method": "REML, unstructured random intercept and slopes per RM (lme4's profiled criterion, statsmodels' design)",
            "df_method": fit.df_method,
            "singular": fit.singular,
            "converged": fit.converged,
            "note": fit.note,
            "random_effects": {
                "terms": list(fit.random_effects_cov.index),
                "cov": fit.random_effects_cov.to_numpy().tolist(),
            },
            "residual_var": fit.residual_var,
            "reml_loglik": fit.reml_loglik,
            "n_obs": fit.n_obs,
            "n_groups": fit.n_groups,
            "optimizer_warnings": list(fit.optimizer_warnings),
        },
    )
