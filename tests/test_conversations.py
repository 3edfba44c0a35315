"""The one renderer (rmbias.conversations) and the one pad/collate helper (rmbias.batching)."""

import pytest
import torch

from rmbias import demo
from rmbias.batching import IGNORED_LABEL, left_pad, right_pad
from rmbias.conversations import encode, encode_rendered, render, render_responses
from rmbias.io import InputError

GEMMA_WORDS = ["Name", "a", "colour", "Blue", "No", "Hi", "Hello", "Red"]


@pytest.fixture(scope="module")
def gemma_tokenizer():
    return demo.build_tokenizer(GEMMA_WORDS, "gemma")


def test_single_turn_chat_with_and_without_a_response(gemma_tokenizer):
    assert render(gemma_tokenizer, "Hi", chat=True) == "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    assert render(gemma_tokenizer, "Name a colour.", "Blue.", chat=True) == (
        "<bos><start_of_turn>user\nName a colour.<end_of_turn>\n<start_of_turn>model\nBlue.<end_of_turn>\n")


def test_multi_turn_prompt_ends_with_the_response_turn(gemma_tokenizer):
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
             {"role": "user", "content": "Name a colour."}]
    text = render(gemma_tokenizer, turns, "Red", chat=True)
    assert text.count("<start_of_turn>user") == 2
    assert text.endswith("Name a colour.<end_of_turn>\n<start_of_turn>model\nRed<end_of_turn>\n")
    assert render_responses(gemma_tokenizer, turns, ["Red", "Blue"], chat=True)[0] == text


def test_plain_text_is_prompt_space_response_and_gets_special_tokens(gemma_tokenizer):
    assert render(gemma_tokenizer, "Hi", chat=False) == "Hi"
    assert render_responses(gemma_tokenizer, "Hi", ["Red", "Blue"], chat=False) == ["Hi Red", "Hi Blue"]
    plain = encode_rendered(gemma_tokenizer, "Hi", "Red", chat=False)
    assert plain[0] == gemma_tokenizer.bos_token_id
    chat = encode(gemma_tokenizer, [render(gemma_tokenizer, "Hi", chat=True)], chat=True)[0]
    assert chat.count(gemma_tokenizer.bos_token_id) == 1
    with pytest.raises(InputError, match="multi-turn prompt needs a chat template"):
        render(gemma_tokenizer, [{"role": "user", "content": "Hi"}], chat=False)


def test_missing_template_is_one_line_naming_the_tokenizer():
    tokenizer = demo.build_tokenizer(["Hi"], "gemma")
    tokenizer.chat_template = None
    with pytest.raises(InputError, match="has no chat template"):
        render(tokenizer, "Hi", chat=True)


def test_right_pad_masks_and_labels():
    batch = right_pad([[5, 6, 7], [8]], pad_id=0, labels=[[IGNORED_LABEL, 6, 7], [8]])
    assert batch["input_ids"].tolist() == [[5, 6, 7], [8, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 0, 0]]
    assert batch["labels"].tolist() == [[IGNORED_LABEL, 6, 7], [8, IGNORED_LABEL, IGNORED_LABEL]]
    assert batch["input_ids"].dtype is torch.long and set(right_pad([[1]], 0)) == {"input_ids", "attention_mask"}


def test_left_pad_positions_count_real_tokens():
    batch = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [0, 0, 8]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [0, 0, 1]]
    assert batch["position_ids"].tolist() == [[0, 1, 2], [0, 0, 0]]
