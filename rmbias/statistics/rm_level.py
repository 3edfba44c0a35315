"""RM-level tests of the Figure 1 family comparisons: the reward model is the unit of replication.

The published specification (:mod:`rmbias.statistics.mixed_model`) and the panel tests
(:func:`rmbias.statistics.group_tests.panel_tests`) treat each (RM, prompt) median rank as an
observation, so the prompts of a framing (27 in the paper) count as that many replications of
a family effect that varies from RM to RM. Here every family comparison is made on one number per RM:

* :func:`rm_contrasts`: per RM, the cell means over prompts of every category x framing cell
  and the contrasts the family terms test (median-rank units);
* :func:`rm_level_tests`: per contrast, Llama RMs vs Gemma RMs by an exact permutation test
  over RM labels (:func:`exact_permutation_test`) and Welch's t, Holm-corrected within each
  kind of contrast;
* :func:`rm_level_stars`: the Figure 1 panel stars from those tests (``reanalysis.star_p:
  rm_level``), and :func:`rm_level_record`, the statistics record.

RMs of a family other than Llama and Gemma (:data:`rmbias.models.families.CONTRAST_FAMILIES`),
e.g. a configured Qwen RM: :func:`rm_contrasts` gives them their row like every RM, and
:func:`rm_level_tests` leaves them out (the tests compare the two families only, so an RM of a
third family can neither join a side nor shift a family mean); the Figure 1 analysis records
which RMs were left out (:func:`rmbias.statistics.figure1.analyse_observations`).

Contrast columns of :func:`rm_contrasts` (``<c>`` a category, ``<ref>`` the reference
category, the alphabetically first one as in the mixed model; framing ``positive`` is the
reference framing):

``mean_<framing>_<c>``
    mean over the RM's prompts of that framing of its median rank of category ``<c>`` (a
    Figure 1 panel's cell; kind ``panel_mean``). ``mean_positive_<ref>`` is also the model-term
    contrast of ``base_modelLlama``.
``diff_positive_<c>_minus_<ref>``
    ``mean_positive_<c> - mean_positive_<ref>`` (model term ``base_modelLlama:Category<c>``).
``framing_<c>``
    ``mean_negative_<c> - mean_positive_<c>``, the category's framing contrast (kind
    ``framing``); ``framing_<ref>`` is also the model-term contrast of
    ``base_modelLlama:prompt_framingnegative``.
``interaction_<c>_minus_<ref>``
    ``framing_<c> - framing_<ref>``, the category x framing contrast (model term
    ``base_modelLlama:Category<c>:prompt_framingnegative``).

These are the mixed model's treatment-coded cell-mean contrasts, so in a balanced design (every
RM has every cell, the same prompts) the Llama - Gemma difference of the family means of a
model-term contrast equals that term's fixed-effect estimate.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests

from rmbias.frames import require_columns
from rmbias.io import InputError
from rmbias.models.families import CONTRAST_FAMILIES
from rmbias.records import entries_from_table, statistics_record
from rmbias.statistics.group_tests import stars
from rmbias.statistics.mixed_model import FIG1_R_NAMES, FIG1_REFERENCE_LEVELS, r_term_name

LEVELS = CONTRAST_FAMILIES
"""The compared families; every difference is ``LEVELS[1] - LEVELS[0]`` (Llama - Gemma)."""

FRAMINGS = (FIG1_REFERENCE_LEVELS["framing"], "negative")
"""Reference framing first (the mixed model's), then the other."""

KINDS = ("model_term", "framing", "panel_mean")
"""Kinds of contrast; Holm runs within each kind (:func:`rm_level_tests`)."""

MAX_ENUMERATED = 10**6
TIE_TOLERANCE = 1e-9
"""Relative tolerance (of the largest absolute contrast) under which a relabelling's statistic
ties the observed one in :func:`exact_permutation_test`."""

RM_LEVEL_STAR_P = {True: "rm_level exact (holm)", False: "rm_level monte carlo (holm)"}
"""Value of the panel-tests column ``star_p`` when the stars are RM-level (key: all exact)."""

STAR_TESTS = {
    "permutation (bonferroni)": "permutation Welch t over (RM, prompt) observations, Bonferroni",
    "welch (bonferroni)": "Welch t over (RM, prompt) observations, Bonferroni",
    RM_LEVEL_STAR_P[True]: "exact permutation over RM labels, Holm",
    RM_LEVEL_STAR_P[False]: "Monte Carlo permutation over RM labels, Holm",
}
"""The test behind the stars, in words, for each value of the panel-tests column ``star_p``."""


def star_test(star_p: str) -> str:
    """The words for a panel-tests ``star_p`` value (:data:`STAR_TESTS`; unknown values as they are)."""
    return STAR_TESTS.get(star_p, star_p)


def reference_first(categories: Sequence[str], reference: str | None = None) -> list[str]:
    """``categories`` sorted, the reference level first: ``reference`` when given (it must be one
    of them), else the alphabetically first, as R's treatment coding."""
    ordered = sorted(categories)
    if reference is None:
        return ordered
    if reference not in ordered:
        raise InputError(f"reference category {reference!r} is not one of the categories {', '.join(ordered)}")
    return [reference, *(c for c in ordered if c != reference)]


def contrast_definitions(categories: Sequence[str], category_r_name: str = FIG1_R_NAMES["category"], levels: tuple[str, str] = LEVELS) -> pd.DataFrame:
    """The contrasts of :func:`rm_contrasts` for ``categories`` (the reference level first,
    :func:`reference_first`): one row per (contrast, kind).

    Columns ``contrast`` (the contrast column), ``kind`` (:data:`KINDS`), ``term`` (the mixed
    model's term, R's name built by :func:`r_term_name`; ``""`` outside kind ``model_term``),
    ``category``, ``framing`` (``positive``, ``negative`` or ``negative - positive``).
    Model-term rows come in the mixed model's term order.
    """
    reference, *others = categories
    base = f"{FIG1_R_NAMES['base_model']}[T.{levels[1]}]"
    framing = f"{FIG1_R_NAMES['framing']}[T.{FRAMINGS[1]}]"
    between = f"{FRAMINGS[1]} - {FRAMINGS[0]}"

    def term(*parts: str) -> str:
        return r_term_name(":".join([base, *parts]))

    rows = [("model_term", f"mean_{FRAMINGS[0]}_{reference}", term(), reference, FRAMINGS[0])]
    rows += [("model_term", f"diff_{FRAMINGS[0]}_{c}_minus_{reference}", term(f"{category_r_name}[T.{c}]"), c, FRAMINGS[0]) for c in others]
    rows += [("model_term", f"framing_{reference}", term(framing), reference, between)]
    rows += [("model_term", f"interaction_{c}_minus_{reference}", term(f"{category_r_name}[T.{c}]", framing), c, between) for c in others]
    rows += [("framing", f"framing_{c}", "", c, between) for c in [reference, *others]]
    rows += [("panel_mean", f"mean_{f}_{c}", "", c, f) for c in [reference, *others] for f in FRAMINGS]
    return pd.DataFrame(rows, columns=["kind", "contrast", "term", "category", "framing"])[["contrast", "kind", "term", "category", "framing"]]


def rm_contrasts(obs: pd.DataFrame, reference: str | None = None) -> pd.DataFrame:
    """One row per RM of Figure 1 observations (``rm, base_model, prompt, framing, category,
    median_rank``, :func:`rmbias.statistics.figure1.figure1_observations`).

    Columns: ``rm``, ``base_model``, ``n_prompts_positive``, ``n_prompts_negative`` (prompts of
    that framing the RM has), then the contrast columns of the module docstring for the
    categories of ``obs`` (median-rank units; NaN where the RM lacks a cell), differences taken
    from the ``reference`` category (:func:`reference_first`). Rows sorted by RM.
    """
    require_columns(obs, ["rm", "base_model", "prompt", "framing", "category", "median_rank"], "RM-contrast input")
    families = obs.groupby("rm")["base_model"].nunique()
    if (families > 1).any():
        raise InputError(f"RM-contrast input: RM {families[families > 1].index[0]!r} has more than one base_model")
    unknown = sorted(set(obs["framing"]) - set(FRAMINGS))
    if unknown:
        raise InputError(f"RM-contrast input: framing {unknown[0]!r} is not one of {', '.join(FRAMINGS)}")
    reference, *others = categories = reference_first(obs["category"].unique(), reference)
    cells = obs.groupby(["rm", "framing", "category"])["median_rank"].mean().unstack(["framing", "category"])
    prompts = obs.groupby(["rm", "framing"])["prompt"].nunique().unstack("framing").reindex(columns=list(FRAMINGS))
    table = obs.groupby("rm")["base_model"].first().to_frame()
    for f in FRAMINGS:
        table[f"n_prompts_{f}"] = prompts[f].fillna(0).astype(int)
    cells = cells.reindex(columns=pd.MultiIndex.from_product([FRAMINGS, categories]))
    for f in FRAMINGS:
        for c in categories:
            table[f"mean_{f}_{c}"] = cells[(f, c)]
    for c in others:
        table[f"diff_{FRAMINGS[0]}_{c}_minus_{reference}"] = table[f"mean_{FRAMINGS[0]}_{c}"] - table[f"mean_{FRAMINGS[0]}_{reference}"]
    for c in categories:
        table[f"framing_{c}"] = table[f"mean_{FRAMINGS[1]}_{c}"] - table[f"mean_{FRAMINGS[0]}_{c}"]
    for c in others:
        table[f"interaction_{c}_minus_{reference}"] = table[f"framing_{c}"] - table[f"framing_{reference}"]
    return table.reset_index()


def contrast_categories(contrasts: pd.DataFrame) -> list[str]:
    """The categories of a :func:`rm_contrasts` table (from its ``mean_positive_<c>`` columns),
    the reference first (read from its ``framing_<c>_minus_<reference>`` columns), the others sorted."""
    prefix = f"mean_{FRAMINGS[0]}_"
    categories = sorted(column[len(prefix):] for column in contrasts.columns if column.startswith(prefix))
    if not categories:
        raise InputError(f"RM contrasts: no {prefix}<category> column")
    references = {column.rsplit("_minus_", 1)[1] for column in contrasts.columns if column.startswith("interaction_")}
    return reference_first(categories, references.pop() if len(references) == 1 else None)


@dataclass(frozen=True)
class PermutationTest:
    """A permutation test over group labels: ``statistic`` = mean(second) - mean(first) (data
    units), two-sided ``p`` = ``n_extreme`` / ``n_relabellings`` (the observed labelling counted
    in both); ``exact``: every relabelling enumerated, else a Monte Carlo draw of
    ``n_resamples`` relabellings from ``seed``."""

    statistic: float
    p: float
    n_extreme: int
    n_relabellings: int
    exact: bool
    n_resamples: int | None
    seed: int | None


def _mean_differences(values: np.ndarray, second: np.ndarray) -> np.ndarray:
    """mean(values[second]) - mean(values[rest]) for each row of index array ``second`` (k columns)."""
    k, total = second.shape[1], values.sum()
    sums = values[second].sum(axis=1)
    return sums / k - (total - sums) / (len(values) - k)


def exact_permutation_test(
    first: Sequence[float], second: Sequence[float], max_enumerated: int = MAX_ENUMERATED, n_resamples: int = 9999, seed: int = 0
) -> PermutationTest:
    """Two-sided permutation test of mean(second) - mean(first) over relabellings of the units.

    Every way of choosing ``len(second)`` of the pooled units as the second group is a
    relabelling (group sizes kept). When there are at most ``max_enumerated`` of them, all are
    enumerated (``itertools.combinations``) and p = share whose |statistic| >= |observed| (ties
    within :data:`TIE_TOLERANCE` of the largest absolute value count as extreme), the observed
    labelling among them; else ``n_resamples`` random relabellings (numpy generator of ``seed``)
    and p = (1 + count) / (1 + n_resamples). Both groups need at least one value.
    """
    first, second = np.asarray(first, float), np.asarray(second, float)
    if len(first) == 0 or len(second) == 0:
        raise InputError(f"permutation test: needs at least 1 value per group (got {len(first)} and {len(second)})")
    values = np.concatenate([first, second])
    n, k = len(values), len(second)
    observed = float(second.mean() - first.mean())
    threshold = abs(observed) - TIE_TOLERANCE * max(np.abs(values).max(), np.finfo(float).tiny)
    n_relabellings = math.comb(n, k)
    if n_relabellings <= max_enumerated:
        combinations = itertools.combinations(range(n), k)
        extreme = 0
        while chunk := list(itertools.islice(combinations, 100_000)):
            extreme += int((np.abs(_mean_differences(values, np.array(chunk))) >= threshold).sum())
        return PermutationTest(observed, extreme / n_relabellings, extreme, n_relabellings, True, None, None)
    rng = np.random.default_rng(seed)
    draws = rng.permuted(np.tile(np.arange(n), (n_resamples, 1)), axis=1)[:, :k]
    extreme = 1 + int((np.abs(_mean_differences(values, draws)) >= threshold).sum())
    return PermutationTest(observed, extreme / (n_resamples + 1), extreme, n_resamples + 1, False, n_resamples, seed)


def smallest_reachable_p(n_first: int, n_second: int) -> float:
    """The smallest p an exact two-sided permutation test over ``n_first`` + ``n_second`` units can
    give (no ties): 1 / C(n, k), or 2 / C(n, k) when both groups have the same size (the swapped
    labelling is as extreme). 2 + 2: 1/3; 4 + 4: 2/70; 4 + 6: 1/210."""
    return (2 if n_first == n_second else 1) / math.comb(n_first + n_second, n_second)


def _welch(first: np.ndarray, second: np.ndarray) -> tuple[float, float, float]:
    """(t, df, p) of Welch's t of mean(second) - mean(first); NaN when a group has fewer than 2
    values or both have zero variance."""
    if min(len(first), len(second)) < 2 or (np.ptp(first) == 0 and np.ptp(second) == 0):
        return math.nan, math.nan, math.nan
    result = scipy_stats.ttest_ind(second, first, equal_var=False)
    return float(result.statistic), float(result.df), float(result.pvalue)


def rm_level_test_columns(levels: tuple[str, str] = LEVELS) -> list[str]:
    """The columns of a :func:`rm_level_tests` table, in order."""
    return [
        "contrast", "kind", "term", "category", "framing",
        *(f"{stat}_{level}" for stat in ("n", "mean") for level in levels), "difference",
        "p_exact", "p_exact_holm", "n_extreme", "n_relabellings", "exact", "n_resamples", "seed", "smallest_p",
        "t", "df", "p_welch", "p_welch_holm",
    ]


def rm_level_tests(
    contrasts: pd.DataFrame,
    levels: tuple[str, str] = LEVELS,
    category_r_name: str = FIG1_R_NAMES["category"],
    max_enumerated: int = MAX_ENUMERATED,
    n_resamples: int = 9999,
    seed: int = 0,
) -> pd.DataFrame:
    """Llama RMs vs Gemma RMs (``levels[1]`` vs ``levels[0]``) on every contrast of a
    :func:`rm_contrasts` table, one row per (contrast, kind) of :func:`contrast_definitions`.

    Per contrast, on the RMs of the two families with a value (RMs of any other family are left
    out, whatever their number):
    ``n_<level>``, ``mean_<level>`` (family mean of the per-RM contrast, median-rank units),
    ``difference`` (Llama - Gemma); (a) :func:`exact_permutation_test` of the difference:
    ``p_exact``, ``n_extreme`` / ``n_relabellings``, ``exact``, ``n_resamples`` and ``seed``
    (Monte Carlo only, else empty), ``smallest_p`` (the smallest p this test can give: the
    design's, :func:`smallest_reachable_p`, or 1 / (1 + n_resamples) for Monte Carlo); (b)
    Welch's t on the per-RM contrasts: ``t``, ``df`` (Welch-Satterthwaite), ``p_welch`` (NaN
    when a family has fewer than 2 RMs or both variances are 0). Holm (``p_*_holm``) runs within
    each kind: the model-term contrasts together, the per-category framing contrasts together,
    the panel cell means together (NaN p-values left out). Raises when a family has no RM.
    """
    definitions = contrast_definitions(contrast_categories(contrasts), category_r_name, levels)
    require_columns(contrasts, ["rm", "base_model", *definitions["contrast"].unique()], "RM-level test input")
    rows = []
    for definition in definitions.to_dict(orient="records"):
        column = contrasts[definition["contrast"]]
        first, second = (column[(contrasts["base_model"] == level) & column.notna()].to_numpy(float) for level in levels)
        if len(first) == 0 or len(second) == 0:
            raise InputError(f"RM-level tests: contrast {definition['contrast']} needs at least 1 RM of each of {' and '.join(levels)}")
        test = exact_permutation_test(first, second, max_enumerated, n_resamples, seed)
        t, df, p_welch = _welch(first, second)
        rows.append({
            **definition,
            f"n_{levels[0]}": len(first), f"n_{levels[1]}": len(second),
            f"mean_{levels[0]}": first.mean(), f"mean_{levels[1]}": second.mean(), "difference": test.statistic,
            "p_exact": test.p, "n_extreme": test.n_extreme, "n_relabellings": test.n_relabellings, "exact": test.exact,
            "n_resamples": test.n_resamples, "seed": test.seed,
            "smallest_p": smallest_reachable_p(len(first), len(second)) if test.exact else 1 / (n_resamples + 1),
            "t": t, "df": df, "p_welch": p_welch,
        })
    table = pd.DataFrame(rows)
    for source in ("exact", "welch"):
        table[f"p_{source}_holm"] = math.nan
        for _, rows_of_kind in table.groupby("kind", sort=False):
            tested = rows_of_kind.index[rows_of_kind[f"p_{source}"].notna()]
            if len(tested):
                table.loc[tested, f"p_{source}_holm"] = multipletests(table.loc[tested, f"p_{source}"], method="holm")[1]
    return table[rm_level_test_columns(levels)]


def rm_level_stars(panels: pd.DataFrame, tests: pd.DataFrame) -> pd.DataFrame:
    """``panels`` (:func:`rmbias.statistics.group_tests.panel_tests`) with ``stars`` from the
    Holm-adjusted exact permutation p of each panel's cell-mean contrast (kind ``panel_mean`` of
    :func:`rm_level_tests`) and ``star_p`` saying so (:data:`RM_LEVEL_STAR_P`)."""
    means = tests[tests["kind"] == "panel_mean"].set_index(["category", "framing"])
    cells = pd.MultiIndex.from_frame(panels[["category", "framing"]])
    missing = [cell for cell in cells if cell not in means.index]
    if missing:
        raise InputError(f"RM-level stars: no panel-mean test of panel {missing[0]}")
    p = means.loc[cells, "p_exact_holm"].to_numpy()
    exact = bool(means.loc[cells, "exact"].all())
    return panels.assign(stars=[stars(value) for value in p], star_p=RM_LEVEL_STAR_P[exact])


def rm_level_record(tests: pd.DataFrame, analysis: str, levels: tuple[str, str] = LEVELS, **content: object) -> dict:
    """Record of :func:`rm_level_tests`: per row an exact-permutation entry (statistic: the
    Llama - Gemma difference) and a Welch entry (correction ``holm over <kind> contrasts``;
    ``none`` for a Welch test that could not be computed); ``inputs`` hold the RMs and means
    per family, the relabellings and the smallest reachable p. ``content``: further named content."""
    frame = tests.assign(
        term=tests["term"].where(tests["term"].astype(bool), None),
        method=np.where(tests["exact"].astype(bool), "exact enumeration", "Monte Carlo"),
    )
    groups = [f"{stat}_{level}" for stat in ("n", "mean") for level in levels]
    cell = ["contrast", "kind", "category", "framing"]
    entries = []
    for (kind, welch_defined), rows in frame.groupby(["kind", frame["p_welch"].notna()], sort=False):
        correction = f"holm over {kind} contrasts"
        if welch_defined:
            entries += entries_from_table(
                rows, test="Welch t on per-RM contrasts", statistic="t", p="p_welch", df="df", correction=correction,
                p_adjusted="p_welch_holm", inputs=groups, cell=cell, term="term",
            )
        else:
            entries += entries_from_table(rows, test="Welch t on per-RM contrasts", statistic="t", p="p_welch", inputs=groups, cell=cell, term="term")
        entries += entries_from_table(
            rows, test="permutation over RM labels of the family difference", statistic="difference", p="p_exact",
            correction=correction, p_adjusted="p_exact_holm", cell=cell, term="term",
            inputs=[*groups, "n_extreme", "n_relabellings", "method", "n_resamples", "seed", "smallest_p"],
        )
    return statistics_record(
        analysis,
        f"{levels[1]} vs {levels[0]} reward models on per-RM contrasts of the median ranks (one value per RM): "
        "exact permutation over RM labels and Welch t, Holm within each kind of contrast",
        entries,
        **content,
    )


def contrast_meanings(categories: Sequence[str]) -> Mapping[str, str]:
    """Column -> meaning of a :func:`rm_contrasts` table of ``categories`` (the reference first,
    :func:`contrast_categories`; for the record)."""
    reference, *others = categories
    meanings = {f"n_prompts_{f}": f"prompts of {f} framing the RM has" for f in FRAMINGS}
    meanings |= {f"mean_{f}_{c}": f"mean over the RM's {f} prompts of its median rank of {c}" for f in FRAMINGS for c in categories}
    meanings |= {f"diff_{FRAMINGS[0]}_{c}_minus_{reference}": f"mean_{FRAMINGS[0]}_{c} - mean_{FRAMINGS[0]}_{reference}" for c in others}
    meanings |= {f"framing_{c}": f"mean_{FRAMINGS[1]}_{c} - mean_{FRAMINGS[0]}_{c}" for c in categories}
    meanings |= {f"interaction_{c}_minus_{reference}": f"framing_{c} - framing_{reference}" for c in others}
    return meanings
