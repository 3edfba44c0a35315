"""Base-model figures: Figure 2 (log-prob ranks), Figure 3 (MWLR lollipop), Figure A3 (authority boost)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from plotnine import (
    aes,
    coord_flip,
    facet_grid,
    facet_wrap,
    geom_col,
    geom_hline,
    geom_point,
    geom_segment,
    geom_text,
    geom_violin,
    geom_vline,
    ggplot,
    labs,
    position_dodge,
    position_jitterdodge,
    scale_colour_manual,
    scale_fill_manual,
    scale_x_continuous,
    scale_y_continuous,
    scale_y_reverse,
)

from rmbias.figures.scaffold import (
    BASE_MODEL_COLOURS,
    FRAMING_ORDER,
    PathLike,
    colour_map,
    ordered,
    paper_theme,
    rank_axis_title,
    require_frame,
    save_figure,
    top_of_panels,
    with_title,
)
from rmbias.io import InputError, read_csv, read_parquet
from rmbias.training.authority_boost import generation_caption_line

TEMPLATE_FILLS = ("#3B3B3B", "#A6A6A6")
BOOSTED_FILLS = {"boosted": "#B8860B", "not boosted": "#A6A6A6"}


def plot_split_violins(
    median_ranks: pd.DataFrame,
    cell_tests: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    model_order: Sequence[str] | None = None,
    title: str | None = None,
    width: float = 4.5,
    height: float = 5.0,
    columns: str | None = None,
    category_axis: str = "Category",
) -> ggplot:
    """Figures 2a/2b: median log-prob rank of a lexicon's terms, two models compared per category.

    ``median_ranks``: ``model``, ``prompt``, ``framing`` (positive/negative), ``category``,
    ``median_rank`` (one row per model x prompt x category). Exactly two models; ``model_order``
    (default: order of appearance) puts the first on the left half of each split violin and the
    second on the right, each model's prompts as points on its side. One panel per framing
    (positive on top); ``cell_tests`` (``framing``, ``category``, ``stars``) gives the stars
    drawn above each category. ``columns`` names a further column of both frames (e.g. the
    rendering) whose values become side-by-side panel columns, in order of appearance.
    ``category_axis`` is the x axis' title (the lexicon's categories, e.g. "Big Two nouns category").
    """
    panels = ["framing", *([columns] if columns else [])]
    require_frame(median_ranks, ["model", "prompt", "category", "median_rank", *panels], "median_ranks")
    require_frame(cell_tests, ["category", "stars", *panels], "cell_tests")
    models = list(model_order) if model_order is not None else list(dict.fromkeys(median_ranks["model"]))
    present = set(median_ranks["model"])
    if len(models) != 2 or not set(models) <= present:
        raise InputError(f"median_ranks: split violins need exactly two models, got {sorted(present)} (order {models})")
    data = median_ranks[median_ranks["model"].isin(models)]
    data = data.assign(
        model=pd.Categorical(data["model"], categories=models, ordered=True),
        framing=ordered(data["framing"], FRAMING_ORDER),
        category=ordered(data["category"]),
        **({columns: ordered(data[columns])} if columns else {}),
    )
    colours = colour_map(models, BASE_MODEL_COLOURS)
    stars = cell_tests.merge(top_of_panels(data, panels, "median_rank"), on=panels)
    stars = stars.assign(framing=ordered(stars["framing"], FRAMING_ORDER),
                         **({columns: pd.Categorical(stars[columns], categories=data[columns].cat.categories, ordered=True)} if columns else {}))
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
        + (facet_grid(f"framing ~ {columns}", scales="free_y") if columns else facet_wrap("framing", ncol=1, scales="free_y"))
        + scale_y_reverse()
        + scale_fill_manual(values=colours)
        + scale_colour_manual(values=colours)
        + labs(x=category_axis, y=rank_axis_title("Median log-prob rank"), fill="Model", colour="Model")
        + with_title(title)
        + paper_theme()
    )
    return save_figure(plot, out_pdf, out_png, width, height)


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
    pair's words, each point is labelled with the word's rank; pairs that tie keep their order in
    ``mwlr``. Default height: 0.28 in per pair + 1.2 in.
    """
    require_frame(
        mwlr,
        ["llama", "gemma", "word", "mwlr", "rank", "llama_version", "llama_size_b", "gemma_version", "gemma_size_b"],
        "mwlr",
    )
    order_columns = ["llama_version", "llama_size_b", "gemma_version", "gemma_size_b"]
    data = mwlr.assign(pair=mwlr["llama"].astype(str) + " vs " + mwlr["gemma"].astype(str))
    pairs = data.drop_duplicates("pair").sort_values(order_columns, kind="stable")["pair"].tolist()
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
        + with_title(title)
        + paper_theme()
    )
    return save_figure(plot, out_pdf, out_png, width, height if height is not None else 0.28 * len(pairs) + 1.2)


def plot_authority_recovery(
    recovery: pd.DataFrame,
    out_pdf: PathLike,
    out_png: PathLike,
    title: str | None = None,
    width: float = 6.0,
    height: float = 3.0,
    caption: str | None = None,
) -> ggplot:
    """Figure A3a: how many of the 10 boosted authority words each implicit-reward measure puts in its top 10.

    ``recovery``: ``measure`` (e.g. MWLR; x order = order of appearance), ``template`` (e.g. with
    / without chat template), ``n_in_top10`` (integer 0-10). Bars per measure, dodged by template;
    ``caption`` is a line printed under the plot (the generation check's result).
    """
    require_frame(recovery, ["measure", "template", "n_in_top10"], "recovery")
    counts = recovery["n_in_top10"]
    if not counts.between(0, 10).all():
        raise InputError("recovery: n_in_top10 must lie in 0..10")
    data = recovery.assign(measure=ordered(recovery["measure"]), template=ordered(recovery["template"]))
    fills = dict(zip(data["template"].cat.categories, TEMPLATE_FILLS * len(data["template"].cat.categories)))

    plot = (
        ggplot(data, aes("measure", "n_in_top10", fill="template"))
        + geom_col(position=position_dodge(width=0.8), width=0.75)
        + geom_text(aes(label="n_in_top10", y="n_in_top10 + 0.4"), position=position_dodge(width=0.8), size=7)
        + geom_hline(yintercept=10, linetype="dashed", colour="grey", size=0.4)
        + scale_y_continuous(limits=(0, 10.5), breaks=range(0, 11, 2))
        + scale_fill_manual(values=fills)
        + labs(x="Implicit reward measure", y="Boosted words in top 10", fill="", caption=caption)
        + with_title(title)
        + paper_theme()
    )
    return save_figure(plot, out_pdf, out_png, width, height)


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
    require_frame(word_scores, ["word", "mwlr", "boosted"], "word_scores")
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
        + with_title(title)
        + paper_theme()
    )
    return save_figure(plot, out_pdf, out_png, width, height if height is not None else 0.16 * len(ordered_words) + 1.0)


def draw_split_violins(
    observations_path: PathLike, welch_path: PathLike, out_pdf: PathLike, out_png: PathLike, model_order: Sequence[str],
    category_axis: str,
) -> None:
    """The ``fig2_figure`` job: :func:`plot_split_violins` of the Figure 2 observations (parquet) and cell tests (CSV)."""
    plot_split_violins(read_parquet(observations_path), read_csv(welch_path), out_pdf, out_png, model_order=model_order,
                       category_axis=category_axis)


MODEL_CATEGORY_TERMS = ("C(category):C(model)", "C(category):C(framing):C(model)")
"""The Figure 2 ANOVA terms in which the two models rank the categories differently (the rendering panels' headers)."""


def anova_term_line(anova: pd.DataFrame, term: str) -> str:
    """One ANOVA term of a Figure 2 ANOVA table (``term``, ``df``, ``F``, ``p``; ``Residual`` row)
    as ``category × model: F(1, 208) = 43.1, p = 4.1e-10``."""
    require_frame(anova, ["term", "df", "F", "p"], "anova")
    rows = anova.set_index("term")
    if term not in rows.index or "Residual" not in rows.index:
        raise InputError(f"anova: needs the rows {term} and Residual")
    name = " × ".join(part.removeprefix("C(").removesuffix(")") for part in term.split(":"))
    row = rows.loc[term]
    return f"{name}: F({row['df']:g}, {rows.loc['Residual', 'df']:g}) = {row['F']:.1f}, p = {row['p']:.2g}"


def rendering_panels(
    median_ranks: Mapping[str, pd.DataFrame],
    cell_tests: Mapping[str, pd.DataFrame],
    anovas: Mapping[str, pd.DataFrame],
    model_orders: Mapping[str, Sequence[str]],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figure 2 of one set under several renderings, as one frame for :func:`plot_split_violins`
    with ``columns="rendering"``.

    Each mapping is keyed by rendering (its order is the panels' order); ``model_orders`` gives
    each rendering's two model ids, the first rendering's naming both models everywhere (a
    derived plain-rendering id becomes its model's). Returns (median ranks, cell tests), each
    with a ``rendering`` column whose label also gives :data:`MODEL_CATEGORY_TERMS` of that
    rendering's ANOVA.
    """
    names = list(next(iter(model_orders.values())))
    ranks, tests = [], []
    for rendering, order in model_orders.items():
        label = "\n".join([f"{rendering} rendering", *(anova_term_line(anovas[rendering], term) for term in MODEL_CATEGORY_TERMS)])
        ranks.append(median_ranks[rendering].assign(
            model=median_ranks[rendering]["model"].map(dict(zip(order, names))), rendering=label))
        tests.append(cell_tests[rendering].assign(rendering=label))
    return pd.concat(ranks, ignore_index=True), pd.concat(tests, ignore_index=True)


def draw_rendering_violins(
    observations_paths: Sequence[PathLike],
    welch_paths: Sequence[PathLike],
    anova_paths: Sequence[PathLike],
    out_pdf: PathLike,
    out_png: PathLike,
    model_orders: Mapping[str, Sequence[str]],
    category_axis: str,
) -> ggplot:
    """The ``fig2_rendering_figure`` job: one Figure 2 set under each rendering side by side
    (:func:`rendering_panels`); the path lists follow ``model_orders``' renderings."""
    renderings = list(model_orders)
    ranks, tests = rendering_panels(
        dict(zip(renderings, map(read_parquet, observations_paths))),
        dict(zip(renderings, map(read_csv, welch_paths))),
        dict(zip(renderings, map(read_csv, anova_paths))),
        model_orders,
    )
    names = list(model_orders[renderings[0]])
    return plot_split_violins(ranks, tests, out_pdf, out_png, model_order=names, columns="rendering",
                              width=3.5 * len(renderings) + 1.0, height=5.5, category_axis=category_axis)


def draw_lollipop(mwlr_path: PathLike, out_pdf: PathLike, out_png: PathLike) -> None:
    """The ``fig3_figure`` job: :func:`plot_lollipop` of the Figure 3 table (CSV)."""
    plot_lollipop(read_csv(mwlr_path), out_pdf, out_png)


def draw_authority_figures(
    recovery_path: PathLike,
    words_path: PathLike,
    generation_path: PathLike,
    recovery_pdf: PathLike,
    recovery_png: PathLike,
    words_pdf: PathLike,
    words_png: PathLike,
) -> None:
    """The ``authority_figures`` job: Figure A3a (:func:`plot_authority_recovery`, captioned with
    :func:`~rmbias.training.authority_boost.generation_caption_line` of the generation table) and A3b
    (:func:`plot_authority_words`)."""
    generations = read_csv(generation_path, keep_default_na=False, dtype={"first_word": str})
    plot_authority_recovery(read_csv(recovery_path), recovery_pdf, recovery_png,
                            caption=generation_caption_line(generations))
    plot_authority_words(read_csv(words_path), words_pdf, words_png)
