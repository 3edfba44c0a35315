"""RM-training figures: Figures 4a / A5a (ranks over checkpoints), 5 / A6 (rank changes), A7 (the
trajectories of Figure 5's tokens), G1 (Kendall tau)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
from plotnine import (
    aes,
    coord_flip,
    facet_wrap,
    geom_col,
    geom_hline,
    geom_line,
    geom_point,
    geom_text,
    ggplot,
    labs,
    scale_colour_manual,
    scale_fill_manual,
    scale_y_reverse,
)

from rmbias.figures.scaffold import (
    BASE_MODEL_COLOURS,
    PathLike,
    colour_map,
    drop_qwen,
    paper_theme,
    rank_axis_title,
    require_frame,
    save_figure,
    with_title,
)
from rmbias.io import InputError, read_csv

BIG_TWO_COLOURS: dict[str, str] = {"Agency": "#2E8B57", "Communion": "#D99A00"}
"""Colour of each Big Two category (Figure 5, A6)."""

KENDALL_COMPARISONS = {"tau_previous": "vs previous checkpoint", "tau_final": "vs final checkpoint"}


def _lines_over_training(data: pd.DataFrame, y: str, panels: str, y_title: str, title: str | None) -> ggplot:
    """``y`` against training step: a line and points per base model (family colours), one panel per ``panels`` value."""
    return (
        ggplot(data, aes("step", y, colour="base_model"))
        + geom_line()
        + geom_point(size=1.2)
        + facet_wrap(panels)
        + scale_colour_manual(values=colour_map(data["base_model"].unique(), BASE_MODEL_COLOURS))
        + labs(x="Training step (checkpoint)", y=y_title, colour="Base model")
        + with_title(title)
        + paper_theme()
    )


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
    require_frame(ranks, ["base_model", "step", "category", "median_rank"], "ranks")
    data = drop_qwen(ranks, include_qwen).sort_values("step")
    plot = _lines_over_training(data, "median_rank", "category", rank_axis_title("Median rank (Big Two)"), title)
    return save_figure(plot + scale_y_reverse(), out_pdf, out_png, width, height)


def shown_rank_changes(changes: pd.DataFrame, n_tokens: int = 10) -> pd.DataFrame:
    """The rows of a rank-change table that Figures 5 / A6 show: the ``n_tokens`` that rose most
    and the ``n_tokens`` that fell most (all rows when there are at most 2 x ``n_tokens``),
    largest rise first. Raises :class:`InputError` on a token listed twice or ``n_tokens`` < 1."""
    require_frame(changes, ["token", "category", "rank_first", "rank_final", "rank_change"], "changes")
    if n_tokens < 1:
        raise InputError(f"n_tokens: must be at least 1, got {n_tokens}")
    duplicated = changes["token"][changes["token"].duplicated()].unique()
    if len(duplicated):
        raise InputError(f"changes: token(s) listed twice: {', '.join(map(str, duplicated[:5]))}")
    ranked = changes.sort_values("rank_change", ascending=False)
    return ranked if len(ranked) <= 2 * n_tokens else pd.concat([ranked.head(n_tokens), ranked.tail(n_tokens)])


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
    shown = shown_rank_changes(changes, n_tokens)
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
        + with_title(title)
        + paper_theme()
    )
    return save_figure(plot, out_pdf, out_png, width, height)


def plot_rank_trajectories(
    trajectories: pd.DataFrame,
    changes: pd.DataFrame,
    panels: Mapping[str, str],
    out_pdf: PathLike,
    out_png: PathLike,
    n_tokens: int = 10,
    title: str | None = None,
    width: float = 9.0,
    height: float = 4.0,
) -> ggplot:
    """Figure A7: the rank of each token of Figures 5 / A6 at every checkpoint.

    ``trajectories``: ``run``, ``token``, ``category``, ``step``, ``rank`` (1 = best);
    ``changes``: the rank-change table (``run`` plus :func:`shown_rank_changes`' columns);
    ``panels``: panel label → run, in panel order (e.g. ``{"fig5_llama": "llama-skywork-80k"}``).
    Per panel, one line per token shown in that run's rank-change figure, coloured by category
    and labelled at the final checkpoint.
    """
    require_frame(trajectories, ["run", "token", "category", "step", "rank"], "trajectories")
    require_frame(changes, ["run"], "changes")
    parts = []
    for label, run in panels.items():
        shown = shown_rank_changes(changes[changes["run"] == run], n_tokens)
        rows = trajectories[(trajectories["run"] == run) & trajectories["token"].isin(shown["token"])]
        if rows.empty:
            raise InputError(f"trajectories: no checkpoint ranks of run {run}")
        parts.append(rows.assign(panel=f"{label}: {run}"))
    data = pd.concat(parts, ignore_index=True).sort_values("step")
    data = data.assign(panel=pd.Categorical(data["panel"], categories=list(dict.fromkeys(data["panel"])), ordered=True))
    ends = data[data["step"] == data.groupby("panel", observed=True)["step"].transform("max")]
    plot = (
        ggplot(data, aes("step", "rank", colour="category", group="token"))
        + geom_line(alpha=0.8)
        + geom_point(size=0.8)
        + geom_text(aes(label="token"), data=ends, ha="left", nudge_x=0, size=6)
        + facet_wrap("panel", scales="free_x")
        + scale_colour_manual(values=colour_map(data["category"].unique(), BIG_TWO_COLOURS))
        + scale_y_reverse()
        + labs(x="Training step (checkpoint)", y=rank_axis_title("Rank"), colour="")
        + with_title(title)
        + paper_theme()
    )
    return save_figure(plot, out_pdf, out_png, width, height)


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
    require_frame(tau, ["base_model", "step", "tau_previous", "tau_final"], "tau")
    data = tau.melt(
        id_vars=["base_model", "step"], value_vars=list(KENDALL_COMPARISONS), var_name="comparison", value_name="tau"
    ).dropna(subset=["tau"])
    data = data.assign(
        comparison=pd.Categorical(
            data["comparison"].map(KENDALL_COMPARISONS), categories=list(KENDALL_COMPARISONS.values()), ordered=True
        )
    ).sort_values("step")
    plot = _lines_over_training(data, "tau", "comparison", "Kendall's tau-b", title)
    return save_figure(plot, out_pdf, out_png, width, height)


def draw_checkpoint_ranks(ranks_path: PathLike, runs: Sequence[str], out_pdf: PathLike, out_png: PathLike, include_qwen: bool) -> None:
    """The ``checkpoint_figure`` job: :func:`plot_checkpoint_ranks` of the ``runs`` rows of the checkpoint-ranks CSV."""
    ranks = read_csv(ranks_path)
    plot_checkpoint_ranks(ranks[ranks["run"].isin(runs)], out_pdf, out_png, include_qwen=include_qwen)


def draw_rank_changes(changes_path: PathLike, run: str, out_pdf: PathLike, out_png: PathLike) -> None:
    """The ``rank_change_figure`` job: :func:`plot_rank_changes` of one run's rows of the rank-changes CSV.

    Tokens are read as strings exactly (a token "nan" or "null" stays a token)."""
    changes = read_csv(changes_path, keep_default_na=False, na_values=[""], dtype={"token": str})
    plot_rank_changes(changes[changes["run"] == run], out_pdf, out_png)


def draw_rank_trajectories(changes_path: PathLike, trajectories_path: PathLike, runs: Mapping[str, str],
                           out_pdf: PathLike, out_png: PathLike) -> None:
    """The ``trajectory_figure`` job: :func:`plot_rank_trajectories` of the rank-change figures'
    ``runs`` (figure name → run). Tokens are read as strings exactly."""
    strings = {"keep_default_na": False, "na_values": [""], "dtype": {"token": str}}
    plot_rank_trajectories(read_csv(trajectories_path, **strings), read_csv(changes_path, **strings), runs, out_pdf, out_png)


def draw_kendall(kendall_path: PathLike, runs: Sequence[str], out_pdf: PathLike, out_png: PathLike) -> None:
    """The ``kendall_figure`` job: :func:`plot_kendall` of the ``runs`` rows of the Kendall CSV."""
    tau = read_csv(kendall_path)
    plot_kendall(tau[tau["run"].isin(runs)], out_pdf, out_png)
