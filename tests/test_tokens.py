"""Token tables and the vocabulary intersection of two tokenizers."""

import pytest

from rmbias import demo
from rmbias.corpora.tokens import token_table, vocab_intersection, write_token_table
from rmbias.io import read_parquet

WORDS = ["Love", "freedom", "Café", "family"]


def test_token_table_lists_each_non_special_token_once():
    tokenizer = demo.build_tokenizer(WORDS, "gemma")
    table = token_table(tokenizer)
    assert list(table.columns) == ["token_id", "piece", "decoded", "norm"]
    specials = set(tokenizer.all_special_ids)
    assert specials and not specials & set(table["token_id"])
    assert len(table) == len(tokenizer) - len(specials)
    assert table["token_id"].is_unique and table["token_id"].is_monotonic_increasing
    love = table[table["piece"] == "▁Love"].iloc[0]
    assert love["decoded"] == " Love" and love["norm"] == "love"
    assert love["token_id"] == tokenizer.convert_tokens_to_ids("▁Love")
    cafe = table[table["piece"] == "café"].iloc[0]
    assert (cafe["decoded"], cafe["norm"]) == ("café", "cafe")


def test_vocab_intersection_pairs_ids_of_the_same_string():
    llama = demo.build_tokenizer(WORDS + ["agency"], "llama")
    gemma = demo.build_tokenizer(WORDS + ["communion"], "gemma")
    shared = vocab_intersection(token_table(llama), token_table(gemma))
    assert list(shared.columns) == ["decoded", "token_id_a", "token_id_b"]
    strings = set(shared["decoded"])
    assert {" Love", "freedom", " Café"} <= strings
    assert not {"agency", " agency", "communion"} & strings
    for row in shared.itertuples():
        assert llama.decode([row.token_id_a]) == row.decoded == gemma.decode([row.token_id_b])
    assert (shared["token_id_a"] != shared["token_id_b"]).any()  # the families number words differently


def test_write_token_table_loads_the_entry_tokenizer(tmp_path):
    tokenizer = demo.build_tokenizer(WORDS, "qwen")
    tokenizer.save_pretrained(tmp_path / "tok")
    entry = {"id": "tiny", "hf": str(tmp_path / "tok"), "family": "qwen", "kind": "causal_lm",
             "type": "instruction-tuned"}
    write_token_table(entry, tmp_path / "tokens.parquet")
    written = read_parquet(tmp_path / "tokens.parquet")
    assert written.equals(token_table(tokenizer))


def test_placeholder_entries_are_left_out_of_the_table_unless_kept(tmp_path, caplog):
    tokenizer = demo.build_tokenizer([*WORDS, "unused", "PAD"], "qwen")
    placeholders = ["[PAD900]", "[PAD901]", "<unused0>", "<|reserved_special_token_3|>"]
    tokenizer.add_tokens([*placeholders, "[PAD]", "<unused>"])  # the last two are not numbered placeholders
    kept, table = token_table(tokenizer, "keep"), token_table(tokenizer)
    assert len(kept) == len(table) + len(placeholders)
    assert set(kept["piece"]) - set(table["piece"]) == set(placeholders)
    assert {"[PAD]", "<unused>", "unused", "PAD"} <= set(table["decoded"])
    tokenizer.save_pretrained(tmp_path / "tok")
    entry = {"id": "padded", "hf": str(tmp_path / "tok"), "family": "qwen", "kind": "causal_lm",
             "type": "instruction-tuned"}
    with caplog.at_level("INFO", logger="rmbias.corpora.tokens"):
        write_token_table(entry, tmp_path / "tokens.parquet")
    assert read_parquet(tmp_path / "tokens.parquet").equals(table)
    assert (f"padded: {len(table)} tokens in the table; 4 placeholder tokens (not real vocabulary, "
            "e.g. [PAD900], [PAD901], <|reserved_special_token_3|>) left out") in caplog.text
    with pytest.raises(ValueError, match="placeholder_tokens"):
        token_table(tokenizer, "drop")
