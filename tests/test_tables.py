"""Tests for rmbias.implicit.tables and rmbias.training.early_final_tables: ranks, LaTeX escaping and layout, CSV round-trip."""

import re

import numpy as np
import pandas as pd
import pytest

from rmbias.implicit.tables import (
    latex_escape,
    rank_tokens,
    read_top_bottom_csv,
    top_bottom,
    top_bottom_latex,
    write_top_bottom,
)
from rmbias.training.early_final_tables import early_final_latex, early_final_top_bottom

NASTY = [
    "\\", "_", "&", "\n", "\t", "爱", " Love", "**", "\\n", "100%", "$x$", "#1", "{a}", "~^",
    "<|eot|>", "\r\n", "\x07", "\u00a0", "\u200b", "  ", "", "Привет", "愛の", "🙂", "café", "a\\_b", " }{ ",
]  # fmt: skip


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        ("\\", r"\textbackslash{}"),
        ("_", r"\_"),
        ("&", r"\&"),
        ("\n", r"\textbackslash{}n"),
        ("\t", r"\textbackslash{}t"),
        ("\n\n", r"\textbackslash{}n\textbackslash{}n"),
        ("爱", r"\rmbiascjk{爱}"),
        (" Love", r"\_Love"),
        ("**", "**"),
        ("a%b$c#d", r"a\%b\$c\#d"),
        ("{~^}", r"\{\textasciitilde{}\textasciicircum{}\}"),
        ("\u00a0x", r"\textbackslash{}u\{00A0\}x"),
        ("Привет", r"\rmbiasscript{Привет}"),
        (" 爱情 ", r"\_\rmbiascjk{爱情}\_"),
        ("café", "café"),
        ("", r"\textit{(empty)}"),
    ],
)
def test_latex_escape_of_single_tokens(token, expected):
    assert latex_escape(token) == expected


def strip_known_commands(latex: str) -> str:
    """Remove the commands latex_escape may emit, leaving what would reach TeX as raw text."""
    commands = r"\\(textbackslash|textasciitilde|textasciicircum|textless|textgreater|textbar|textit|rmbiascjk|rmbiasscript)"
    without_commands = re.sub(commands, "", latex)
    return re.sub(r"\\[&%$#_{}]", "", without_commands)


@pytest.mark.parametrize("token", NASTY)
def test_escaped_tokens_leave_no_raw_special_or_invisible_characters(token):
    raw = strip_known_commands(latex_escape(token))
    assert not set(raw) & set("\\&%$#_~^\n\t\r\x07\u00a0\u200b "), repr(raw)
    depth = 0
    for char in raw:
        depth += {"{": 1, "}": -1}.get(char, 0)
        assert depth >= 0
    assert depth == 0


def test_caption_keeps_spaces_but_escapes_specials():
    assert latex_escape("Llama & Gemma 100%", visible_spaces=False) == r"Llama \& Gemma 100\%"


def scored_frame(n_tokens: int) -> pd.DataFrame:
    """Token t{i} scores i − n/2, rows shuffled: rank r holds t{n − r}."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"decoded": [f"t{i}" for i in range(n_tokens)], "MWLR": np.arange(n_tokens) - n_tokens / 2})
    return frame.iloc[rng.permutation(n_tokens)].reset_index(drop=True)


def test_top_and_bottom_ranks_on_a_hand_made_frame():
    table = top_bottom(scored_frame(40), "MWLR", n=15)
    top, bottom = table[table["half"] == "top"], table[table["half"] == "bottom"]
    assert list(top["rank"]) == list(range(1, 16))
    assert list(top["decoded"]) == [f"t{i}" for i in range(39, 24, -1)]
    assert list(bottom["rank"]) == list(range(26, 41))
    assert list(bottom["decoded"]) == [f"t{i}" for i in range(14, -1, -1)]
    assert list(bottom["score"]) == [float(i - 20) for i in range(14, -1, -1)]


def test_halves_do_not_overlap_and_ties_order_by_decoded():
    frame = pd.DataFrame({"decoded": ["b", "a", "c", "d"], "MWLR": [1.0, 1.0, 0.0, -1.0]})
    assert list(rank_tokens(frame, "MWLR")["decoded"]) == ["a", "b", "c", "d"]
    table = top_bottom(frame, "MWLR", n=3)
    assert list(table["half"]) == ["top", "top", "top", "bottom"]
    assert list(table["rank"]) == [1, 2, 3, 4]


def test_latex_layout_matches_table_1():
    frame = scored_frame(1200).assign(MWLR=lambda f: f["MWLR"] / 1000)
    frame.loc[frame["decoded"] == "t1199", "decoded"] = " Love"
    latex = top_bottom_latex(top_bottom(frame, "MWLR", n=15), caption="Llama vs Gemma", label="tab:mwlr llama")
    assert latex.count(r"\begin{tabular}{rll}") == 2
    assert latex.count(r"Rank & Decoded & Score \\") == 2
    assert latex.count(r"\ldots & \ldots & \ldots \\") == 2
    assert r"1 & \texttt{\_Love} & 0.59900 \\" in latex
    assert r"1,200 & \texttt{t0} & -0.60000 \\" in latex
    assert r"\label{tab:mwlr-llama}" in latex
    top_half, bottom_half = latex.split(r"\hfill")
    assert top_half.index(r"15 & \texttt{t1185}") < top_half.index(r"\ldots")
    assert bottom_half.index(r"\ldots") < bottom_half.index(r"1,186 & \texttt{t14}")
    assert r"\providecommand{\rmbiascjk}[1]{#1}" in latex


def test_csv_round_trip_keeps_every_token_and_score(tmp_path):
    tokens = ["nan", "", "NULL", " Love", "a,b", 'q"uote', "line\nbreak", "\r", "爱", "None", "\t"]
    scores = np.array([0.1, 1e-300, -0.38706, 3.0, -2.5, 1 / 3, 7.0, -7.0, 2 ** -40, 0.0, -1e-17])
    frame = pd.DataFrame({"decoded": tokens, "MWLR": scores})
    write_top_bottom(frame, tmp_path / "t.csv", tmp_path / "t.tex", caption="c", label="tab:t", n=5)
    back = read_top_bottom_csv(tmp_path / "t.csv")
    pd.testing.assert_frame_equal(back, top_bottom(frame, "MWLR", n=5), check_dtype=False)
    assert set(back["decoded"]) == set(tokens) - {tokens[i] for i in np.argsort(-scores)[5:6]}
    assert (tmp_path / "t.tex").read_text(encoding="utf-8").count(r"\texttt") == 10


def checkpoint_scores() -> pd.DataFrame:
    """Six tokens scored at steps 0, 1000 and 2000 (full vocabulary of a tiny run)."""
    return pd.DataFrame(
        {
            "decoded": ["Love", " love", "Freedom", "<center", "\u0fda", "table"],
            "token_id": range(6),
            "step-0": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "step-1000": [6.0, 5.0, 4.0, 3.0, 1.0, 2.0],
            "step-2000": [1.0, 2.0, 6.0, 5.0, 3.0, 4.0],
        }
    )


def test_h1_table_takes_top_and_bottom_at_the_early_and_final_checkpoint():
    table = early_final_top_bottom(checkpoint_scores(), n=2)
    assert set(table["step"]) == {1000, 2000}  # step 0 is the initialisation, not the first saved checkpoint
    cells = {(c, h): t["decoded"].tolist() for (c, h), t in table.groupby(["checkpoint", "half"])}
    assert cells[("early", "top")] == ["Love", " love"]
    assert cells[("early", "bottom")] == ["\u0fda", "table"]  # lowest first, as the paper's columns
    assert cells[("final", "top")] == ["Freedom", "<center"]
    assert cells[("final", "bottom")] == ["Love", " love"]
    assert table.loc[(table["checkpoint"] == "final") & (table["half"] == "bottom"), "rank"].tolist() == [6, 5]
    explicit = early_final_top_bottom(checkpoint_scores(), first_step=0, final_step=1000, n=1)
    assert explicit.drop_duplicates("checkpoint")["step"].tolist() == [0, 1000]


def test_h1_latex_has_the_papers_four_columns():
    tex = early_final_latex(early_final_top_bottom(checkpoint_scores(), n=2), "Run x.", "tab:H1 x")
    assert "Top early tokens & Bottom early tokens & Top final tokens & Bottom final tokens \\\\" in tex
    assert r"\texttt{Love} & \texttt{\rmbiasscript{" + "\u0fda" + r"}} & \texttt{Freedom} & \texttt{Love} \\" in tex
    assert r"\texttt{\_love} & \texttt{table} & \texttt{\textless{}center} & \texttt{\_love} \\" in tex
    assert "Early: step 1000; final: step 2000." in tex and r"\label{tab:H1-x}" in tex
