"""Preference files of both public schemas → one (prompt, chosen, rejected) frame."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from rmbias.io import InputError
from rmbias.training.preferences import check_preference_layout, preference_layout, read_preferences, split_pairs


def conversation(*turns: tuple[str, str]) -> list[dict]:
    return [{"role": role, "content": content} for role, content in turns]


def skywork_rows() -> list[dict]:
    prompt = [("user", "Name a colour.")]
    return [
        {"chosen": conversation(*prompt, ("assistant", "Blue.")),
         "rejected": conversation(*prompt, ("assistant", "No."))},
        {"chosen": conversation(("user", "Hi"), ("assistant", "Hello"), ("user", "A fruit?"), ("assistant", "Apple")),
         "rejected": conversation(("user", "Hi"), ("assistant", "Hello"), ("user", "A fruit?"), ("assistant", "Rock"))},
        {"chosen": conversation(*prompt, ("assistant", "   ")),  # empty response
         "rejected": conversation(*prompt, ("assistant", "No."))},
        {"chosen": conversation(*prompt, ("assistant", "Red.")), "rejected": None},  # missing field
        {"chosen": conversation(*prompt, ("user", "again?")),  # no final assistant turn
         "rejected": conversation(*prompt, ("assistant", "No."))},
        {"chosen": conversation(("user", "A"), ("assistant", "x")),  # prompts differ
         "rejected": conversation(("user", "B"), ("assistant", "y"))},
    ]


def unified_feedback_rows() -> list[dict]:
    def pair(a: str, b: str) -> dict:
        return {"conv_A": conversation(("user", "Best animal?"), ("assistant", a)),
                "conv_B": conversation(("user", "Best animal?"), ("assistant", b))}
    return [
        {**pair("cat", "dog"), "conv_A_rating": 2.0, "conv_B_rating": 7.0},   # B wins
        {**pair("owl", "eel"), "conv_A_rating": 9.0, "conv_B_rating": 1.0},   # A wins
        {**pair("yak", "emu"), "conv_A_rating": 5.0, "conv_B_rating": 5.0},   # tie
        {**pair("fox", ""), "conv_A_rating": 1.0, "conv_B_rating": 3.0},      # empty response
        {**pair("ant", "bee"), "conv_A_rating": 1.0},                          # missing rating
    ]


def write_jsonl(rows: list[dict], path, extra_lines: tuple[str, ...] = ()) -> None:
    lines = [json.dumps(row) for row in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_skywork_rows_become_pairs_and_bad_rows_are_counted(tmp_path, suffix):
    path = tmp_path / f"skywork{suffix}"
    if suffix == ".jsonl":
        write_jsonl(skywork_rows(), path, extra_lines=("{not json",))
    else:
        pd.DataFrame(skywork_rows()).to_parquet(path)
    data = read_preferences(path)
    assert data.schema == "skywork"
    assert list(data.pairs.columns) == ["prompt", "chosen", "rejected"]
    assert list(data.pairs["chosen"]) == ["Blue.", "Apple"]
    assert list(data.pairs["rejected"]) == ["No.", "Rock"]
    assert [list(p) for p in data.pairs["prompt"]][1] == conversation(("user", "Hi"), ("assistant", "Hello"), ("user", "A fruit?"))
    expected_skips = {"empty_response": 1, "missing_field": 1, "malformed_conversation": 1, "prompt_mismatch": 1}
    if suffix == ".jsonl":
        expected_skips["invalid_json"] = 1
    assert data.skipped == expected_skips


def test_unified_feedback_ratings_order_the_pair_and_ties_are_dropped(tmp_path):
    path = tmp_path / "uf.parquet"
    pd.DataFrame(unified_feedback_rows()).to_parquet(path)
    data = read_preferences(path)
    assert data.schema == "unified_feedback"
    assert list(zip(data.pairs["chosen"], data.pairs["rejected"])) == [("dog", "cat"), ("owl", "eel")]
    assert data.skipped == {"tie": 1, "empty_response": 1, "missing_field": 1}


def test_unified_feedback_winner_label(tmp_path):
    path = tmp_path / "uf.jsonl"
    base = {"conv_A": conversation(("user", "Q"), ("assistant", "a")),
            "conv_B": conversation(("user", "Q"), ("assistant", "b"))}
    write_jsonl([{**base, "winner": "model_a"}, {**base, "winner": "model_b"},
                 {**base, "winner": "tie (bothbad)"}, {**base, "winner": "model_c"}], path)
    data = read_preferences(path)
    assert list(zip(data.pairs["chosen"], data.pairs["rejected"])) == [("a", "b"), ("b", "a")]
    assert data.skipped == {"tie": 1, "unknown_label": 1}


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_layout_is_read_from_the_columns_and_checked_against_the_source(tmp_path, suffix):
    paths = {"skywork": tmp_path / f"skywork{suffix}", "unified_feedback": tmp_path / f"uf{suffix}"}
    for (layout, path), rows in zip(paths.items(), (skywork_rows(), unified_feedback_rows())):
        if suffix == ".jsonl":
            write_jsonl(rows, path)
        else:
            pd.DataFrame(rows).to_parquet(path)
        assert preference_layout(path) == layout
    check_preference_layout(paths["skywork"], "skywork", "run-a")
    check_preference_layout(paths["skywork"], "synthetic", "run-a")  # the synthetic pairs are written as Skywork rows
    check_preference_layout(paths["unified_feedback"], "unified_feedback", "run-b")
    with pytest.raises(InputError) as raised:
        check_preference_layout(paths["skywork"], "unified_feedback", "run-b")
    assert str(raised.value) == (
        f"{paths['skywork']}: training run 'run-b' has data.source unified_feedback, the Unified-Feedback layout "
        "(conv_A, conv_B + winner or conv_A_rating/conv_B_rating), but the file has the Skywork layout (chosen, rejected)"
    )


def test_wrong_schema_names_file_and_columns(tmp_path):
    path = tmp_path / "other.jsonl"
    write_jsonl([{"question": "q", "answer": "a"}], path)
    with pytest.raises(InputError) as raised:
        read_preferences(path)
    message = str(raised.value)
    assert str(path) in message and "answer, question" in message and "\n" not in message


def test_split_is_deterministic_nested_and_disjoint_from_heldout():
    pairs = pd.DataFrame({"prompt": ["p"] * 100, "chosen": [f"c{i}" for i in range(100)], "rejected": ["r"] * 100})
    small, heldout_small = split_pairs(pairs, 13, 10, seed=7)
    large, heldout_large = split_pairs(pairs, 26, 10, seed=7)
    again, _ = split_pairs(pairs, 13, 10, seed=7)
    other_seed, _ = split_pairs(pairs, 13, 10, seed=8)
    assert len(small) == 13 and len(large) == 26 and len(heldout_small) == 10
    assert set(small.index) < set(large.index)
    assert list(small.index) == list(again.index)
    assert list(small.index) != list(other_seed.index)
    assert list(heldout_small.index) == list(heldout_large.index)
    assert not set(large.index) & set(heldout_large.index)
    rest, _ = split_pairs(pairs, None, 10, seed=7)
    assert len(rest) == 90
    with pytest.raises(InputError, match="91"):
        split_pairs(pairs, 91, 10, seed=7)
