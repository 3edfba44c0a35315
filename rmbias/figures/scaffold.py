"""The plotnine scaffold every figure shares: palettes, theme, checks, ordering, saving.

Every ``plot_*`` function of :mod:`rmbias.figures` takes tidy pandas frame(s), checks the
columns it needs (:func:`require_frame`: a missing column raises
:class:`~rmbias.io.InputError` naming it), writes the figure twice -- PDF and a 150-dpi PNG --
through :func:`save_figure` (both files are rendered to temporary names first, so a failing
plot leaves neither behind), and returns the ``ggplot`` object.

Conventions shared by all figures:

* one fixed colour per base-model family (:data:`BASE_MODEL_COLOURS`), so Gemma is the same
  red and Llama the same blue in every figure; a model name is matched to its family by a
  case-insensitive substring (``"gemma-2-2b-it"`` is Gemma);
* ranks follow the paper: rank 1 = best. Every rank axis is reversed so that the best rank is
  at the top, and its title says so;
* sizes are in inches; ``title`` (optional) is drawn above the plot.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
from plotnine import element_blank, element_rect, element_text, ggplot, labs, theme, theme_bw

from rmbias.frames import require_columns
from rmbias.io import InputError, atomic_path
from rmbias.models.families import FAMILY_LABELS, family_label

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike

BASE_MODEL_COLOURS: dict[str, str] = dict(zip(FAMILY_LABELS, ("#DB4437", "#0064E0", "#7C3AED")))
"""Colour of each base-model family label (Gemma, Llama, Qwen), used by every figure."""

UNMATCHED_COLOURS: tuple[str, ...] = ("#E69F00", "#009E73", "#56B4E9", "#CC79A7", "#555555")
"""Colours, in order, for names that match no key of a fixed palette."""

PNG_DPI = 150
FRAMING_ORDER = ("positive", "negative")


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


def require_frame(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise InputError naming ``name`` and every column of ``columns`` that ``frame`` lacks, or if it is empty."""
    require_columns(frame, columns, name)
    if frame.empty:
        raise InputError(f"{name}: no rows to plot")


def ordered(values: pd.Series, preferred: Sequence[str] = ()) -> pd.Categorical:
    """Categorical of ``values``: levels of ``preferred`` that occur first, then the rest in order of appearance."""
    present = list(dict.fromkeys(values))
    levels = [level for level in preferred if level in present] + [v for v in present if v not in preferred]
    return pd.Categorical(values, categories=levels, ordered=True)


def paper_theme(legend_position: str = "bottom") -> theme:
    """The theme of every figure: black-and-white, 9 pt, no minor grid, grey strips, small left caption."""
    return theme_bw(base_size=9) + theme(
        panel_grid_minor=element_blank(),
        strip_background=element_rect(fill="#F0F0F0"),
        legend_position=legend_position,
        legend_box="vertical",
        plot_caption=element_text(size=7, ha="left"),
    )


def with_title(title: str | None) -> labs:
    """A ``labs`` layer drawing ``title`` above the plot, or nothing when ``title`` is empty."""
    return labs(title=title) if title else labs()


def top_of_panels(frame: pd.DataFrame, panel_columns: list[str], value: str, headroom: float = 0.12) -> pd.DataFrame:
    """Per panel, a rank just above the best (smallest) ``value``: min - headroom * range.

    On a reversed rank axis this lies above every observation of the panel; a label placed
    there does not cover the data. Returns ``panel_columns`` + ``label_y``.
    """
    grouped = frame.groupby(panel_columns, observed=True)[value]
    span = (grouped.max() - grouped.min()).where(lambda s: s > 0, 1.0)
    return (grouped.min() - headroom * span).rename("label_y").reset_index()


def save_figure(plot: ggplot, out_pdf: PathLike, out_png: PathLike, width: float, height: float) -> ggplot:
    """Render ``plot`` to PDF and PNG (``PNG_DPI``) under temporary names; rename both only if both succeed."""
    with atomic_path(out_pdf) as pdf_tmp, atomic_path(out_png) as png_tmp:
        plot.save(pdf_tmp, width=width, height=height, units="in", verbose=False)
        plot.save(png_tmp, width=width, height=height, units="in", dpi=PNG_DPI, verbose=False)
    logger.info("wrote %s and %s (%.1f x %.1f in)", out_pdf, out_png, width, height)
    return plot


def drop_qwen(frame: pd.DataFrame, include_qwen: bool) -> pd.DataFrame:
    """``frame`` without Qwen rows (``base_model`` containing "qwen", any case) unless ``include_qwen``."""
    if include_qwen:
        return frame
    return frame[~frame["base_model"].astype(str).str.contains(family_label("qwen"), case=False, regex=False)]
