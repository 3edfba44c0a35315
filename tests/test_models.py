"""The model-access layer: entry validation, the one loader, rendering and reward reading."""

from types import SimpleNamespace

import pytest
import torch

from rmbias import demo
from rmbias.config import prompt_texts, schema_defaults
from rmbias.io import InputError
from rmbias.models.loading import ModelSpec, load_model, load_renderer, read_reward

PROMPT = "What, in one word, is the greatest thing ever?"
COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def entry(**overrides):
    base = {"id": "tiny-rm", "hf": "some/path", "family": "llama", "kind": "reward_model",
            "type": "instruction-tuned", "dtype": "float32"}
    return {**base, **overrides}


def save_demo(tmp_path, arch, family, kind, tokenizer=None):
    tokenizer = tokenizer or demo.build_tokenizer(PROMPT.replace(",", " ").replace("?", " ").split() + ["Love"], family)
    path = tmp_path / f"{arch}-{kind}"
    demo.tiny_model(arch, tokenizer, kind).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return str(path)


@pytest.mark.parametrize("key, value", [("kind", "classifier"), ("type", "chat"), ("dtype", "float64"),
                                        ("score", "logits[0]"), ("score", "reward()"), ("logprob_batch_size", 0),
                                        ("scoring_batch_size", "8")])
def test_invalid_entry_names_model_and_key(key, value):
    with pytest.raises(InputError, match=rf"tiny-rm.*'{key}'"):
        ModelSpec.from_entry(entry(**{key: value}))


def test_valid_entry_defaults_score_and_keeps_fields():
    spec = ModelSpec.from_entry(entry(scoring_batch_size=8, resources={"gpus": 0}))
    assert spec.score == "logits[:, 0]"
    assert spec.scoring_batch_size == 8
    assert spec.logprob_batch_size == schema_defaults("definitions", "model")["logprob_batch_size"]
    assert spec.torch_dtype is torch.float32
    assert ModelSpec.from_entry(entry(kind="causal_lm", score="logits[:, 3]")).score is None


@pytest.mark.parametrize("revision", [None, "main", "v1.0"])
def test_trust_remote_code_requires_pinned_commit(revision):
    with pytest.raises(InputError, match="model tiny-rm: tiny-rm sets trust_remote_code but does not pin"):
        ModelSpec.from_entry(entry(trust_remote_code=True, revision=revision))
    assert ModelSpec.from_entry(entry(trust_remote_code=True, revision=COMMIT)).trust_remote_code


def test_read_reward_by_logits_column_and_attribute():
    logits = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    outputs = SimpleNamespace(logits=logits, score=torch.tensor([[7.0], [8.0]]))
    assert read_reward(ModelSpec.from_entry(entry()), outputs).tolist() == [1.0, 3.0]
    assert read_reward(ModelSpec.from_entry(entry(score="logits[:, 1]")), outputs).tolist() == [2.0, 4.0]
    assert read_reward(ModelSpec.from_entry(entry(score="score")), outputs).tolist() == [7.0, 8.0]
    with pytest.raises(InputError, match="no tensor attribute 'rewards'"):
        read_reward(ModelSpec.from_entry(entry(score="rewards")), outputs)
    with pytest.raises(InputError, match="2 column"):
        read_reward(ModelSpec.from_entry(entry(score="logits[:, 2]")), outputs)


def test_missing_chat_template_is_refused(tmp_path):
    tokenizer = demo.build_tokenizer(["love"], "gemma")
    tokenizer.chat_template = None
    path = tmp_path / "no-template"
    tokenizer.save_pretrained(path)
    spec = ModelSpec.from_entry(entry(hf=str(path)))
    with pytest.raises(InputError) as err:
        load_renderer(spec)
    assert str(err.value) == (f"tiny-rm: tokenizer at {path} has no chat template; "
                              "set type: pretrained or give a tokenizer with a template")
    pretrained = ModelSpec.from_entry(entry(hf=str(path), type="pretrained"))
    assert load_renderer(pretrained).render(PROMPT, "Love") == PROMPT + " Love"


def test_render_uses_chat_template_with_generation_prompt(tmp_path):
    spec = ModelSpec.from_entry(entry(hf=save_demo(tmp_path, "llama", "llama", "reward_model")))
    renderer = load_renderer(spec)
    prefix = renderer.render(PROMPT)
    full = renderer.render(PROMPT, " Love")
    assert prefix.endswith(f"<|start_header_id|>user<|end_header_id|>\n\n{PROMPT}<|eot_id|>"
                           "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert full == prefix + "Love<|eot_id|>"
    ids = renderer.encode([full])[0]
    assert ids.count(renderer.tokenizer.bos_token_id) == 1 and ids[0] == renderer.tokenizer.bos_token_id


def test_the_loader_gives_the_entry_renderer(tmp_path):
    spec = ModelSpec.from_entry(entry(hf=save_demo(tmp_path, "llama", "llama", "causal_lm"), kind="causal_lm",
                                      type="pretrained", chat_template="{{ messages[0]['content'] }} for {{ who }}",
                                      chat_template_kwargs={"who": "me"}, bos="double_as_published"))
    renderer, _ = load_model(spec, "cpu")
    assert (renderer.chat, dict(renderer.chat_template_kwargs), renderer.bos) == (True, {"who": "me"}, "double_as_published")
    assert renderer.render(PROMPT) == f"{PROMPT} for me"
    assert renderer.encode_rendered(PROMPT)[0] == renderer.tokenizer.bos_token_id  # the published double BOS


def test_loading_through_from_pretrained(tmp_path, caplog):
    rm_spec = ModelSpec.from_entry(entry(hf=save_demo(tmp_path, "gemma2", "gemma", "reward_model"),
                                         family="gemma", dtype="bfloat16"))
    with caplog.at_level("INFO", logger="rmbias.models.loading"):
        _, rm = load_model(rm_spec, "cpu")
    assert type(rm).__name__ == "Gemma2ForSequenceClassification"
    assert next(rm.parameters()).dtype is torch.bfloat16
    assert rm.config._attn_implementation == "eager"
    assert not rm.training
    assert "tiny-rm: Gemma2ForSequenceClassification dtype=torch.bfloat16 attention=eager device=cpu" in caplog.text
    lm_spec = ModelSpec.from_entry(entry(hf=save_demo(tmp_path, "qwen2", "qwen", "causal_lm"),
                                         family="qwen", kind="causal_lm"))
    assert type(load_model(lm_spec, "cpu")[1]).__name__ == "Qwen2ForCausalLM"
    classifier = load_model(lm_spec, "cpu", head="reward_model")[1]
    assert type(classifier).__name__ == "Qwen2ForSequenceClassification"
    assert classifier.config.num_labels == 1


def test_pad_token_from_tokenizer_only_for_models_trained_here(tmp_path):
    tokenizer = demo.build_tokenizer(["love"], "llama")
    path = save_demo(tmp_path, "llama", "llama", "reward_model", tokenizer)
    published = load_model(ModelSpec.from_entry(entry(hf=path)), "cpu")[1]
    published.config.pad_token_id = None
    published.save_pretrained(path)
    assert load_model(ModelSpec.from_entry(entry(hf=path)), "cpu")[1].config.pad_token_id is None
    trained_here = load_model(ModelSpec.from_entry(entry(hf=path)), "cpu", pad_from_tokenizer=True)[1]
    assert trained_here.config.pad_token_id == tokenizer.pad_token_id


def test_prompt_texts_accepts_both_layouts():
    assert prompt_texts({"a": "x", "b": {"text": "y", "framing": "negative"}}) == {"a": "x", "b": "y"}
