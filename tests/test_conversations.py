"""The one renderer (rmbias.models.conversations.Renderer) and the one pad/collate helper (rmbias.models.batching)."""

import datetime

import pytest
import torch
import transformers.utils.chat_template_utils

from rmbias import demo
from rmbias.corpora.tokens import rendered_prompts
from rmbias.io import InputError
from rmbias.models.batching import IGNORED_LABEL, left_pad, right_pad
from rmbias.models.conversations import Renderer
from rmbias.models.loading import ModelSpec, load_renderer

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


@pytest.fixture(scope="module")
def gemma_chat(gemma_tokenizer):
    return Renderer(gemma_tokenizer, chat=True)


def test_single_turn_chat_with_and_without_a_response(gemma_chat):
    assert gemma_chat.render("Hi") == "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"
    assert gemma_chat.render("Name a colour.", "Blue.") == (
        "<bos><start_of_turn>user\nName a colour.<end_of_turn>\n<start_of_turn>model\nBlue.<end_of_turn>\n")


def test_multi_turn_prompt_ends_with_the_response_turn(gemma_chat):
    turns = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
             {"role": "user", "content": "Name a colour."}]
    text = gemma_chat.render(turns, "Red")
    assert text.count("<start_of_turn>user") == 2
    assert text.endswith("Name a colour.<end_of_turn>\n<start_of_turn>model\nRed<end_of_turn>\n")
    assert gemma_chat.render_responses(turns, ["Red", "Blue"])[0] == text


def test_plain_text_is_prompt_space_response_and_gets_special_tokens(gemma_tokenizer, gemma_chat):
    plain = Renderer(gemma_tokenizer, chat=False)
    assert plain.render("Hi") == "Hi"
    assert plain.render_responses("Hi", ["Red", "Blue"]) == ["Hi Red", "Hi Blue"]
    assert plain.encode_rendered("Hi", "Red")[0] == gemma_tokenizer.bos_token_id
    chat = gemma_chat.encode([gemma_chat.render("Hi")])[0]
    assert chat.count(gemma_tokenizer.bos_token_id) == 1
    with pytest.raises(InputError, match="multi-turn prompt needs a chat template"):
        plain.render([{"role": "user", "content": "Hi"}])


def test_missing_template_is_one_line_naming_the_tokenizer():
    tokenizer = demo.build_tokenizer(["Hi"], "gemma")
    tokenizer.chat_template = None
    with pytest.raises(InputError, match="has no chat template"):
        Renderer(tokenizer, chat=True).render("Hi")


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


def _ids_on(monkeypatch, day: datetime.datetime, renderer: Renderer) -> list[int]:
    monkeypatch.setattr(transformers.utils.chat_template_utils, "datetime", _FrozenClock(day))
    return rendered_prompts(renderer, "llama-3.1-style", {"greatest_ever_one": "What is the greatest thing ever?"})["token_ids"].iloc[0]


@pytest.mark.parametrize("pinned", [True, False])
def test_a_pinned_template_date_renders_the_same_tokens_on_any_day(tmp_path, monkeypatch, pinned):
    demo.build_tokenizer(["What", "is", "the", "greatest", "thing", "ever"], "qwen").save_pretrained(tmp_path)
    entry = {"id": "llama-3.1-style", "hf": str(tmp_path), "family": "llama", "kind": "causal_lm",
             "type": "instruction-tuned", "chat_template": LLAMA31_TEMPLATE}
    if pinned:
        entry["chat_template_kwargs"] = {"date_string": "26 Jul 2024"}
    renderer = load_renderer(ModelSpec.from_entry(entry))
    july = _ids_on(monkeypatch, datetime.datetime(2025, 7, 3), renderer)
    january = _ids_on(monkeypatch, datetime.datetime(2026, 1, 3), renderer)
    assert (july == january) is pinned
    text = renderer.render("Hi")
    assert ("Today Date: 26 Jul 2024" in text) is pinned and ("Today Date: 03 Jan 2026" in text) is not pinned


def test_double_bos_as_published_adds_the_tokenizer_bos_to_chat_text(gemma_tokenizer):
    single = Renderer(gemma_tokenizer, chat=True).encode_rendered("Hi", "Red")
    double = Renderer(gemma_tokenizer, chat=True, bos="double_as_published").encode_rendered("Hi", "Red")
    assert double[:2] == [gemma_tokenizer.bos_token_id] * 2 and double[1:] == single
    assert single.count(gemma_tokenizer.bos_token_id) == 1
    with pytest.raises(InputError, match="bos: 'triple'"):
        Renderer(gemma_tokenizer, chat=True, bos="triple")


def test_renderers_over_one_tokenizer_render_and_encode_independently():
    tokenizer = demo.build_tokenizer(["Hi", "Red"], "llama")
    tokenizer.chat_template = "{{- bos_token }}" + LLAMA31_TEMPLATE
    pinned = Renderer(tokenizer, chat=True, chat_template_kwargs={"date_string": "26 Jul 2024"})
    doubled = Renderer(tokenizer, chat=True, chat_template_kwargs={"date_string": "01 Jan 2000"},
                       bos="double_as_published")
    plain = Renderer(tokenizer, chat=False)
    text = pinned.render("Hi", "Red")
    assert "Today Date: 26 Jul 2024" in text and "Today Date: 01 Jan 2000" in doubled.render("Hi", "Red")
    assert plain.render("Hi", "Red") == "Hi Red"
    assert pinned.render("Hi", "Red") == text  # the other renderers of the tokenizer changed nothing of it
    bos = tokenizer.bos_token_id
    pinned_ids, doubled_ids = pinned.encode_rendered("Hi", "Red"), doubled.encode_rendered("Hi", "Red")
    assert pinned_ids.count(bos) == 1 and doubled_ids[:2] == [bos, bos]
    assert pinned.encode([text])[0] == pinned_ids and plain.encode_rendered("Hi", "Red")[0] == bos
    variables = {"date_string": "26 Jul 2024"}
    copied = Renderer(tokenizer, chat=True, chat_template_kwargs=variables)
    variables["date_string"] = "01 Jan 2000"
    assert copied.render("Hi") == pinned.render("Hi")  # a renderer keeps its own copy of the variables
