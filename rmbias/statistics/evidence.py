"""Strength of evidence: every family term of Figure 1 under each level of analysis, side by side.

For each fixed effect of the published specification that involves the base-model family
(``base_modelLlama``, ``base_modelLlama:Category<c>``, ``base_modelLlama:prompt_framingnegative``,
``base_modelLlama:Category<c>:prompt_framingnegative``; ``MFD_category`` for MFD): the published
specification's estimate and p (random intercept per RM, nlme df: every (RM, prompt) median rank
an observation), the maximal model's (random slopes per RM, between-RM df) and the RM-level
tests of the same contrast over RM labels (exact permutation, Welch; one number per RM), with
the number of RMs per family and the smallest p the permutation can reach with them.
"""

from __future__ import annotations

import pandas as pd

from rmbias.frames import require_columns
from rmbias.statistics.rm_level import LEVELS

FAMILY_TERM_PREFIX = f"base_model{LEVELS[1]}"
"""Fixed-effect terms that involve the family start with this (treatment coding, Gemma reference)."""

EVIDENCE_COLUMNS = [
    "term", "estimate",
    "p_published", "df_published",
    "se_maximal", "df_maximal", "p_maximal", "maximal_singular",
    "p_rm_exact", "n_extreme", "n_relabellings", "p_rm_welch",
    *(f"n_{level}" for level in LEVELS), "smallest_p",
]
"""Columns of :func:`strength_of_evidence`: estimates in median-rank units, p two-sided and
uncorrected (the RM-level files hold the Holm-adjusted ones); ``n_extreme`` of
``n_relabellings`` relabellings were at least as extreme as the observed one."""


def strength_of_evidence(published: pd.DataFrame, maximal: pd.DataFrame, rm_level: pd.DataFrame,
                         maximal_singular: bool | None) -> pd.DataFrame:
    """One row per family term (:data:`EVIDENCE_COLUMNS`), in the published model's order.

    ``published``, ``maximal``: fixed-effect tables (``term, estimate, se, df, t, p``; empty when
    the model was not fitted, which leaves its columns NaN); ``rm_level``: the RM-level tests
    (:func:`rmbias.statistics.rm_level.rm_level_tests`, rows with a ``term`` are the model-term
    contrasts); ``maximal_singular``: whether the maximal fit is singular (None: not fitted).
    The estimate is the published specification's, or the RM-level family difference when that
    model was not fitted (in a balanced design the two are equal).
    """
    require_columns(rm_level, ["term", "difference", "p_exact", "n_extreme", "n_relabellings", "p_welch", "smallest_p"],
                    "RM-level tests")
    terms = published["term"] if len(published) else rm_level["term"].dropna()
    table = pd.DataFrame({"term": pd.Series([term for term in terms if str(term).startswith(FAMILY_TERM_PREFIX)], dtype=object)})
    fixed = published.astype({"term": object}).set_index("term")[["estimate", "p", "df"]].rename(columns={"p": "p_published", "df": "df_published"})
    slopes = maximal.astype({"term": object}).set_index("term")[["se", "df", "p"]].rename(columns=lambda column: f"{column}_maximal")
    counts = [f"n_{level}" for level in LEVELS]
    per_rm = rm_level.dropna(subset=["term"]).astype({"term": object}).set_index("term")[["difference", "p_exact", "n_extreme", "n_relabellings", "p_welch",
                                                                  *counts, "smallest_p"]]
    table = table.join(fixed, on="term").join(slopes, on="term").join(per_rm.rename(columns={"p_welch": "p_rm_welch",
                                                                                               "p_exact": "p_rm_exact"}), on="term")
    table["estimate"] = table["estimate"].fillna(table.pop("difference"))
    table["maximal_singular"] = maximal_singular
    return table[EVIDENCE_COLUMNS]
