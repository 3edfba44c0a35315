"""Next-token log-probabilities: batched by length, equal to a direct forward per prompt."""

import numpy as np
import pytest
import torch

from rmbias import demo
from rmbias.io import read_parquet
from rmbias.models.loading import ModelSpec, load_renderer
from rmbias.scoring.logprobs import batches_by_length, write_logprobs

PROMPTS = {
    "greatest_ever_one": "What, in one word, is the greatest thing ever?",
    "greatest_ever_please": "What is the greatest thing ever? Please answer in one word only.",
    "worst_ever_one": "What, in one word, is the worst thing ever?",
    "best_world_single": "What, in a single word, is the best thing in the world?",
}
WORDS = " ".join(PROMPTS.values()).replace(",", " ").replace("?", " ").replace(".", " ").split()


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def test_batches_by_length_groups_equal_lengths_in_input_order():
    sequences = [[1, 2], [1], [3, 4], [5], [6, 7], [8, 9, 10]]
    assert batches_by_length(sequences, batch_size=2) == [[1, 3], [0, 2], [4], [5]]


@pytest.mark.parametrize("arch, family, model_type", [("llama", "llama", "instruction-tuned"),
                                                      ("gemma2", "gemma", "instruction-tuned"),
                                                      ("qwen2", "qwen", "pretrained")])
def test_logprobs_match_a_direct_forward_per_prompt(tmp_path, arch, family, model_type):
    tokenizer = demo.build_tokenizer(WORDS, family)
    model = demo.tiny_model(arch, tokenizer, "causal_lm", seed=3)
    model.save_pretrained(tmp_path / "lm")
    tokenizer.save_pretrained(tmp_path / "lm")
    entry = {"id": f"tiny-{arch}", "hf": str(tmp_path / "lm"), "family": family, "kind": "causal_lm",
             "type": model_type}
    write_logprobs(entry, {key: {"text": text} for key, text in PROMPTS.items()}, tmp_path / "out.parquet",
                   device="cpu", batch_size=2)
    table = read_parquet(tmp_path / "out.parquet")

    assert list(table.columns) == ["token_id", "decoded", *PROMPTS]
    assert table["token_id"].tolist() == list(range(len(tokenizer)))
    [greatest_id] = tokenizer(" greatest", add_special_tokens=False)["input_ids"]
    assert table["decoded"].iloc[greatest_id] == " greatest"
    renderer = load_renderer(ModelSpec.from_entry(entry))
    lengths = set()
    for key, text in PROMPTS.items():
        assert table[key].dtype == np.float32
        rendered = renderer.render(text)
        assert (model_type == "pretrained") == (rendered == text)
        input_ids = torch.tensor(renderer.encode([rendered]))
        lengths.add(input_ids.shape[1])
        with torch.no_grad():
            expected = model(input_ids).logits[0, -1].log_softmax(-1).numpy()
        np.testing.assert_allclose(table[key].to_numpy(), expected, rtol=0, atol=1e-5)
    assert len(lengths) > 1  # prompts of different lengths went through different batches
