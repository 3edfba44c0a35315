"""Top/bottom token tables (paper Table 1, A2, A3): ranks, CSV and LaTeX.

Tokens are ranked by one implicit-reward measure over every joined token (rank 1 = highest
score); the tables show the highest and lowest ``n`` with their rank and score. The
Appendix H.1 tables (:mod:`rmbias.training.early_final_tables`) use the same ranking and LaTeX.

The LaTeX renders any decoded string safely inside ``\\texttt``:

* LaTeX specials ``\\ & % $ # _ { } ~ ^`` and ``< > |`` (which the default OT1 font would
  turn into other glyphs) become their text commands;
* every space becomes ``\\_``, as in the paper ("underscores indicate whitespace"), so a
  literal ``_`` and a space look alike, exactly as in the paper;
* ``\\n``, ``\\t``, ``\\r`` print as ``\\n``, ``\\t``, ``\\r``; any other control, format or
  separator character (e.g. U+00A0, U+200B) prints as ``\\u{XXXX}``; the empty string prints as
  an italic ``(empty)``;
* runs of CJK characters are wrapped in ``\\rmbiascjk{...}`` and runs of other characters
  outside Latin script (Cyrillic, Arabic, emoji, ...) in ``\\rmbiasscript{...}``. The file
  defines both with ``\\providecommand`` as pass-through, which compiles under xelatex/lualatex
  with a font that has the glyphs (e.g. xeCJK). For pdflatex, define them before
  ``\\input`` of the table, e.g. with ``\\usepackage{CJKutf8}``:
  ``\\newcommand{\\rmbiascjk}[1]{\\begin{CJK}{UTF8}{gbsn}#1\\end{CJK}}``.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata

import pandas as pd

from rmbias.io import read_parquet, write_csv, write_text

logger = logging.getLogger(__name__)

TOP_N = 15
"""Tokens shown at each end of Table 1."""

_SPECIALS = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
}
_NAMED_CONTROLS = {"\n": "n", "\t": "t", "\r": "r"}
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}
_CJK_NAME_PREFIXES = ("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "BOPOMOFO", "IDEOGRAPHIC", "FULLWIDTH", "HALFWIDTH")


def rank_tokens(frame: pd.DataFrame, measure: str) -> pd.DataFrame:
    """All tokens by descending ``measure``: columns rank (1 = highest, ordinal), decoded, score.

    Ties are ordered by decoded string so the ranking is deterministic.
    """
    ordered = frame.sort_values([measure, "decoded"], ascending=[False, True], kind="mergesort")
    return pd.DataFrame(
        {
            "rank": range(1, len(ordered) + 1),
            "decoded": ordered["decoded"].to_numpy(),
            "score": ordered[measure].to_numpy(dtype=float),
        }
    )


def top_bottom(frame: pd.DataFrame, measure: str = "MWLR", n: int = TOP_N) -> pd.DataFrame:
    """The ``n`` highest and ``n`` lowest tokens: columns half (top|bottom), rank, decoded, score.

    Ranks are over all tokens of ``frame``. With fewer than 2n tokens the halves do not
    overlap: the bottom half holds only ranks after the top half.
    """
    ranked = rank_tokens(frame, measure)
    top = ranked.head(n)
    bottom = ranked.iloc[max(len(top), len(ranked) - n) :]
    return pd.concat([top.assign(half="top"), bottom.assign(half="bottom")], ignore_index=True)[
        ["half", "rank", "decoded", "score"]
    ]


def _script_class(char: str) -> str:
    """'ascii', 'latin' (non-ASCII Latin letters, marks and symbols fonts carry), 'cjk' or 'other'."""
    if char.isascii():
        return "ascii"
    name = unicodedata.name(char, "")
    if name.startswith(_CJK_NAME_PREFIXES):
        return "cjk"
    if name.startswith("LATIN") or ord(char) <= 0xFF:
        return "latin"
    return "other"


def _escape_char(char: str, visible_spaces: bool) -> str:
    if char == " ":
        return r"\_" if visible_spaces else " "
    if char in _SPECIALS:
        return _SPECIALS[char]
    if char in _NAMED_CONTROLS:
        return r"\textbackslash{}" + _NAMED_CONTROLS[char]
    if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
        return rf"\textbackslash{{}}u\{{{ord(char):04X}\}}"
    return char


def latex_escape(text: str, visible_spaces: bool = True) -> str:
    """``text`` as LaTeX text-mode source that prints it literally (rules in the module docstring).

    ``visible_spaces=False`` keeps spaces as spaces, for captions.
    """
    if not text:
        return r"\textit{(empty)}"
    pieces = []
    for script, run in _script_runs(text):
        escaped = "".join(_escape_char(char, visible_spaces) for char in run)
        if script == "cjk":
            escaped = rf"\rmbiascjk{{{escaped}}}"
        elif script == "other":
            escaped = rf"\rmbiasscript{{{escaped}}}"
        pieces.append(escaped)
    return "".join(pieces)


def _script_runs(text: str) -> list[tuple[str, str]]:
    """Split ``text`` into maximal runs of one script class; invisible characters join the ASCII class."""
    runs: list[tuple[str, str]] = []
    for char in text:
        script = "ascii" if unicodedata.category(char) in _INVISIBLE_CATEGORIES else _script_class(char)
        if runs and runs[-1][0] == script:
            runs[-1] = (script, runs[-1][1] + char)
        else:
            runs.append((script, char))
    return runs


def _latex_half(rows: pd.DataFrame, ellipsis_first: bool) -> list[str]:
    ellipsis = [r"\ldots & \ldots & \ldots \\"]
    body = [
        rf"{rank:,} & \texttt{{{latex_escape(decoded)}}} & {score:.5f} \\"
        for rank, decoded, score in rows[["rank", "decoded", "score"]].itertuples(index=False)
    ]
    return [
        r"\begin{minipage}[t]{0.48\textwidth}",
        r"\centering",
        r"\begin{tabular}{rll}",
        r"\toprule",
        r"Rank & Decoded & Score \\",
        r"\midrule",
        *(ellipsis + body if ellipsis_first else body + ellipsis),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{minipage}",
    ]


LATEX_HEADER = (
    "% Generated by rmbias.implicit.tables. Needs \\usepackage{booktabs}. Spaces in tokens print as \\_;",
    "% CJK runs are wrapped in \\rmbiascjk{...}, other non-Latin runs in \\rmbiasscript{...}.",
    "% Both default to pass-through (xelatex/lualatex with a suitable font); for pdflatex define",
    "% them before \\input, e.g. \\newcommand{\\rmbiascjk}[1]{\\begin{CJK}{UTF8}{gbsn}#1\\end{CJK}}.",
    r"\providecommand{\rmbiascjk}[1]{#1}",
    r"\providecommand{\rmbiasscript}[1]{#1}",
)


def latex_label(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9:._-]", "-", label)


def top_bottom_latex(table: pd.DataFrame, caption: str, label: str) -> str:
    """LaTeX for a :func:`top_bottom` table, laid out as the paper's Table 1.

    Two side-by-side halves (Rank / Decoded / Score, booktabs rules): the top tokens followed by
    an "…" row, then an "…" row followed by the bottom tokens. Scores have 5 decimals, ranks
    thousands separators. ``caption`` is plain text (escaped here); ``label`` is reduced to
    characters safe in ``\\label``.
    """
    lines = [
        *LATEX_HEADER,
        r"\begin{table*}",
        r"\centering\scriptsize",
        rf"\caption{{{latex_escape(caption, visible_spaces=False)}}}",
        rf"\label{{{latex_label(label)}}}",
        *_latex_half(table[table["half"] == "top"], ellipsis_first=False),
        r"\hfill",
        *_latex_half(table[table["half"] == "bottom"], ellipsis_first=True),
        r"\end{table*}",
    ]
    return "\n".join(lines) + "\n"


def read_top_bottom_csv(path: str | os.PathLike) -> pd.DataFrame:
    """Read a :func:`write_top_bottom` CSV back with every decoded string intact ("nan", "" included)."""
    return pd.read_csv(
        path,
        dtype={"half": str, "rank": "int64", "decoded": str, "score": "float64"},
        keep_default_na=False,
        na_filter=False,
    )


def write_top_bottom(
    frame: pd.DataFrame,
    csv_path: str | os.PathLike,
    tex_path: str | os.PathLike,
    caption: str,
    label: str,
    measure: str = "MWLR",
    n: int = TOP_N,
) -> None:
    """Write the :func:`top_bottom` table of an implicit pair frame as CSV and LaTeX (atomically)."""
    table = top_bottom(frame, measure, n)
    write_csv(table, csv_path)
    write_text(top_bottom_latex(table, caption, label), tex_path)


def top_bottom_table(implicit_path: str | os.PathLike, measure: str = "MWLR", **table: object) -> None:
    """The ``table`` job: :func:`write_top_bottom` (``table`` are its other arguments) of the
    implicit pair file ``implicit_path``."""
    frame = read_parquet(implicit_path, columns=["decoded", measure])
    write_top_bottom(frame, measure=measure, **table)
    logger.info("%s: top and bottom tokens by %s of %d -> %s, %s", implicit_path, measure, len(frame), table["csv_path"], table["tex_path"])
