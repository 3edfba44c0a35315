import pandas as pd
import pytest

from rmbias.corpora.dictionaries import builtin_lexicon, normalize_term, read_dictionary
from rmbias.io import InputError

MFD2_CATEGORIES = tuple(builtin_lexicon("mfd2")["categories"])
"""MFD 2.0's ten categories, foundation x virtue/vice (config/lexicons.yaml)."""


def test_published_dictionaries_unroll_to_long_tables(reference_mirror):
    corpora = reference_mirror / "data" / "corpora"
    nouns = read_dictionary(corpora / "dict_big2_nouns.csv", "big2_nouns")
    expanded = read_dictionary(corpora / "dict_big2_expanded.csv", "big2_expanded")
    mfd = read_dictionary(corpora / "moral-foundations-dictionary-20.dicx", "mfd2")
    assert list(nouns.columns) == ["term", "category", "dictionary"]
    assert set(nouns["category"]) == {"Agency", "Communion"}
    assert ("freedom", "Agency") in set(zip(nouns["term"], nouns["category"]))
    assert ("love", "Communion") in set(zip(nouns["term"], nouns["category"]))
    assert set(expanded["category"]) == {"Agency", "Communion"}
    assert set(mfd["category"]) == set(MFD2_CATEGORIES)
    assert ("obedience", "Authority_Virtue") in set(zip(mfd["term"], mfd["category"]))
    assert (mfd["dictionary"] == "mfd2").all()
    raw = pd.read_csv(corpora / "moral-foundations-dictionary-20.dicx", dtype=str, keep_default_na=False)
    assert len(mfd) == (raw[list(MFD2_CATEGORIES)] == "X").to_numpy().sum()


def test_membership_matrix_term_in_two_categories_appears_twice(tmp_path):
    path = tmp_path / "expanded.csv"
    path.write_text('"DicTerm","Agency","Communion"\n"lead","X","X"\n"care",NA,"X"\n', encoding="utf-8")
    table = read_dictionary(path, "big2_expanded")
    assert sorted(zip(table["term"], table["category"])) == [("care", "Communion"), ("lead", "Agency"), ("lead", "Communion")]


@pytest.mark.parametrize(
    "content, dictionary, message",
    [
        (b"", "big2_nouns", "file is empty"),
        ('"Category","word"\n"Agency","x"\n'.encode(), "big2_nouns", "missing column(s) token_decoded"),
        ('"Category","token_decoded"\n"Agency","caf\xe9"\n'.encode("latin-1"), "big2_nouns", "not UTF-8 (byte 0xe9"),
        ('"Category","token_decoded"\n"Power","x"\n'.encode(), "big2_nouns", "unknown category Power"),
        (b"DicTerm,Agency,Communion\nlead,yes,\n", "big2_expanded", "line 2, column Agency: expected 'X' or empty"),
        (b"DicTerm,Agency\nlead,X\n", "big2_expanded", "missing column(s) Communion"),
    ],
)
def test_malformed_dictionary_is_one_clear_line(tmp_path, content, dictionary, message):
    path = tmp_path / "dictionary.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as err:
        read_dictionary(path, dictionary)
    text = str(err.value)
    assert str(path) in text and message in text
    assert "\n" not in text


def test_normalize_term_folds_strips_and_lowercases():
    assert normalize_term("  Café\n") == "cafe"
    assert normalize_term("\ufb01ne") == "fine"  # the "fi" ligature decomposes under NFKD
    assert normalize_term("ＬＯＶＥ") == "love"
    assert normalize_term("Ünïcode\n") == "unicode"
    assert normalize_term("爱") == ""
    assert normalize_term("日本") == ""
