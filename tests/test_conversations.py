"""The one renderer (rmbias.models.conversations) and the one pad/collate helper (rmbias.models.batching)."""

import datetime

import pytest
import torch
import transformers.utils.chat_template_utils

from rmbias import demo
from rmbias.corpora.tokens import rendered_prompts
from rmbias.io import InputError
from rmbias.models.batching import IGNORED_LABEL, left_pad, right_pad
from rmbias.models.conversations import encode, encode_rendered, render, render_responses, set_rendering_options
from rmbias.models.loading import ModelSpec, load_tokenizer

# The date logic and turn format of Meta's Llama 3.1 chat template (tokenizer_config.json of
# meta-llama/Llama-3.1-8B-Instruct, tools branches left out): it prints the day of the run
# unless the caller passes date_string.
LLAMA31_TEMPLATE = (
    "{%- if not date_string is defined %}{%- if strftime_now is defined %}"
    "{%- set date_string = strftime_now(\"%d %b %Y\") %}"
    "{%- else %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}{%- endif %}"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}"
    "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}"
    "{{- \"<|eot_id|>\" }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

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


class _FrozenClock:
    """Stands in for ``datetime.datetime`` in transformers' chat-template module: ``now()`` is ``day``."""

    def __init__(self, day: datetime.datetime):
        self.day = day

    def now(self):
        return self.day


def _ids_on(monkeypatch, day: datetime.datetime, tokenizer, spec) -> list[int]:
    monkeypatch.setattr(transformers.utils.chat_template_utils, "datetime", _FrozenClock(day))
    return rendered_prompts(tokenizer, spec, {"greatest_ever_one": "What is the greatest thing ever?"})["token_ids"].iloc[0]


@pytest.mark.parametrize("pinned", [True, False])
def test_a_pinned_template_date_renders_the_same_tokens_on_any_day(tmp_path, monkeypatch, pinned):
    demo.build_tokenizer(["What", "is", "the", "greatest", "thing", "ever"], "qwen").save_pretrained(tmp_path)
    entry = {"id": "llama-3.1-style", "hf": str(tmp_path), "family": "llama", "kind": "causal_lm",
             "type": "instruction-tuned", "chat_template": LLAMA31_TEMPLATE}
    if pinned:
        entry["chat_template_kwargs"] = {"date_string": "26 Jul 2024"}
    spec = ModelSpec.from_entry(entry)
    tokenizer = load_tokenizer(spec)
    july = _ids_on(monkeypatch, datetime.datetime(2025, 7, 3), tokenizer, spec)
    january = _ids_on(monkeypatch, datetime.datetime(2026, 1, 3), tokenizer, spec)
    assert (july == january) is pinned
    text = render(tokenizer, "Hi", chat=True)
    assert ("Today Date: 26 Jul 2024" in text) is pinned and ("Today Date: 03 Jan 2026" in text) is not pinned


def test_double_bos_as_published_adds_the_tokenizer_bos_to_chat_text():
    tokenizer = demo.build_tokenizer(GEMMA_WORDS, "gemma")
    single = encode_rendered(tokenizer, "Hi", "Red", chat=True)
    double = encode_rendered(set_rendering_options(tokenizer, bos="double_as_published"), "Hi", "Red", chat=True)
    assert double[:2] == [tokenizer.bos_token_id] * 2 and double[1:] == single
    assert single.count(tokenizer.bos_token_id) == 1
    with pytest.raises(InputError, match="bos: 'triple'"):
        set_rendering_options(tokenizer, bos="triple")
