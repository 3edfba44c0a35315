"""Cross-checks of the Figure 1 mixed models against R: the published specification
(rmbias.statistics.mixed_model.fit_random_intercept_model) against nlme::lme (REML), the maximal
model (rmbias.statistics.maximal_model.fit_maximal_model) against lme4::lmer (REML) with
lmerTest's Satterthwaite df.

Needs ``Rscript`` with the ``nlme``, ``lme4`` and ``lmerTest`` packages (Debian: r-base-core,
r-cran-nlme, r-cran-lme4, r-cran-lmertest); without them a test is skipped, with the reason
printed, or fails when ``CI=true`` (CI installs them). For nlme, R is run with tight optimizer tolerances
so that both sides report the same REML optimum (nlme's defaults stop about 3e-5 short of it
in the standard errors on the Big Two data). The published data are fitted in the authors'
parameterization: R gets the data under their variable names (``Category`` / ``MFD_category``,
``prompt_framing``) with ``prompt_framing`` relevelled to ``positive``, as in their script, and
its term names must equal ours. The published data's maximal fits are singular (in lme4 as here):
there the test asks that both say so, that the estimates agree and the SEs within 10 %.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from test_maximal_model import THREE_WAY, random_slope_observations
from test_stats import FRAMING, _balanced_groups

from rmbias.corpora.dictionaries import read_dictionary
from rmbias.io import write_parquet
from rmbias.statistics.figure1 import RankingAnalysis, reanalyse_published_scores
from rmbias.statistics.maximal_model import MaximalModelFit, fit_maximal_model, maximal_model_record
from rmbias.statistics.mixed_model import FIG1_R_NAMES, MFD_CATEGORY_R_NAME, MixedModelFit, fit_random_intercept_model

PROMPTS = {key: {"framing": framing} for key, framing in FRAMING.items()}

R_SCRIPT = """
suppressMessages(library(nlme))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
for (assignment in strsplit(args[6], ",", fixed = TRUE)[[1]]) {
  parts <- strsplit(assignment, "=", fixed = TRUE)[[1]]
  d[[parts[1]]] <- relevel(factor(d[[parts[1]]]), ref = parts[2])
}
fit <- lme(as.formula(args[2]), random = as.formula(args[3]), data = d, method = "REML",
           control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-12, msTol = 1e-14, niterEM = 0))
table <- as.data.frame(summary(fit)$tTable)
table$term <- rownames(table)
write.csv(table, args[4], row.names = FALSE)
write.csv(data.frame(random_intercept_var = as.numeric(VarCorr(fit)[1, 1]), residual_var = fit$sigma^2,
                     reml_loglik = as.numeric(logLik(fit))), args[5], row.names = FALSE)
"""


LMER_SCRIPT = """
suppressMessages({library(lme4); library(lmerTest)})
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
for (assignment in strsplit(args[5], ",", fixed = TRUE)[[1]]) {
  parts <- strsplit(assignment, "=", fixed = TRUE)[[1]]
  d[[parts[1]]] <- relevel(factor(d[[parts[1]]]), ref = parts[2])
}
fit <- lme4::lmer(as.formula(args[2]), data = d, REML = TRUE)
if (args[6] == "satterthwaite") {
  table <- as.data.frame(coef(summary(as_lmerModLmerTest(fit), ddf = "Satterthwaite")))
} else {
  table <- as.data.frame(coef(summary(fit)))
  table$df <- NA
  table[["Pr(>|t|)"]] <- NA
}
table$term <- rownames(table)
write.csv(table, args[3], row.names = FALSE)
write.csv(data.frame(singular = isSingular(fit), reml_loglik = as.numeric(logLik(fit)), residual_var = sigma(fit)^2),
          args[4], row.names = FALSE)
"""
"""lme4::lmer REML fit of args[2] (an lme4 formula) on the CSV args[1], args[5] relevelled first;
writes the fixed effects to args[3] (with lmerTest's Satterthwaite df and p when args[6] is
``satterthwaite``; the published fits compare no df, and lmerTest's Hessian of the MFD fit's 55
covariance parameters would add about a minute) and isSingular, the REML log-likelihood and
sigma^2 to args[4]."""


def require_r(*packages: str) -> None:
    """Skip (outside CI) or fail (``CI=true``) unless ``Rscript`` and every R package of ``packages`` are installed."""
    install = "install r-base-core and r-cran-nlme, r-cran-lme4, r-cran-lmertest"
    if shutil.which("Rscript") is None:
        reason = f"Rscript not found ({install})"
    else:
        loads = "; ".join(f"library({package})" for package in packages)
        probe = subprocess.run(["Rscript", "-e", f"suppressMessages({{{loads}}})"], capture_output=True, text=True, timeout=120)
        reason = "" if probe.returncode == 0 else f"R package(s) {', '.join(packages)} missing ({install}): {probe.stderr.strip()[-300:]}"
    if reason and os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} -- CI must run the R cross-checks", pytrace=False)
    if reason:
        print(f"skipping R cross-check: {reason}")
        pytest.skip(reason)


def run_lmer(data: pd.DataFrame, formula: str, tmp_path, reference_levels: str, satterthwaite: bool) -> tuple[pd.DataFrame, pd.Series]:
    """Fit the lme4 ``formula`` with ``lme4::lmer`` (REML) on ``data``; see :data:`LMER_SCRIPT`."""
    require_r("lme4", "lmerTest")
    data_csv, table_csv, fit_csv, script = (tmp_path / name for name in ("data.csv", "lmer.csv", "lmer_fit.csv", "lmer.R"))
    data.to_csv(data_csv, index=False)
    script.write_text(LMER_SCRIPT)
    mode = "satterthwaite" if satterthwaite else "none"
    subprocess.run(
        ["Rscript", str(script), str(data_csv), formula, str(table_csv), str(fit_csv), reference_levels, mode],
        check=True, capture_output=True, text=True, timeout=900,
    )
    table = pd.read_csv(table_csv).rename(columns={"Estimate": "estimate", "Std. Error": "se", "t value": "t", "Pr(>|t|)": "p"})
    return table.set_index("term"), pd.read_csv(fit_csv).iloc[0]


def run_lme(data: pd.DataFrame, formula: str, group: str, tmp_path, reference_levels: str = "") -> tuple[pd.DataFrame, pd.Series]:
    """Fit ``formula`` with ``nlme::lme`` on ``data``; ``reference_levels``: ``"column=level,..."`` relevelled first."""
    require_r("nlme")
    data_csv, table_csv, variances_csv, script = (tmp_path / name for name in ("data.csv", "t.csv", "v.csv", "lme.R"))
    data.to_csv(data_csv, index=False)
    script.write_text(R_SCRIPT)
    subprocess.run(
        ["Rscript", str(script), str(data_csv), formula, f"~1|{group}", str(table_csv), str(variances_csv), reference_levels],
        check=True, capture_output=True, text=True, timeout=120,
    )
    table = pd.read_csv(table_csv).rename(columns={"Value": "estimate", "Std.Error": "se", "DF": "df", "t-value": "t", "p-value": "p"})
    return table.set_index("term"), pd.read_csv(variances_csv).iloc[0]


def assert_matches_r(fit: MixedModelFit, r_table: pd.DataFrame, r_variances: pd.Series) -> None:
    ours = fit.fixed_effects.set_index("term")
    assert list(ours.index) == list(r_table.index)
    for column in ("estimate", "se", "df", "t"):
        np.testing.assert_allclose(ours[column], r_table[column], rtol=1e-4, err_msg=column)
    # p-values far in the tail amplify a 1e-6 relative difference in t; compare them on the log scale there
    np.testing.assert_allclose(np.log(ours["p"].clip(lower=1e-300)), np.log(r_table["p"].clip(lower=1e-300)), rtol=1e-4, atol=1e-4)
    # the REML surface is flat in the random-intercept variance where it is tiny next to the
    # residual one (MFD2: 1.17 vs 3330 rank^2; moving it by 1e-4 relative changes the REML
    # log-likelihood by 2e-10), so R's optimizer stops ~1.2e-4 short of the optimum we reach:
    # compare it to 1e-3 and require our log-likelihood to be at least R's
    assert fit.random_intercept_var == pytest.approx(r_variances["random_intercept_var"], rel=1e-3)
    assert fit.reml_loglik >= r_variances["reml_loglik"] - 1e-9 * abs(r_variances["reml_loglik"])
    assert fit.residual_var == pytest.approx(r_variances["residual_var"], rel=1e-4)
    assert fit.reml_loglik == pytest.approx(r_variances["reml_loglik"], rel=1e-8)


def test_lme_matches_r_on_balanced_groups(tmp_path):
    data = _balanced_groups()
    fit = fit_random_intercept_model(data, response="y", factors=("B", "W"), group="grp")
    assert_matches_r(fit, *run_lme(data, "y ~ B * W", "grp", tmp_path))


def test_lme_matches_r_on_published_big_two(tmp_path, published_big2_observations):
    obs = published_big2_observations
    fit = fit_random_intercept_model(obs)
    terms = list(fit.fixed_effects["term"])
    assert terms[1:4] == ["base_modelLlama", "CategoryCommunion", "prompt_framingnegative"]
    assert terms[-1] == "base_modelLlama:CategoryCommunion:prompt_framingnegative"
    r_data = obs.rename(columns=FIG1_R_NAMES)
    formula = "median_rank ~ base_model * Category * prompt_framing"
    assert_matches_r(fit, *run_lme(r_data, formula, "rm", tmp_path, "prompt_framing=positive"))


def _published_mfd_analysis(tmp_path, reference_data, scheme: str) -> RankingAnalysis:
    """The Figure 1 analysis of the published MFD2 scores (under ``reference_data``) under
    ``scheme``: observations and random-intercept model."""
    corpus = tmp_path / "mfd2.parquet"
    write_parquet(read_dictionary(reference_data / "corpora" / "moral-foundations-dictionary-20.dicx", "mfd2"), corpus)
    paths = {
        re.sub(r"^(big2|MFD20)_rewards_", "", path.stem): path
        for path in sorted((reference_data / "reward_model_scores" / "dict_MFD_20").glob("*.csv"))
    }
    return reanalyse_published_scores(paths, corpus, PROMPTS, scheme, n_permutations=9, seed=0, star_p="welch")


@pytest.mark.parametrize("scheme, reference", [("published_script", "Authority"), ("virtue", "Authority_Virtue")])
def test_lme_matches_r_on_published_mfd(tmp_path, reference_data, scheme, reference):
    analysis = _published_mfd_analysis(tmp_path, reference_data, scheme)
    fit = analysis.mixed_model
    assert fit.n_groups == 10 and fit.fixed_effects["term"].iloc[-1].endswith(":prompt_framingnegative")
    assert not any(reference in term for term in fit.fixed_effects["term"])  # the reference level has no term
    r_data = analysis.observations.rename(columns={**FIG1_R_NAMES, "category": MFD_CATEGORY_R_NAME})
    formula = "median_rank ~ base_model * MFD_category * prompt_framing"
    assert_matches_r(fit, *run_lme(r_data, formula, "rm", tmp_path, "prompt_framing=positive"))


# --------------------------------------------------------------------------- the maximal model


def test_maximal_model_matches_lmertest_on_a_regular_design(tmp_path):
    obs = random_slope_observations()
    fit = fit_maximal_model(obs)
    r_table, r_fit = run_lmer(obs.rename(columns=FIG1_R_NAMES), fit.formula, tmp_path, "prompt_framing=positive", satterthwaite=True)
    ours = fit.fixed_effects.set_index("term")
    assert list(ours.index) == list(r_table.index) and THREE_WAY in ours.index
    assert not fit.singular and not bool(r_fit["singular"])
    scale = ours["estimate"].abs().max()
    np.testing.assert_allclose(ours["estimate"], r_table["estimate"], rtol=1e-3, atol=1e-6 * scale)
    for column in ("se", "df"):
        np.testing.assert_allclose(ours[column], r_table[column], rtol=1e-3, err_msg=column)
    # a p-value far in the tail (the intercept's, ~5e-10) amplifies a 1e-4 relative difference
    # in t and df tens of times over: compare p on the log scale, as assert_matches_r does
    np.testing.assert_allclose(np.log(ours["p"]), np.log(r_table["p"]), rtol=1e-3, err_msg="p")
    assert fit.reml_loglik == pytest.approx(r_fit["reml_loglik"], rel=1e-6)
    assert fit.residual_var == pytest.approx(r_fit["residual_var"], rel=1e-3)


def _assert_singular_like_lme4(fit: MaximalModelFit, r_table: pd.DataFrame, r_fit: pd.Series) -> None:
    """Both fits singular (lme4's isSingular, our record), equal estimates, SEs within 10 %, our REML optimum at least lme4's."""
    model = maximal_model_record(fit, "maximal_model")["model"]
    assert bool(r_fit["singular"]) and model["singular"] and model["note"].startswith("singular fit:")
    ours = fit.fixed_effects.set_index("term")
    assert list(ours.index) == list(r_table.index)
    np.testing.assert_allclose(ours["estimate"], r_table["estimate"], rtol=1e-6, atol=1e-9 * ours["estimate"].abs().max())
    np.testing.assert_allclose(ours["se"], r_table["se"], rtol=0.10)
    assert fit.reml_loglik >= r_fit["reml_loglik"] - 1e-6 * abs(r_fit["reml_loglik"])


def test_maximal_model_is_singular_like_lme4_on_published_big_two(tmp_path, published_big2_observations):
    obs = published_big2_observations
    fit = fit_maximal_model(obs)
    assert fit.formula == "median_rank ~ base_model * Category * prompt_framing + (1 + Category * prompt_framing | rm)"
    r_data = obs.rename(columns=FIG1_R_NAMES)
    _assert_singular_like_lme4(fit, *run_lmer(r_data, fit.formula, tmp_path, "prompt_framing=positive", satterthwaite=False))


def test_maximal_model_is_singular_like_lme4_on_published_mfd(tmp_path, reference_data):
    obs = _published_mfd_analysis(tmp_path, reference_data, "published_script").observations
    fit = fit_maximal_model(obs, r_names={**FIG1_R_NAMES, "category": MFD_CATEGORY_R_NAME})
    assert len(fit.random_effects_cov) == 10 and fit.n_groups == 10
    r_data = obs.rename(columns={**FIG1_R_NAMES, "category": MFD_CATEGORY_R_NAME})
    _assert_singular_like_lme4(fit, *run_lmer(r_data, fit.formula, tmp_path, "prompt_framing=positive", satterthwaite=False))


# --------------------------------------------------------------------------- the R requirement


def test_missing_rscript_fails_under_ci_and_skips_with_its_reason_outside(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="Rscript not found .* CI must run the R cross-checks"):
        require_r("nlme")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="Rscript not found"):
        require_r("nlme")


def test_missing_r_package_fails_under_ci(monkeypatch):
    monkeypatch.setenv("CI", "true")
    if shutil.which("Rscript") is None:  # no R at all: the Rscript case fails first, as CI requires
        with pytest.raises(pytest.fail.Exception, match="Rscript not found"):
            require_r("rmbiasNoSuchPackage")
        return
    with pytest.raises(pytest.fail.Exception, match=r"(?s)R package\(s\) rmbiasNoSuchPackage missing .* CI must run"):
        require_r("rmbiasNoSuchPackage")
