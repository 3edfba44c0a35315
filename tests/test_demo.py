"""Tests of the demo world: tokenizers, chat templates, tiny models, and the planted bias."""

from pathlib import Path

import pytest
import torch
import transformers
import yaml

from rmbias.demo import CHAT_TEMPLATES, build_tokenizer, tiny_model

REPO_ROOT = Path(__file__).resolve().parents[1]
PROMPTS = yaml.safe_load((REPO_ROOT / "config" / "prompts.yaml").read_text(encoding="utf-8"))["prompts"]
PROMPT = PROMPTS["best_ever_one"]["text"]
WORDS = ["love", "power", "family", "success", "respect", "table"]
ARCH_OF_FAMILY = {"llama": "llama", "gemma": "gemma2", "qwen": "qwen2"}


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


def _prompt_words() -> list[str]:
    return [word.strip("?,.") for prompt in PROMPTS.values() for word in prompt["text"].split()]


@pytest.fixture(scope="module")
def tokenizers() -> dict[str, transformers.PreTrainedTokenizerBase]:
    return {family: build_tokenizer([*WORDS, *_prompt_words()], family) for family in CHAT_TEMPLATES}


def _conversation(response: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": PROMPT}, {"role": "assistant", "content": response}]


EXPECTED_RENDERING = {
    "llama": (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\n<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{PROMPT}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nLove<|eot_id|>"
    ),
    "gemma": f"<bos><start_of_turn>user\n{PROMPT}<end_of_turn>\n<start_of_turn>model\nLove<end_of_turn>\n",
    "qwen": (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n{PROMPT}<|im_end|>\n<|im_start|>assistant\nLove<|im_end|>\n"
    ),
}


@pytest.mark.parametrize("family", sorted(CHAT_TEMPLATES))
def test_template_renders_like_the_real_family(tokenizers, family):
    tokenizer = tokenizers[family]
    rendered = tokenizer.apply_chat_template(_conversation("Love"), tokenize=False)
    assert rendered == EXPECTED_RENDERING[family]
    generation_prompt = tokenizer.apply_chat_template(
        _conversation("Love")[:1], tokenize=False, add_generation_prompt=True)
    assert rendered.startswith(generation_prompt)
    assert rendered[len(generation_prompt):].startswith("Love")


@pytest.mark.parametrize("family", sorted(CHAT_TEMPLATES))
def test_every_prompt_tokenizes_without_unknown_tokens_and_round_trips(tokenizers, family):
    tokenizer = tokenizers[family]
    for prompt in PROMPTS.values():
        rendered = tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt["text"]}, {"role": "assistant", "content": "Family"}], tokenize=False)
        ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids
        assert tokenizer.decode(ids) == rendered


@pytest.mark.parametrize("family", sorted(CHAT_TEMPLATES))
def test_each_word_form_is_one_token_that_decodes_with_its_space(tokenizers, family):
    tokenizer = tokenizers[family]
    for word in WORDS:
        for text in (word, word.capitalize(), " " + word, " " + word.capitalize()):
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
            assert len(ids) == 1, (text, tokenizer.convert_ids_to_tokens(ids))
            assert tokenizer.decode(ids) == text


def test_families_disagree_on_token_ids(tokenizers):
    words = [" " + word for word in WORDS] + WORDS
    ids = {family: [tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word))[0] for word in words]
           for family, tokenizer in tokenizers.items()}
    assert ids["llama"] != ids["gemma"]
    assert ids["llama"] != ids["qwen"]


def test_llama_prefix_is_realistically_long(tokenizers):
    tokenizer = tokenizers["llama"]
    prefix = tokenizer.apply_chat_template([{"role": "user", "content": PROMPT}], tokenize=False,
                                           add_generation_prompt=True)
    assert len(tokenizer(prefix, add_special_tokens=False)["input_ids"]) >= 30


def test_special_tokens_are_the_family_ones(tokenizers):
    assert (tokenizers["llama"].bos_token, tokenizers["llama"].eos_token) == ("<|begin_of_text|>", "<|eot_id|>")
    assert (tokenizers["gemma"].bos_token, tokenizers["gemma"].pad_token) == ("<bos>", "<pad>")
    assert (tokenizers["qwen"].eos_token, tokenizers["qwen"].pad_token) == ("<|im_end|>", "<|endoftext|>")
    raw_llama = tokenizers["llama"](PROMPT)["input_ids"]
    assert raw_llama[0] == tokenizers["llama"].bos_token_id
    assert tokenizers["qwen"](PROMPT)["input_ids"] == tokenizers["qwen"](PROMPT, add_special_tokens=False)["input_ids"]


def _ids(tokenizer, family: str) -> torch.Tensor:
    text = tokenizer.apply_chat_template(_conversation("Love"), tokenize=False)
    return torch.tensor([tokenizer(text, add_special_tokens=False)["input_ids"]])


@pytest.mark.parametrize("family", sorted(CHAT_TEMPLATES))
@pytest.mark.parametrize("kind", ["causal_lm", "reward_model"])
def test_tiny_model_round_trips_through_auto_classes(tokenizers, family, kind, tmp_path):
    tokenizer = tokenizers[family]
    model = tiny_model(ARCH_OF_FAMILY[family], tokenizer, kind, seed=3)
    assert model.config.pad_token_id == tokenizer.pad_token_id
    assert all(parameter.dtype == torch.float32 for parameter in model.parameters())
    input_ids = _ids(tokenizer, family)
    with torch.no_grad():
        logits = model(input_ids).logits
    expected_shape = (1, input_ids.shape[1], len(tokenizer)) if kind == "causal_lm" else (1, 1)
    assert tuple(logits.shape) == expected_shape
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    auto_class = (transformers.AutoModelForCausalLM if kind == "causal_lm"
                  else transformers.AutoModelForSequenceClassification)
    reloaded = auto_class.from_pretrained(tmp_path)
    reloaded_tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path)
    with torch.no_grad():
        assert torch.allclose(reloaded(input_ids).logits, logits, atol=1e-6)
    assert torch.equal(_ids(reloaded_tokenizer, family), input_ids)


def test_tiny_model_is_deterministic_per_seed(tokenizers):
    def weights(seed):
        return torch.cat([p.flatten() for p in tiny_model("llama", tokenizers["llama"], "causal_lm", seed=seed).parameters()])

    torch.manual_seed(123)
    before = torch.rand(1)
    first = weights(0)
    torch.manual_seed(123)
    assert torch.equal(first, weights(0))
    assert torch.rand(1).item() == before.item()
    assert not torch.equal(first, weights(1))


def test_gemma_sliding_window_is_shorter_than_a_templated_prompt_and_matters(tokenizers):
    tokenizer = tokenizers["gemma"]
    model = tiny_model("gemma2", tokenizer, "causal_lm", seed=0)
    input_ids = _ids(tokenizer, "gemma")
    assert model.config.sliding_window < input_ids.shape[1]
    assert "sliding_attention" in model.config.layer_types
    assert model.config._attn_implementation == "eager"
    wide_config = transformers.Gemma2Config.from_dict(model.config.to_dict())
    wide_config.sliding_window = 4 * input_ids.shape[1]
    wide = transformers.Gemma2ForCausalLM(wide_config)
    wide.load_state_dict(model.state_dict())
    with torch.no_grad():
        windowed_logits, full_logits = model(input_ids).logits, wide.eval()(input_ids).logits
    assert not torch.allclose(windowed_logits[0, -1], full_logits[0, -1], atol=1e-6)
    assert torch.allclose(windowed_logits[0, :16], full_logits[0, :16], atol=1e-6)
