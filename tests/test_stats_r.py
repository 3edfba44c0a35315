"""Cross-check of rmbias.mixed_model.fit_random_intercept_model against R's nlme::lme (REML).

Needs ``Rscript`` with the ``nlme`` package (Debian: r-base-core, r-cran-nlme); skipped,
with the reason printed, when Rscript is absent. R is run with tight optimizer tolerances
so that both sides report the same REML optimum (nlme's defaults stop about 3e-5 short of it
in the standard errors on the Big Two data).
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from test_stats import _balanced_groups, _published_big2_observations

from rmbias.mixed_model import MixedModelFit, fit_random_intercept_model

R_SCRIPT = """
suppressMessages(library(nlme))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
fit <- lme(as.formula(args[2]), random = as.formula(args[3]), data = d, method = "REML",
           control = lmeControl(maxIter = 500, msMaxIter = 500, tolerance = 1e-12, msTol = 1e-14, niterEM = 0))
table <- as.data.frame(summary(fit)$tTable)
table$term <- rownames(table)
write.csv(table, args[4], row.names = FALSE)
write.csv(data.frame(random_intercept_var = as.numeric(VarCorr(fit)[1, 1]), residual_var = fit$sigma^2,
                     reml_loglik = as.numeric(logLik(fit))), args[5], row.names = FALSE)
"""


def run_lme(data: pd.DataFrame, formula: str, group: str, tmp_path) -> tuple[pd.DataFrame, pd.Series]:
    if shutil.which("Rscript") is None:
        print("skipping R cross-check: Rscript not found (install r-base-core and r-cran-nlme)")
        pytest.skip("Rscript not found (install r-base-core and r-cran-nlme)")
    data_csv, table_csv, variances_csv, script = (tmp_path / name for name in ("data.csv", "t.csv", "v.csv", "lme.R"))
    data.to_csv(data_csv, index=False)
    script.write_text(R_SCRIPT)
    subprocess.run(
        ["Rscript", str(script), str(data_csv), formula, f"~1|{group}", str(table_csv), str(variances_csv)],
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
    assert fit.random_intercept_var == pytest.approx(r_variances["random_intercept_var"], rel=1e-4)
    assert fit.residual_var == pytest.approx(r_variances["residual_var"], rel=1e-4)
    assert fit.reml_loglik == pytest.approx(r_variances["reml_loglik"], rel=1e-8)


def test_lme_matches_r_on_balanced_groups(tmp_path):
    data = _balanced_groups()
    fit = fit_random_intercept_model(data, response="y", factors=("B", "W"), group="grp")
    assert_matches_r(fit, *run_lme(data, "y ~ B * W", "grp", tmp_path))


def test_lme_matches_r_on_published_big_two(tmp_path):
    obs = _published_big2_observations()
    fit = fit_random_intercept_model(obs)
    assert_matches_r(fit, *run_lme(obs, "median_rank ~ base_model * category * framing", "rm", tmp_path))
