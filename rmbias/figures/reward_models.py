"""Reward-model figures: Figures 1 / A1 (median ranks by base model; published, configured or both),
the RM value profiles, and 4b / A5b (ablations)."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from plotnine import (
    aes,
    element_text,
    facet_grid,
    facet_wrap,
    geom_line,
    geom_point,
    geom_pointrange,
    geom_text,
    geom_violin,
    ggplot,
    guide_legend,
    guides,
    labs,
    position_dodge,
    position_jitter,
    scale_colour_manual,
    scale_fill_manual,
    scale_shape_manual,
    scale_x_log10,
    scale_y_reverse,
    stat_summary,
    theme,
)

from rmbias.figures.scaffold import (
    BASE_MODEL_COLOURS,
    FRAMING_ORDER,
    PathLike,
    colour_map,
    drop_qwen,
    ordered,
    paper_theme,
    rank_axis_title,
    require_frame,
    save_figure,
    top_of_panels,
    with_title,
)
from rmbias.frames import require_columns
from rmbias.io import InputError, read_csv, read_parquet
from rmbias.statistics.published_ablations import read_ablation_warnings
from rmbias.statistics.rm_level import star_test

RANK_POINT_MODES = ("rm", "rm_prompt")
DATA_SOURCE_SHAPES = ("o", "^", "D", "s", "v")
STAR_LEGEND = "*** < .001, ** < .01, * < .05, ns"


def plot_rank_violins(
    median_ranks: pd.DataFrame,
    panel_tests: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    points: str = "rm",
    configured: pd.DataFrame | None = None,
    title: str | None = None,
    width: float | None = None,
    height: float = 4.2,
) -> ggplot:
    """Figures 1a/1b (``points="rm"``) and A1a/A1b (``points="rm_prompt"``): median ranks by base model.

    ``median_ranks``: one row per RM x prompt x category with ``rm``, ``base_model``, ``prompt``,
    ``framing`` (positive/negative), ``category``, ``median_rank`` (rank of words, 1 = best).
    ``panel_tests``: one row per panel with ``category``, ``framing``, ``stars``, ``star_p`` (which
    corrected p the stars come from, e.g. ``permutation (bonferroni)`` or ``rm_level exact
    (holm)``, :data:`rmbias.statistics.rm_level.STAR_TESTS`); with no rows (the panels could not
    be tested, e.g. one base family) no stars are drawn.
    ``configured`` (the combined figures): observations of further RMs in the same columns plus
    ``n_ranked``; each is drawn on top as one black-edged marker per panel (its mean over
    prompts; one shape per RM, named in the legend) at its base model's position (a family without
    published RMs, e.g. Qwen, gets a position of its own after theirs), its ranks rescaled to the number of terms
    ``median_ranks`` ranks (a factor of 1 when both rank the same terms).

    Panels are framing (rows) x category (columns), y free per row. Each panel: a violin of the
    observations per base model; ``points="rm"`` adds each RM's mean +- SE over prompts (RMs
    side by side), ``"rm_prompt"`` every observation, jittered; the grand mean +- SE per base
    model is a black diamond, the two means joined by a dotted line; the panel's stars sit above
    the violins; the subtitle names the test behind the stars and the number of RMs per family
    (and of the configured RMs), one line each, wrapped to the panels' width. Default width: 1.4 in per category + 1.2 in.
    """
    require_frame(median_ranks, ["rm", "base_model", "prompt", "framing", "category", "median_rank"], "median_ranks")
    require_columns(panel_tests, ["category", "framing", "stars", "star_p"], "panel_tests")
    if points not in RANK_POINT_MODES:
        raise InputError(f"points: {points!r} is not one of {', '.join(RANK_POINT_MODES)}")
    data = median_ranks.assign(
        framing=ordered(median_ranks["framing"], FRAMING_ORDER),
        category=ordered(median_ranks["category"]),
        base_model=ordered(median_ranks["base_model"], tuple(BASE_MODEL_COLOURS)),
    )
    families = [*data["base_model"].cat.categories, *([] if configured is None else sorted(set(configured["base_model"])))]
    colours = colour_map(families, BASE_MODEL_COLOURS)
    plot = (
        ggplot(data, aes("base_model", "median_rank"))
        + geom_violin(aes(colour="base_model", fill="base_model"), alpha=0.15)
        + _rank_points(data, points)
        + stat_summary(aes(group="category"), fun_y=np.mean, geom="line", linetype="dotted", colour="black")
        + stat_summary(fun_data="mean_se", geom="pointrange", shape="D", colour="black", size=0.35)
        + facet_grid("framing", "category", scales="free_y")
        + scale_y_reverse()
        + scale_colour_manual(values=colours)
        + scale_fill_manual(values=colours)
        + with_title(title)
        + paper_theme(legend_position="none")
    )
    if panel_tests.empty:
        star_note = "Stars: none (panels not tested; see the panel-tests record)."
        subtitle = ["no stars (panels not tested)"]
    else:
        stars = panel_tests.merge(top_of_panels(data, ["framing"], "median_rank"), on="framing")
        # between the two compared families, the first two positions (BASE_MODEL_COLOURS' order)
        stars = stars.assign(framing=ordered(stars["framing"], FRAMING_ORDER), label_x=1.5)
        plot += geom_text(aes(x="label_x", y="label_y", label="stars"), data=stars, inherit_aes=False, size=9)
        star_note = f"Stars: {STAR_LEGEND}."
        subtitle = ["stars: " + ", ".join(star_test(p) for p in sorted(panel_tests["star_p"].astype(str).unique()))]
    subtitle.append(rms_per_family(data))
    note = ""
    if configured is not None:
        plot += _configured_points(configured, data)
        plot += theme(legend_position="bottom")
        note = "\nMarkers with a black edge: configured RMs (mean over prompts)."
        subtitle.append(f"configured: {rms_per_family(configured)}")
    width = width if width is not None else 1.4 * data["category"].nunique() + 1.2
    plot += labs(
        x="",
        y=rank_axis_title("Median rank"),
        subtitle="\n".join(textwrap.fill(part, width=int((width - 0.6) * 14)) for part in [*(f"{p};" for p in subtitle[:-1]), subtitle[-1]]),
        caption=f"Black: mean ± SE per base model.{note}\n{star_note}",
    )
    return save_figure(plot, out_pdf, out_png, width, height)


def rms_per_family(median_ranks: pd.DataFrame) -> str:
    """How many RMs of each base model ``median_ranks`` holds, in words: ``"4 Gemma and 6 Llama RMs"``."""
    counts = [f"{n} {family}" for family, n in median_ranks.groupby("base_model", observed=True)["rm"].nunique().items()]
    return f"{', '.join(counts[:-1])} and {counts[-1]} RMs" if len(counts) > 1 else f"{counts[0]} RMs"


CONFIGURED_RM_SHAPES = ("^", "v", "s", "D", "p", "X", "P", "*")
"""Marker of each configured RM (in sorted order, cycling) in the combined Figure 1 and the profiles."""


def _configured_layers(per_rm: pd.DataFrame, y: str, legend_columns: int | None = None) -> list:
    """Configured RMs drawn on top of a figure: one black-edged marker per row of ``per_rm``, filled
    with the base model's colour, its shape naming the RM in the legend (``legend_columns`` wide)."""
    rms = sorted(per_rm["rm"].unique())
    shapes = dict(zip(rms, CONFIGURED_RM_SHAPES * (len(rms) // len(CONFIGURED_RM_SHAPES) + 1)))
    return [
        geom_point(aes(y=y, fill="base_model", shape="rm"), data=per_rm, size=2.6, colour="black", stroke=0.5),
        scale_shape_manual(values=shapes, name="Configured RM"),
        guides(colour="none", fill="none", shape=guide_legend(ncol=legend_columns)),
    ]


def _configured_points(configured: pd.DataFrame, published: pd.DataFrame) -> list:
    """Layers of the configured RMs in a combined Figure 1: per RM x panel, the mean over prompts
    of its median rank rescaled by (published terms ranked / its terms ranked), at its family's
    position (a family the published RMs lack after theirs)."""
    require_frame(configured, ["rm", "base_model", "framing", "category", "median_rank", "n_ranked"], "configured RMs")
    require_columns(published, ["n_ranked"], "median_ranks")
    scale = published["n_ranked"].median() / configured["n_ranked"]
    per_rm = (
        configured.assign(median_rank=configured["median_rank"] * scale)
        .groupby(["rm", "base_model", "framing", "category"], as_index=False)["median_rank"]
        .mean()
    )
    per_rm = per_rm[per_rm["category"].isin(published["category"].cat.categories)]
    per_rm = per_rm.assign(
        framing=ordered(per_rm["framing"], FRAMING_ORDER),
        category=pd.Categorical(per_rm["category"], categories=published["category"].cat.categories),
        base_model=ordered(per_rm["base_model"], tuple(published["base_model"].cat.categories)),
    )
    return _configured_layers(per_rm, "median_rank", legend_columns=2)


def _rank_points(data: pd.DataFrame, points: str) -> geom_point | geom_pointrange:
    """Point layer of :func:`plot_rank_violins`: per-RM mean +- SE (``"rm"``) or every observation (``"rm_prompt"``)."""
    if points == "rm_prompt":
        return geom_point(
            aes(colour="base_model"), position=position_jitter(width=0.12, height=0, random_state=0), alpha=0.3, size=0.5
        )
    per_rm = (
        data.groupby(["rm", "base_model", "framing", "category"], observed=True)["median_rank"]
        .agg(mean="mean", se="sem")
        .reset_index()
    )
    # One prompt per RM leaves the SE undefined: show the point without a bar.
    per_rm["se"] = per_rm["se"].fillna(0.0)
    per_rm["low"] = per_rm["mean"] - per_rm["se"]
    per_rm["high"] = per_rm["mean"] + per_rm["se"]
    return geom_pointrange(
        aes(y="mean", ymin="low", ymax="high", colour="base_model", group="rm"),
        data=per_rm,
        position=position_dodge(width=0.5),
        alpha=0.6,
        size=0.25,
    )


def plot_ablations(
    final_ranks: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    include_qwen: bool = False,
    caption_note: str | None = None,
    title: str | None = None,
    width: float = 6.5,
    height: float = 3.4,
) -> ggplot:
    """Figures 4b / A5b: median rank at the end of training against the amount of preference data.

    ``final_ranks``: ``base_model``, ``data_source`` (e.g. Unified-Feedback, Skywork, GRM),
    ``data_size_k`` (thousands of preference pairs), ``category``, ``median_rank``. x = data size
    on a log scale (ticks at the sizes present), colour = base model, shape = data source, a
    dotted line joins the base models trained on the same amount; one panel per category.
    Qwen rows are dropped unless ``include_qwen`` (Figure A5b). ``caption_note`` (e.g. a
    defect found in the input files) is drawn as the subtitle, wrapped to the figure width.
    """
    require_frame(final_ranks, ["base_model", "data_source", "data_size_k", "category", "median_rank"], "final_ranks")
    data = drop_qwen(final_ranks, include_qwen)
    data = data.assign(data_source=ordered(data["data_source"]))
    sizes = sorted(data["data_size_k"].unique())
    sources = data["data_source"].cat.categories
    shapes = dict(zip(sources, DATA_SOURCE_SHAPES * len(sources)))

    plot = (
        ggplot(data, aes("data_size_k", "median_rank"))
        + geom_line(aes(group="data_size_k"), linetype="dotted", colour="black", size=0.3)
        + geom_point(aes(colour="base_model", shape="data_source"), size=2.5)
        + facet_wrap("category")
        # no minor breaks: with one data size (one run per base) there is no interval to divide
        + scale_x_log10(breaks=sizes, labels=[f"{size:g}k" for size in sizes], minor_breaks=[])
        + scale_y_reverse()
        + scale_colour_manual(values=colour_map(data["base_model"].unique(), BASE_MODEL_COLOURS))
        + scale_shape_manual(values=shapes)
        + labs(
            x="Preference pairs (log scale)",
            y=rank_axis_title("Median rank (Big Two)"),
            colour="Base model",
            shape="Data source",
            subtitle=textwrap.fill(caption_note, width=int(width * 14)) if caption_note else None,
        )
        + with_title(title)
        + paper_theme()
        + theme(axis_text_x=element_text(rotation=45, ha="right"))
    )
    return save_figure(plot, out_pdf, out_png, width, height)


def draw_rank_violins(observations_path: PathLike, panel_tests_path: PathLike, out_pdf: PathLike, out_png: PathLike, points: str) -> None:
    """The ``fig1_figure`` and ``fig1_own_figure`` jobs: :func:`plot_rank_violins` of Figure 1
    observations (parquet) and their panel tests (CSV)."""
    plot_rank_violins(read_parquet(observations_path), read_csv(panel_tests_path), out_pdf, out_png, points=points)


def draw_combined_rank_violins(
    observations_path: PathLike, panel_tests_path: PathLike, configured_path: PathLike, out_pdf: PathLike, out_png: PathLike
) -> None:
    """The ``fig1_combined_figure`` job: Figure 1 of the published RMs (observations parquet, panel
    tests CSV) with the configured RMs (their observations parquet) as labelled points on top."""
    plot_rank_violins(
        read_parquet(observations_path), read_csv(panel_tests_path), out_pdf, out_png, configured=read_parquet(configured_path)
    )


PROFILE_LEGEND_COLUMNS = 4
"""Columns of the configured RMs' legend of the profile figure (it stays narrower than the panels)."""


def plot_rm_profiles(profiles: pd.DataFrame, out_pdf: PathLike, out_png: PathLike, width: float | None = None, height: float = 5.2) -> ggplot:
    """The value profiles of the published and configured RMs (``results/stats/rm_profiles.csv``).

    ``profiles``: ``source`` (published/configured), ``rm``, ``base_model``, ``dictionary``,
    ``category``, ``framing``, ``rank_fraction`` (median over prompts of median rank / terms
    ranked; 0 = best) and, where the table has them, ``rank_fraction_low``/``_high`` (its
    bootstrap interval over prompts, drawn as error bars). Panels: framing (rows) x dictionary
    (columns); x = category, y = rank fraction (reversed: best at top). Published RMs are small
    dots coloured by family, each family's mean over its RMs joined by a line; configured RMs
    are black-edged markers filled with their family's colour, one shape per RM (legend), side
    by side within a category. A configured RM of a family no published RM has (a Qwen RM beside
    the paper's Gemma and Llama RMs) is drawn the same way, and the caption names its family.
    ``width`` (inches) defaults to what the categories of every dictionary need, at least 7.5.
    """
    require_frame(profiles, ["source", "rm", "base_model", "dictionary", "category", "framing", "rank_fraction"], "profiles")
    intervals = {"rank_fraction_low", "rank_fraction_high"} <= set(profiles.columns)
    if width is None:
        width = max(7.5, 2.0 + 0.55 * len(profiles[["dictionary", "category"]].drop_duplicates()))
    data = profiles.assign(framing=ordered(profiles["framing"], FRAMING_ORDER), base_model=ordered(profiles["base_model"], tuple(BASE_MODEL_COLOURS)))
    if not intervals:
        data = data.assign(rank_fraction_low=data["rank_fraction"], rank_fraction_high=data["rank_fraction"])
    published = data[data["source"] == "published"]
    configured = data[data["source"] == "configured"]
    family_means = published.groupby(["base_model", "dictionary", "framing", "category"], observed=True, as_index=False)["rank_fraction"].mean()
    colours = colour_map(data["base_model"].cat.categories, BASE_MODEL_COLOURS)
    rms = sorted(configured["rm"].unique())
    shapes = dict(zip(rms, CONFIGURED_RM_SHAPES * (len(rms) // len(CONFIGURED_RM_SHAPES) + 1)))
    ranges = aes(ymin="rank_fraction_low", ymax="rank_fraction_high")
    level = "Bars: bootstrap interval over prompts (results/stats/family_identifiability.json names its level). " if intervals else ""
    unpublished = sorted(set(configured["base_model"].astype(str)) - set(published["base_model"].astype(str)))
    unpublished_note = (
        f"No published RM is of family {', '.join(unpublished)}: the family classifier places such RMs on its axis "
        "without naming a family (in_fitted_families false). " if unpublished else ""
    )
    plot = (
        ggplot(data, aes("category", "rank_fraction", colour="base_model"))
        + geom_pointrange(ranges, data=published, position=position_jitter(width=0.16, height=0, random_state=0), alpha=0.35, size=0.3, fatten=1.5)
        + geom_line(aes(group="base_model"), data=family_means, size=0.6)
        + geom_pointrange(
            aes(ymin="rank_fraction_low", ymax="rank_fraction_high", fill="base_model", shape="rm", group="rm"),
            data=configured, position=position_dodge(width=0.55), colour="black", size=0.45, fatten=4,
        )
        + facet_grid("framing", "dictionary", scales="free_x", space="free_x")
        + scale_y_reverse()
        + scale_colour_manual(values=colours)
        + scale_fill_manual(values=colours)
        + scale_shape_manual(values=shapes, name="Configured RM")
        + guides(colour=guide_legend(order=1), fill="none", shape=guide_legend(order=2, ncol=PROFILE_LEGEND_COLUMNS))
        + labs(
            x="",
            y=rank_axis_title("Rank fraction (median rank / terms ranked)"),
            colour="Base model",
            caption=textwrap.fill(
                "Dots: published RMs (line: mean per base model). Markers with a black edge: configured RMs, side by side. " + level + unpublished_note,
                width=int(width * 16),
            ),
        )
        + paper_theme()
        + theme(axis_text_x=element_text(rotation=45, ha="right"))
    )
    return save_figure(plot, out_pdf, out_png, width, height)


def draw_rm_profiles(profiles_path: PathLike, out_pdf: PathLike, out_png: PathLike) -> None:
    """The ``rm_profile_figure`` job: :func:`plot_rm_profiles` of the profiles CSV."""
    plot_rm_profiles(read_csv(profiles_path), out_pdf, out_png)


def draw_published_ablations(
    ablations_path: PathLike, warnings_path: PathLike, out_pdf: PathLike, out_png: PathLike, include_qwen: bool
) -> None:
    """The ``published_ablation_figure`` job: :func:`plot_ablations` of the published final ranks (CSV),
    the repairs listed in the warnings record drawn as the subtitle."""
    warnings = read_ablation_warnings(warnings_path)
    plot_ablations(
        read_csv(ablations_path), out_pdf, out_png, include_qwen=include_qwen, caption_note="; ".join(warnings) or None
    )


def draw_own_ablations(final_ranks_path: PathLike, out_pdf: PathLike, out_png: PathLike, include_qwen: bool) -> None:
    """The ``own_ablation_figure`` job: :func:`plot_ablations` of the own runs' final ranks (CSV)."""
    plot_ablations(read_csv(final_ranks_path), out_pdf, out_png, include_qwen=include_qwen)
