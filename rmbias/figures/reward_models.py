"""Reward-model figures: Figures 1 / A1 (median ranks of published RMs) and 4b / A5b (ablations)."""

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
from rmbias.io import InputError, read_csv, read_parquet
from rmbias.published_ablations import read_ablation_warnings

RANK_POINT_MODES = ("rm", "rm_prompt")
DATA_SOURCE_SHAPES = ("o", "^", "D", "s", "v")
STAR_LEGEND = "*** < .001, ** < .01, * < .05, ns"


def plot_rank_violins(
    median_ranks: pd.DataFrame,
    panel_tests: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    points: str = "rm",
    title: str | None = None,
    width: float | None = None,
    height: float = 4.2,
) -> ggplot:
    """Figures 1a/1b (``points="rm"``) and A1a/A1b (``points="rm_prompt"``): median ranks by base model.

    ``median_ranks``: one row per RM x prompt x category with ``rm``, ``base_model``, ``prompt``,
    ``framing`` (positive/negative), ``category``, ``median_rank`` (rank of words, 1 = best).
    ``panel_tests``: one row per panel with ``category``, ``framing``, ``stars``, ``star_p`` (which
    corrected p the stars come from, e.g. ``permutation``).

    Panels are framing (rows) x category (columns), y free per row. Each panel: a violin of the
    observations per base model; ``points="rm"`` adds each RM's mean +- SE over prompts (RMs
    side by side), ``"rm_prompt"`` every observation, jittered; the grand mean +- SE per base
    model is a black diamond, the two means joined by a dotted line; the panel's stars sit above
    the violins; the caption names the p behind the stars. Default width: 1.4 in per category + 1.2 in.
    """
    require_frame(median_ranks, ["rm", "base_model", "prompt", "framing", "category", "median_rank"], "median_ranks")
    require_frame(panel_tests, ["category", "framing", "stars", "star_p"], "panel_tests")
    if points not in RANK_POINT_MODES:
        raise InputError(f"points: {points!r} is not one of {', '.join(RANK_POINT_MODES)}")
    data = median_ranks.assign(
        framing=ordered(median_ranks["framing"], FRAMING_ORDER),
        category=ordered(median_ranks["category"]),
        base_model=ordered(median_ranks["base_model"], tuple(BASE_MODEL_COLOURS)),
    )
    colours = colour_map(data["base_model"].cat.categories, BASE_MODEL_COLOURS)
    stars = panel_tests.merge(top_of_panels(data, ["framing"], "median_rank"), on="framing")
    stars = stars.assign(
        framing=ordered(stars["framing"], FRAMING_ORDER),
        label_x=(len(colours) + 1) / 2,
    )
    p_used = ", ".join(sorted(panel_tests["star_p"].astype(str).unique()))

    plot = (
        ggplot(data, aes("base_model", "median_rank"))
        + geom_violin(aes(colour="base_model", fill="base_model"), alpha=0.15)
        + _rank_points(data, points)
        + stat_summary(aes(group="category"), fun_y=np.mean, geom="line", linetype="dotted", colour="black")
        + stat_summary(fun_data="mean_se", geom="pointrange", shape="D", colour="black", size=0.35)
        + geom_text(aes(x="label_x", y="label_y", label="stars"), data=stars, inherit_aes=False, size=9)
        + facet_grid("framing", "category", scales="free_y")
        + scale_y_reverse()
        + scale_colour_manual(values=colours)
        + scale_fill_manual(values=colours)
        + labs(
            x="",
            y=rank_axis_title("Median rank"),
            caption=f"Black: mean ± SE per base model.\nStars: {p_used} p\n({STAR_LEGEND}).",
        )
        + with_title(title)
        + paper_theme(legend_position="none")
    )
    default_width = 1.4 * data["category"].nunique() + 1.2
    return save_figure(plot, out_pdf, out_png, width if width is not None else default_width, height)


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
        + scale_x_log10(breaks=sizes, labels=[f"{size:g}k" for size in sizes])
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
    """The ``fig1_figure`` job: :func:`plot_rank_violins` of the Figure 1 observations (parquet) and panel tests (CSV)."""
    plot_rank_violins(read_parquet(observations_path), read_csv(panel_tests_path), out_pdf, out_png, points=points)


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
