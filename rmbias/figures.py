"""Every figure of the paper, drawn with plotnine.

Each ``plot_*`` function takes tidy pandas frame(s), checks the columns it needs (a missing
column raises :class:`~rmbias.io.InputError` naming it), writes the figure twice -- PDF and a
150-dpi PNG -- through :func:`~rmbias.io.atomic_path` (both files are rendered to temporary
names first, so a failing plot leaves neither behind), and returns the ``ggplot`` object.

Conventions shared by all figures:

* one fixed colour per base-model family (:data:`BASE_MODEL_COLOURS`), so Gemma is the same
  red and Llama the same blue in every figure; a model name is matched to its family by a
  case-insensitive substring (``"gemma-2-2b-it"`` is Gemma);
* ranks follow the paper: rank 1 = best. Every rank axis is reversed so that the best rank is
  at the top, and its title says so;
* sizes are in inches; ``title`` (optional) is drawn above the plot.
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from plotnine import (
    aes,
    coord_flip,
    element_blank,
    element_rect,
    element_text,
    facet_grid,
    facet_wrap,
    geom_col,
    geom_hline,
    geom_line,
    geom_point,
    geom_pointrange,
    geom_segment,
    geom_text,
    geom_violin,
    geom_vline,
    ggplot,
    labs,
    position_dodge,
    position_jitter,
    position_jitterdodge,
    scale_colour_manual,
    scale_fill_manual,
    scale_shape_manual,
    scale_x_continuous,
    scale_x_log10,
    scale_y_continuous,
    scale_y_reverse,
    stat_summary,
    theme,
    theme_bw,
)

from rmbias.io import InputError, atomic_path

PathLike = str | os.PathLike

BASE_MODEL_COLOURS: dict[str, str] = {"Gemma": "#DB4437", "Llama": "#0064E0", "Qwen": "#7C3AED"}
"""Colour of each base-model family, used by every figure."""

BIG_TWO_COLOURS: dict[str, str] = {"Agency": "#2E8B57", "Communion": "#D99A00"}
"""Colour of each Big Two category (Figure 5, A6)."""

UNMATCHED_COLOURS: tuple[str, ...] = ("#E69F00", "#009E73", "#56B4E9", "#CC79A7", "#555555")
"""Colours, in order, for names that match no key of a fixed palette."""

PNG_DPI = 150
FRAMING_ORDER = ("positive", "negative")
RANK_POINT_MODES = ("rm", "rm_prompt")
DATA_SOURCE_SHAPES = ("o", "^", "D", "s", "v")
TEMPLATE_FILLS = ("#3B3B3B", "#A6A6A6")
BOOSTED_FILLS = {"boosted": "#B8860B", "not boosted": "#A6A6A6"}
KENDALL_COMPARISONS = {"tau_previous": "vs previous checkpoint", "tau_final": "vs final checkpoint"}
STAR_LEGEND = "*** < .001, ** < .01, * < .05, ns"


def colour_map(names: Iterable[str], fixed: Mapping[str, str]) -> dict[str, str]:
    """Map each distinct name to a colour.

    A name containing a key of ``fixed`` (case-insensitive; the first matching key wins) gets
    that key's colour; the remaining names get :data:`UNMATCHED_COLOURS` in sorted order,
    cycling when there are more names than colours.
    """
    distinct = list(dict.fromkeys(str(name) for name in names))
    colours: dict[str, str] = {}
    unmatched = []
    for name in distinct:
        key = next((key for key in fixed if key.lower() in name.lower()), None)
        if key is None:
            unmatched.append(name)
        else:
            colours[name] = fixed[key]
    for index, name in enumerate(sorted(unmatched)):
        colours[name] = UNMATCHED_COLOURS[index % len(UNMATCHED_COLOURS)]
    return colours


def rank_axis_title(what: str) -> str:
    """Axis title for a reversed rank axis: ``what`` plus the note that rank 1 = best is on top."""
    return f"{what}\n(1 = best; best at top)"


def _require(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise InputError naming ``name`` and every column of ``columns`` that ``frame`` lacks, or if it is empty."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{name}: missing column(s) {', '.join(missing)}")
    if frame.empty:
        raise InputError(f"{name}: no rows to plot")


def _ordered(values: pd.Series, preferred: Sequence[str] = ()) -> pd.Categorical:
    """Categorical of ``values``: levels of ``preferred`` that occur first, then the rest in order of appearance."""
    present = list(dict.fromkeys(values))
    levels = [level for level in preferred if level in present] + [v for v in present if v not in preferred]
    return pd.Categorical(values, categories=levels, ordered=True)


def _theme(legend_position: str = "bottom") -> theme:
    return theme_bw(base_size=9) + theme(
        panel_grid_minor=element_blank(),
        strip_background=element_rect(fill="#F0F0F0"),
        legend_position=legend_position,
        legend_box="vertical",
        plot_caption=element_text(size=7, ha="left"),
    )


def _with_title(title: str | None) -> labs:
    return labs(title=title) if title else labs()


def _top_of_panels(frame: pd.DataFrame, panel_columns: list[str], value: str, headroom: float = 0.12) -> pd.DataFrame:
    """Per panel, a rank just above the best (smallest) ``value``: min - headroom * range.

    On a reversed rank axis this lies above every observation of the panel; a label placed
    there does not cover the data. Returns ``panel_columns`` + ``label_y``.
    """
    grouped = frame.groupby(panel_columns, observed=True)[value]
    span = (grouped.max() - grouped.min()).where(lambda s: s > 0, 1.0)
    return (grouped.min() - headroom * span).rename("label_y").reset_index()


def _save(plot: ggplot, out_pdf: PathLike, out_png: PathLike, width: float, height: float) -> ggplot:
    """Render ``plot`` to PDF and PNG (``PNG_DPI``) under temporary names; rename both only if both succeed."""
    with atomic_path(out_pdf) as pdf_tmp, atomic_path(out_png) as png_tmp:
        plot.save(pdf_tmp, width=width, height=height, units="in", verbose=False)
        plot.save(png_tmp, width=width, height=height, units="in", dpi=PNG_DPI, verbose=False)
    return plot


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
    _require(median_ranks, ["rm", "base_model", "prompt", "framing", "category", "median_rank"], "median_ranks")
    _require(panel_tests, ["category", "framing", "stars", "star_p"], "panel_tests")
    if points not in RANK_POINT_MODES:
        raise InputError(f"points: {points!r} is not one of {', '.join(RANK_POINT_MODES)}")
    data = median_ranks.assign(
        framing=_ordered(median_ranks["framing"], FRAMING_ORDER),
        category=_ordered(median_ranks["category"]),
        base_model=_ordered(median_ranks["base_model"], tuple(BASE_MODEL_COLOURS)),
    )
    colours = colour_map(data["base_model"].cat.categories, BASE_MODEL_COLOURS)
    stars = panel_tests.merge(_top_of_panels(data, ["framing"], "median_rank"), on="framing")
    stars = stars.assign(
        framing=_ordered(stars["framing"], FRAMING_ORDER),
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
        + _with_title(title)
        + _theme(legend_position="none")
    )
    default_width = 1.4 * data["category"].nunique() + 1.2
    return _save(plot, out_pdf, out_png, width if width is not None else default_width, height)


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


def plot_split_violins(
    median_ranks: pd.DataFrame,
    cell_tests: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    model_order: Sequence[str] | None = None,
    title: str | None = None,
    width: float = 4.5,
    height: float = 5.0,
) -> ggplot:
    """Figures 2a/2b: median log-prob rank of Big Two nouns, two models compared per category.

    ``median_ranks``: ``model``, ``prompt``, ``valence`` (positive/negative), ``category``,
    ``median_rank`` (one row per model x prompt x category). Exactly two models; ``model_order``
    (default: order of appearance) puts the first on the left half of each split violin and the
    second on the right, each model's prompts as points on its side. One panel per valence
    (positive on top); ``cell_tests`` (``valence``, ``category``, ``stars``) gives the stars
    drawn above each category.
    """
    _require(median_ranks, ["model", "prompt", "valence", "category", "median_rank"], "median_ranks")
    _require(cell_tests, ["valence", "category", "stars"], "cell_tests")
    models = list(model_order) if model_order is not None else list(dict.fromkeys(median_ranks["model"]))
    present = set(median_ranks["model"])
    if len(models) != 2 or not set(models) <= present:
        raise InputError(f"median_ranks: split violins need exactly two models, got {sorted(present)} (order {models})")
    data = median_ranks[median_ranks["model"].isin(models)]
    data = data.assign(
        model=pd.Categorical(data["model"], categories=models, ordered=True),
        valence=_ordered(data["valence"], FRAMING_ORDER),
        category=_ordered(data["category"]),
    )
    colours = colour_map(models, BASE_MODEL_COLOURS)
    stars = cell_tests.merge(_top_of_panels(data, ["valence"], "median_rank"), on="valence")
    stars = stars.assign(valence=_ordered(stars["valence"], FRAMING_ORDER))
    left, right = (data[data["model"] == model] for model in models)

    plot = (
        ggplot(data, aes("category", "median_rank", fill="model"))
        + geom_violin(data=left, style="left", alpha=0.5)
        + geom_violin(data=right, style="right", alpha=0.5)
        + geom_point(
            aes(colour="model"),
            position=position_jitterdodge(jitter_width=0.15, dodge_width=0.5, random_state=0),
            size=0.8,
            alpha=0.7,
        )
        + geom_text(aes(x="category", y="label_y", label="stars"), data=stars, inherit_aes=False, size=9)
        + facet_wrap("valence", ncol=1, scales="free_y")
        + scale_y_reverse()
        + scale_fill_manual(values=colours)
        + scale_colour_manual(values=colours)
        + labs(x="Big Two category", y=rank_axis_title("Median log-prob rank"), fill="Model", colour="Model")
        + _with_title(title)
        + _theme()
    )
    return _save(plot, out_pdf, out_png, width, height)


def plot_lollipop(
    mwlr: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    title: str | None = None,
    width: float = 6.5,
    height: float | None = None,
) -> ggplot:
    """Figure 3: MWLR score of each word (e.g. Freedom, Love) for every Llama vs Gemma pair.

    ``mwlr``: one row per pair x word with ``llama``, ``gemma``, ``word``, ``mwlr`` (score,
    llama relative to gemma), ``rank`` (the word's rank among all tokens, 1 = highest MWLR),
    ``llama_version``, ``llama_size_b``, ``gemma_version``, ``gemma_size_b`` (numbers; sizes in
    billions of parameters). One row per pair labelled "llama vs gemma", sorted by Llama
    version, Llama size, Gemma version, Gemma size (first at the top); a segment joins the
    pair's words, each point is labelled with the word's rank. Default height: 0.28 in per pair + 1.2 in.
    """
    _require(
        mwlr,
        ["llama", "gemma", "word", "mwlr", "rank", "llama_version", "llama_size_b", "gemma_version", "gemma_size_b"],
        "mwlr",
    )
    order_columns = ["llama_version", "llama_size_b", "gemma_version", "gemma_size_b"]
    data = mwlr.assign(pair=mwlr["llama"].astype(str) + " vs " + mwlr["gemma"].astype(str))
    pairs = data.drop_duplicates("pair").sort_values(order_columns)["pair"].tolist()
    data = data.assign(pair=pd.Categorical(data["pair"], categories=pairs[::-1], ordered=True))
    span = data["mwlr"].max() - data["mwlr"].min() or 1.0
    is_highest = data["mwlr"] == data.groupby("pair", observed=True)["mwlr"].transform("max")
    data = data.assign(
        rank_label="#" + data["rank"].round().astype(int).map("{:,}".format),
        label_x=data["mwlr"] + span * 0.025 * is_highest.map({True: 1, False: -1}),
        label_ha=is_highest.map({True: "left", False: "right"}),
    )
    ends = data.groupby("pair", observed=True)["mwlr"].agg(low="min", high="max").reset_index()

    plot = (
        ggplot(data, aes("mwlr", "pair"))
        + geom_vline(xintercept=0, colour="grey", size=0.4)
        + geom_segment(aes(x="low", xend="high", y="pair", yend="pair"), data=ends, colour="#BBBBBB", size=1.0)
        + geom_point(aes(colour="word"), size=2.5, fill="white", stroke=1.2)
        + geom_text(aes(x="label_x", label="rank_label", ha="label_ha"), size=6, colour="#444444")
        + scale_x_continuous(expand=(0.12, 0))
        + scale_colour_manual(values=colour_map(data["word"].unique(), {}))
        + labs(x="MWLR score (Llama relative to Gemma)", y="", colour="Word")
        + _with_title(title)
        + _theme()
    )
    return _save(plot, out_pdf, out_png, width, height if height is not None else 0.28 * len(pairs) + 1.2)


def plot_authority_recovery(
    recovery: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    title: str | None = None,
    width: float = 6.0,
    height: float = 3.0,
) -> ggplot:
    """Figure A3a: how many of the 10 boosted authority words each implicit-reward measure puts in its top 10.

    ``recovery``: ``measure`` (e.g. MWLR; x order = order of appearance), ``template`` (e.g. with
    / without chat template), ``n_in_top10`` (integer 0-10). Bars per measure, dodged by template.
    """
    _require(recovery, ["measure", "template", "n_in_top10"], "recovery")
    counts = recovery["n_in_top10"]
    if not counts.between(0, 10).all():
        raise InputError("recovery: n_in_top10 must lie in 0..10")
    data = recovery.assign(measure=_ordered(recovery["measure"]), template=_ordered(recovery["template"]))
    fills = dict(zip(data["template"].cat.categories, TEMPLATE_FILLS * len(data["template"].cat.categories)))

    plot = (
        ggplot(data, aes("measure", "n_in_top10", fill="template"))
        + geom_col(position=position_dodge(width=0.8), width=0.75)
        + geom_text(aes(label="n_in_top10", y="n_in_top10 + 0.4"), position=position_dodge(width=0.8), size=7)
        + geom_hline(yintercept=10, linetype="dashed", colour="grey", size=0.4)
        + scale_y_continuous(limits=(0, 10.5), breaks=range(0, 11, 2))
        + scale_fill_manual(values=fills)
        + labs(x="Implicit reward measure", y="Boosted words in top 10", fill="")
        + _with_title(title)
        + _theme()
    )
    return _save(plot, out_pdf, out_png, width, height)


def plot_authority_words(
    word_scores: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    title: str | None = None,
    width: float = 4.5,
    height: float | None = None,
) -> ggplot:
    """Figure A3b: MWLR score per word, the words boosted by fine-tuning highlighted.

    ``word_scores``: ``word``, ``mwlr`` (score, tuned model relative to the original),
    ``boosted`` (bool). Horizontal bars sorted by score, highest at the top. Default height:
    0.16 in per word + 1 in.
    """
    _require(word_scores, ["word", "mwlr", "boosted"], "word_scores")
    ordered_words = word_scores.sort_values("mwlr")["word"].astype(str).drop_duplicates().tolist()
    data = word_scores.assign(
        word=pd.Categorical(word_scores["word"].astype(str), categories=ordered_words, ordered=True),
        highlight=word_scores["boosted"].astype(bool).map({True: "boosted", False: "not boosted"}),
    )

    plot = (
        ggplot(data, aes("word", "mwlr", fill="highlight"))
        + geom_col(width=0.75)
        + geom_hline(yintercept=0, colour="black", size=0.3)
        + coord_flip()
        + scale_fill_manual(values=BOOSTED_FILLS)
        + labs(x="", y="MWLR score (tuned relative to original)", fill="")
        + _with_title(title)
        + _theme()
    )
    return _save(plot, out_pdf, out_png, width, height if height is not None else 0.16 * len(ordered_words) + 1.0)


def _drop_qwen(frame: pd.DataFrame, include_qwen: bool) -> pd.DataFrame:
    """``frame`` without Qwen rows (``base_model`` containing "qwen", any case) unless ``include_qwen``."""
    if include_qwen:
        return frame
    return frame[~frame["base_model"].astype(str).str.lower().str.contains("qwen")]


def plot_checkpoint_ranks(
    ranks: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    include_qwen: bool = False,
    title: str | None = None,
    width: float = 6.0,
    height: float = 3.0,
) -> ggplot:
    """Figures 4a / A5a: median rank of each Big Two category over RM training checkpoints.

    ``ranks``: ``base_model``, ``step`` (training step of the checkpoint), ``category``,
    ``median_rank`` (1 = best). Lines + points per base model, one panel per category; Qwen rows
    are dropped unless ``include_qwen`` (Figure A5a).
    """
    _require(ranks, ["base_model", "step", "category", "median_rank"], "ranks")
    data = _drop_qwen(ranks, include_qwen).sort_values("step")
    colours = colour_map(data["base_model"].unique(), BASE_MODEL_COLOURS)

    plot = (
        ggplot(data, aes("step", "median_rank", colour="base_model"))
        + geom_line()
        + geom_point(size=1.2)
        + facet_wrap("category")
        + scale_y_reverse()
        + scale_colour_manual(values=colours)
        + labs(x="Training step (checkpoint)", y=rank_axis_title("Median rank (Big Two)"), colour="Base model")
        + _with_title(title)
        + _theme()
    )
    return _save(plot, out_pdf, out_png, width, height)


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
    _require(final_ranks, ["base_model", "data_source", "data_size_k", "category", "median_rank"], "final_ranks")
    data = _drop_qwen(final_ranks, include_qwen)
    data = data.assign(data_source=_ordered(data["data_source"]))
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
        + _with_title(title)
        + _theme()
        + theme(axis_text_x=element_text(rotation=45, ha="right"))
    )
    return _save(plot, out_pdf, out_png, width, height)


def plot_rank_changes(
    changes: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    n_tokens: int = 10,
    title: str | None = None,
    width: float = 4.5,
    height: float = 5.0,
) -> ggplot:
    """Figures 5 / A6: the tokens whose rank rose most and fell most between two checkpoints.

    ``changes``: one row per token with ``token``, ``category``, ``rank_first``, ``rank_final``
    (1 = best) and ``rank_change`` = rank_first - rank_final (positive = rose). Shows the
    ``n_tokens`` that rose most and the ``n_tokens`` that fell most (all tokens when there are
    at most 2 x ``n_tokens``) as horizontal bars coloured by category, largest rise on top;
    each token is labelled "token (first → final)".
    """
    _require(changes, ["token", "category", "rank_first", "rank_final", "rank_change"], "changes")
    if n_tokens < 1:
        raise InputError(f"n_tokens: must be at least 1, got {n_tokens}")
    duplicated = changes["token"][changes["token"].duplicated()].unique()
    if len(duplicated):
        raise InputError(f"changes: token(s) listed twice: {', '.join(map(str, duplicated[:5]))}")
    ranked = changes.sort_values("rank_change", ascending=False)
    shown = ranked if len(ranked) <= 2 * n_tokens else pd.concat([ranked.head(n_tokens), ranked.tail(n_tokens)])
    labels = (
        shown["token"].astype(str)
        + " ("
        + shown["rank_first"].round().astype(int).astype(str)
        + " → "
        + shown["rank_final"].round().astype(int).astype(str)
        + ")"
    )
    data = shown.assign(label=pd.Categorical(labels, categories=labels.tolist()[::-1], ordered=True))

    plot = (
        ggplot(data, aes("label", "rank_change", fill="category"))
        + geom_col(width=0.75)
        + geom_hline(yintercept=0, colour="black", size=0.3)
        + coord_flip()
        + scale_fill_manual(values=colour_map(data["category"].unique(), BIG_TWO_COLOURS))
        + labs(x="Token (rank first → final)", y="Rank change (positive = preferred late in training)", fill="")
        + _with_title(title)
        + _theme()
    )
    return _save(plot, out_pdf, out_png, width, height)


def plot_kendall(
    tau: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    title: str | None = None,
    width: float = 6.0,
    height: float = 3.0,
) -> ggplot:
    """Figure G1: Kendall tau-b between checkpoints' token rankings over training.

    ``tau``: ``base_model``, ``step``, ``tau_previous`` (tau with the previous checkpoint; NaN
    for the first), ``tau_final`` (tau with the final checkpoint). One panel per comparison,
    lines + points per base model.
    """
    _require(tau, ["base_model", "step", "tau_previous", "tau_final"], "tau")
    data = tau.melt(
        id_vars=["base_model", "step"], value_vars=list(KENDALL_COMPARISONS), var_name="comparison", value_name="tau"
    ).dropna(subset=["tau"])
    data = data.assign(
        comparison=pd.Categorical(
            data["comparison"].map(KENDALL_COMPARISONS), categories=list(KENDALL_COMPARISONS.values()), ordered=True
        )
    ).sort_values("step")

    plot = (
        ggplot(data, aes("step", "tau", colour="base_model"))
        + geom_line()
        + geom_point(size=1.2)
        + facet_wrap("comparison")
        + scale_colour_manual(values=colour_map(data["base_model"].unique(), BASE_MODEL_COLOURS))
        + labs(x="Training step (checkpoint)", y="Kendall's tau-b", colour="Base model")
        + _with_title(title)
        + _theme()
    )
    return _save(plot, out_pdf, out_png, width, height)
