"""Appendix H.1 tables: a trained RM's whole vocabulary ranked by reward at its early and at
its final checkpoint, the highest and lowest tokens of each, as CSV and LaTeX (the ranking and
the LaTeX rendering of :mod:`rmbias.implicit.tables`)."""

from __future__ import annotations

import logging
import os

import pandas as pd

from rmbias.implicit.tables import LATEX_HEADER, latex_escape, latex_label, top_bottom
from rmbias.io import read_parquet, write_csv, write_text
from rmbias.training.dynamics import compared_steps, step_columns

logger = logging.getLogger(__name__)


H1_COLUMNS = {("early", "top"): "Top early tokens", ("early", "bottom"): "Bottom early tokens",
              ("final", "top"): "Top final tokens", ("final", "bottom"): "Bottom final tokens"}
"""The columns of an Appendix H.1 table, in the paper's order: (checkpoint, half) → header."""


def early_final_top_bottom(scores: pd.DataFrame, first_step: int | None = None, final_step: int | None = None,
                           n: int = 5) -> pd.DataFrame:
    """Appendix H.1: the ``n`` highest and lowest rewarded tokens of a checkpoint score table
    (``decoded`` and ``step-{N}`` columns, every scored token) at the early and at the final
    checkpoint (:func:`~rmbias.training.dynamics.compared_steps`). Long frame: checkpoint (early,
    final), step, half (top, bottom), position (1 = the highest for top, the lowest for bottom),
    rank (1 = highest reward), decoded, score."""
    columns = dict(step_columns(scores))
    steps = dict(zip(("early", "final"), compared_steps(columns, first_step, final_step)))
    parts = []
    for checkpoint, step in steps.items():
        table = top_bottom(scores[["decoded", columns[step]]], measure=columns[step], n=n)
        table = table.sort_values("rank", ascending=True, kind="stable")
        top, bottom = table[table["half"] == "top"], table[table["half"] == "bottom"].iloc[::-1]
        for half in (top, bottom):
            parts.append(half.assign(checkpoint=checkpoint, step=step, position=range(1, len(half) + 1)))
    return pd.concat(parts, ignore_index=True)[["checkpoint", "step", "half", "position", "rank", "decoded", "score"]]


def early_final_latex(table: pd.DataFrame, caption: str, label: str) -> str:
    """LaTeX for an :func:`early_final_top_bottom` table, laid out as the paper's H.1 tables: four
    token columns (top and bottom at the early, then at the final checkpoint), one row per position."""
    cells = {key: table[(table["checkpoint"] == key[0]) & (table["half"] == key[1])]["decoded"].tolist() for key in H1_COLUMNS}
    rows = max(len(tokens) for tokens in cells.values())
    body = [
        " & ".join(rf"\texttt{{{latex_escape(tokens[i])}}}" if i < len(tokens) else "" for tokens in cells.values()) + r" \\"
        for i in range(rows)
    ]
    steps = table.drop_duplicates("checkpoint").set_index("checkpoint")["step"]
    full_caption = f"{caption} Early: step {steps.get('early')}; final: step {steps.get('final')}."
    lines = [
        *LATEX_HEADER,
        r"\begin{table}",
        r"\centering\scriptsize",
        rf"\caption{{{latex_escape(full_caption, visible_spaces=False)}}}",
        rf"\label{{{latex_label(label)}}}",
        r"\begin{tabular}{llll}",
        r"\toprule",
        " & ".join(H1_COLUMNS.values()) + r" \\",
        r"\midrule",
        *body,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return "\n".join(lines) + "\n"


def early_final_table(scores_path: str | os.PathLike, csv_path: str | os.PathLike, tex_path: str | os.PathLike,
                      caption: str, label: str, first_step: int | None = None, final_step: int | None = None,
                      n: int = 5) -> None:
    """The ``training_table`` job: :func:`early_final_top_bottom` of a run's checkpoint scores,
    written as CSV and LaTeX (:func:`early_final_latex`)."""
    table = early_final_top_bottom(read_parquet(scores_path), first_step, final_step, n)
    write_csv(table, csv_path)
    write_text(early_final_latex(table, caption, label), tex_path)
    logger.info("%s: top and bottom %d tokens at steps %s -> %s, %s", scores_path, n,
                ", ".join(map(str, table["step"].unique())), csv_path, tex_path)
