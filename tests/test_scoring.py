"""Exhaustive token search: prefix-cached scoring equals the naive method; sharding resumes."""

import numpy as np
import pandas as pd
import pytest
import torch
import transformers
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

from rmbias import demo
from rmbias.io import InputError, read_wide_scores, write_csv, write_parquet
from rmbias.models.conversations import Renderer
from rmbias.models.loading import ModelSpec, load_renderer, load_tokenizer
from rmbias.scoring import search
from rmbias.scoring.reproduction import compare_scores, sample_responses, write_reproduction_check
from rmbias.scoring.search import (
    CPU_BATCH_SIZE,
    BatchSizer,
    candidates_from_table,
    load_reward_model,
    score_candidates,
    score_in_batches,
    shared_length,
    write_other_bos_scores,
)

TOKENIZE_CANDIDATES = search.tokenize_candidates

PROMPTS = {
    "greatest_ever_one": {"text": "What, in one word, is the greatest thing ever?", "framing": "positive"},
    "worst_world_please": {"text": "What is the worst thing in the world? Please answer in one word only.",
                           "framing": "negative"},
}
RESPONSES = [" Love", "freedom", "Family", " success", "power", "honor and duty", "Love, family and friends",
             "ability", " Freedom", "unheardofword", "duty", "friends", "success and power"]
WORDS = (" ".join(prompt["text"] for prompt in PROMPTS.values()) + " " + " ".join(RESPONSES)).replace(
    ",", " ").replace("?", " ").replace(".", " ").split()
ARCHITECTURES = [("llama", "llama"), ("gemma2", "gemma"), ("qwen2", "qwen")]
QWEN_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
              r"|\s*[\r\n]+|\s+(?!\S)|\s+")


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def save_rm(path, arch, tokenizer, pad_token_id="tokenizer"):
    """Save a random-init reward model and its tokenizer; return the config entry that loads them."""
    model = demo.tiny_model(arch, tokenizer, "reward_model", seed=7)
    if pad_token_id != "tokenizer":
        model.config.pad_token_id = pad_token_id
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return {"id": f"tiny-{arch}-rm", "hf": str(path), "family": arch, "kind": "reward_model",
            "type": "instruction-tuned", "score": "logits[:, 0]"}


def single_sequence_rewards(entry, responses, prompt):
    """Reference: the reward of each response from one unpadded, uncached forward pass."""
    renderer = load_renderer(ModelSpec.from_entry(entry))
    model = transformers.AutoModelForSequenceClassification.from_pretrained(entry["hf"]).eval()
    rewards = []
    with torch.no_grad():
        for response in responses:
            ids = [renderer.encode_rendered(prompt, response)]
            rewards.append(model(torch.tensor(ids)).logits[0, 0].item())
    return np.array(rewards)


def run(entry, shard_dir, **options):
    candidates = pd.DataFrame({"response": RESPONSES})
    return score_candidates(entry, PROMPTS, candidates, shard_dir, device="cpu",
                            **{"batch_size": 3, "shard_size": 5, **options})


@pytest.mark.parametrize("arch, family", ARCHITECTURES)
def test_prefix_method_equals_naive_and_single_sequences(tmp_path, arch, family):
    entry = save_rm(tmp_path / "rm", arch, demo.build_tokenizer(WORDS, family))
    naive, naive_report = run(entry, tmp_path / "naive", method="naive")
    prefix, prefix_report = run(entry, tmp_path / "prefix", method="prefix")

    assert list(prefix.columns) == ["response", *PROMPTS]
    assert prefix["response"].tolist() == RESPONSES
    assert prefix_report.computed == naive_report.computed == 2 * 3  # 2 prompts × ceil(13 / 5) shards
    assert prefix_report.fallback == 0
    for key, prompt in PROMPTS.items():
        assert prefix[key].dtype == np.float32
        assert prefix[key].std() > 1e-3  # the rewards differ between responses
        np.testing.assert_allclose(prefix[key], naive[key], rtol=0, atol=1e-4)
        reference = single_sequence_rewards(entry, RESPONSES, prompt["text"])
        np.testing.assert_allclose(naive[key], reference, rtol=0, atol=1e-5)
    if arch == "gemma2":
        prefix_ids = load_renderer(ModelSpec.from_entry(entry)).encode_rendered(PROMPTS["greatest_ever_one"]["text"])
        assert len(prefix_ids) > demo.GEMMA2_SLIDING_WINDOW  # the sliding-window cache layers are exercised


def byte_level_bpe_tokenizer():
    """A Qwen2-style byte-level BPE tokenizer whose learned merges include "\\n\\n"."""
    backend = Tokenizer(models.BPE())
    backend.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    backend.decoder = decoders.ByteLevel()
    corpus = [f"<|im_start|>user\n{prompt['text']}<|im_end|>\n<|im_start|>assistant\n\n{' '.join(RESPONSES)}\n\n"
              for prompt in PROMPTS.values()] * 10
    trainer = trainers.BpeTrainer(vocab_size=320, special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    backend.train_from_iterator(corpus, trainer)
    return transformers.PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|im_end|>",
                                                pad_token="<|endoftext|>", chat_template=demo.CHAT_TEMPLATES["qwen"])


def test_shared_length_keeps_the_read_token_in_the_suffix():
    assert shared_length([1, 2, 3], [1, 2, 3, 4, 0], pad_token_id=0) == 3
    assert shared_length([1, 2, 3], [1, 2, 9, 4], pad_token_id=0) == 2  # a merge across the boundary
    assert shared_length([1, 2, 3], [1, 2, 3, 0, 0], pad_token_id=0) == 2  # the head reads token 3
    assert shared_length([1, 2, 3], [0, 0], pad_token_id=0) == 0  # nothing to read after a prefix: naive


def test_candidates_that_do_not_split_at_the_prefix_take_the_prefix_start_they_share(tmp_path, monkeypatch):
    tokenizer = byte_level_bpe_tokenizer()
    entry = save_rm(tmp_path / "rm", "qwen2", tokenizer)
    responses = ["\nLove", "Love", "\n\nfreedom", " family", "duty"]
    spec = ModelSpec.from_entry(entry)
    prompt = PROMPTS["greatest_ever_one"]["text"]
    renderer = Renderer(tokenizer, chat=spec.chat)
    prefix_ids = renderer.encode_rendered(prompt)
    full = [renderer.encode_rendered(prompt, response) for response in responses]
    shared = [shared_length(prefix_ids, ids, tokenizer.pad_token_id) for ids in full]
    n = len(prefix_ids)
    assert shared == [n - 1, n, n - 1, n, n]  # "\n\n" merges across the prefix boundary

    candidates = pd.DataFrame({"response": responses})
    with monkeypatch.context() as patch:
        patch.setattr(search, "rewards_naive", None)  # every candidate shares a prefix start: no naive path
        prefix, report = score_candidates(entry, PROMPTS, candidates, tmp_path / "prefix", device="cpu", batch_size=2)
    naive, _ = score_candidates(entry, PROMPTS, candidates, tmp_path / "naive", method="naive", device="cpu")
    assert report.fallback == 2 * len(PROMPTS)
    for key in PROMPTS:
        np.testing.assert_allclose(prefix[key], naive[key], rtol=0, atol=1e-4)
        np.testing.assert_allclose(naive[key], single_sequence_rewards(entry, responses, PROMPTS[key]["text"]),
                                   rtol=0, atol=1e-5)


def test_pad_token_equal_to_end_of_turn_is_read_at_the_response(tmp_path):
    tokenizer = demo.build_tokenizer(WORDS, "llama")
    eot = tokenizer.convert_tokens_to_ids("<|eot_id|>")
    entry = save_rm(tmp_path / "rm", "llama", tokenizer, pad_token_id=eot)
    prefix, report = run(entry, tmp_path / "prefix")
    naive, _ = run(entry, tmp_path / "naive", method="naive")
    [love] = tokenizer("Love", add_special_tokens=False)["input_ids"]
    assert report.read_position["read_token"] == tokenizer.convert_ids_to_tokens(love)  # " Love" trimmed
    assert report.read_position["tokens_after_read"] == 1
    assert report.read_position["pad_token"] == "<|eot_id|>"
    for key, prompt in PROMPTS.items():
        np.testing.assert_allclose(prefix[key], naive[key], rtol=0, atol=1e-4)
        np.testing.assert_allclose(prefix[key], single_sequence_rewards(entry, RESPONSES, prompt["text"]),
                                   rtol=0, atol=1e-4)


def test_missing_pad_token_and_unknown_method_are_refused(tmp_path):
    entry = save_rm(tmp_path / "rm", "llama", demo.build_tokenizer(WORDS, "llama"), pad_token_id=None)
    with pytest.raises(InputError, match="tiny-llama-rm: its config has no pad_token_id"):
        run(entry, tmp_path / "shards")
    with pytest.raises(InputError, match="unknown scoring method 'fast'"):
        run(entry, tmp_path / "shards", method="fast")


class Killed(Exception):
    """Stands for the job being killed between two shards."""


def test_killed_run_resumes_without_recomputing_finished_shards(tmp_path):
    entry = save_rm(tmp_path / "rm", "gemma2", demo.build_tokenizer(WORDS, "gemma"))
    uninterrupted, _ = run(entry, tmp_path / "uninterrupted")

    finished = []

    def kill_after_four(shard):
        finished.append(shard)
        if len(finished) == 4:
            raise Killed

    with pytest.raises(Killed):
        run(entry, tmp_path / "shards", after_shard=kill_after_four)
    recomputed = []
    resumed, report = run(entry, tmp_path / "shards", after_shard=recomputed.append)
    assert (report.reused, report.computed, report.corrupt) == (4, 2, 0)
    assert not set(recomputed) & set(finished)
    pd.testing.assert_frame_equal(resumed, uninterrupted)

    truncated = finished[1].path
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    recomputed.clear()
    repaired, report = run(entry, tmp_path / "shards", after_shard=recomputed.append)
    assert (report.reused, report.computed, report.corrupt) == (5, 1, 1)
    assert recomputed == [finished[1]]
    pd.testing.assert_frame_equal(repaired, uninterrupted)


def test_shards_of_other_candidates_or_of_a_rebuilt_model_are_not_reused(tmp_path):
    entry = save_rm(tmp_path / "rm", "llama", demo.build_tokenizer(WORDS, "llama"))
    first, _ = run(entry, tmp_path / "shards")
    changed = pd.DataFrame({"response": [*RESPONSES[:-1], "freedom and power"]})
    scores, report = score_candidates(entry, PROMPTS, changed, tmp_path / "shards", device="cpu",
                                      batch_size=3, shard_size=5)
    assert (report.reused, report.computed) == (4, 2)  # the last block of each prompt changed
    assert scores["response"].tolist() == changed["response"].tolist()
    pd.testing.assert_frame_equal(scores.iloc[:-1], first.iloc[:-1])
    assert scores["greatest_ever_one"].iloc[-1] != first["greatest_ever_one"].iloc[-1]

    demo.tiny_model("llama", load_tokenizer(ModelSpec.from_entry(entry)), "reward_model", seed=8).save_pretrained(
        entry["hf"])  # the model is rebuilt at the same path
    rebuilt, report = run(entry, tmp_path / "shards")
    assert (report.reused, report.computed) == (0, 6)
    assert not np.allclose(rebuilt["greatest_ever_one"], first["greatest_ever_one"])


def test_a_token_cache_tokenizes_once_for_every_model_of_one_renderer(tmp_path, monkeypatch):
    tokenizer = demo.build_tokenizer(WORDS, "llama")
    entry = save_rm(tmp_path / "rm", "llama", tokenizer)
    other = tmp_path / "other-rm"
    demo.tiny_model("llama", tokenizer, "reward_model", seed=8).save_pretrained(other)
    tokenizer.save_pretrained(other)
    tokenized = []
    monkeypatch.setattr(search, "tokenize_candidates",
                        lambda *args: tokenized.append(args[1]) or TOKENIZE_CANDIDATES(*args))
    cache = {}
    first, _ = run(entry, tmp_path / "first", token_cache=cache)
    assert len(tokenized) == len(cache) == 6  # 2 prompts x 3 shards, each rendered and tokenized once
    second, report = run(entry, tmp_path / "second", token_cache=cache, extra_identity=("seed 8",),
                         model_loader=lambda device: transformers.AutoModelForSequenceClassification.from_pretrained(
                             other).eval())
    assert len(tokenized) == 6 and report.computed == 6
    uncached, _ = run({**entry, "hf": str(other)}, tmp_path / "uncached")
    pd.testing.assert_frame_equal(second, uncached)
    assert not np.allclose(second["greatest_ever_one"], first["greatest_ever_one"])


class OutOfMemoryAbove(torch.nn.Module):
    """Stands for a GPU: a forward of more than ``limit`` rows raises ``torch.cuda.OutOfMemoryError``;
    ``rows`` records each forward's row count."""

    def __init__(self, model, limit):
        super().__init__()
        self.model, self.limit, self.config, self.rows = model, limit, model.config, []

    def set_attn_implementation(self, implementation):
        self.model.set_attn_implementation(implementation)

    def forward(self, input_ids, **kwargs):
        self.rows.append(input_ids.shape[0])
        if input_ids.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("simulated: CUDA out of memory")
        return self.model(input_ids=input_ids, **kwargs)


@pytest.mark.parametrize("method", ["prefix", "naive"])
def test_batch_size_backs_off_on_out_of_memory_and_keeps_the_size_that_fits(tmp_path, method):
    entry = save_rm(tmp_path / "rm", "gemma2", demo.build_tokenizer(WORDS, "gemma"))
    reference, _ = run(entry, tmp_path / "reference", method=method)
    wrappers = []

    def load_small_gpu(device):
        wrappers.append(OutOfMemoryAbove(load_reward_model(ModelSpec.from_entry(entry), device), limit=3))
        return wrappers[-1]

    scores, report = run(entry, tmp_path / "oom", method=method, batch_size=8, model_loader=load_small_gpu)
    for key in PROMPTS:
        np.testing.assert_allclose(scores[key], reference[key], rtol=0, atol=1e-5)
    batches = [rows for rows in wrappers[0].rows if rows > 1]  # the prefix forward has one row
    assert batches[:3] == [5, 4, 2]  # a 5-candidate shard: 8 → all 5 fail, 4 fails, 2 fits
    assert max(batches[3:]) == 2 and report.batch_size == 2  # later batches and shards keep the size
    assert wrappers[0].model.config._attn_implementation == "eager"  # restored after the prefix forwards


def test_batch_size_auto_and_out_of_memory_at_one_row():
    assert BatchSizer.resolve("auto", torch.device("cuda"), 4096).size == 4096
    assert BatchSizer.resolve("auto", torch.device("cpu"), 4096).size == CPU_BATCH_SIZE
    assert BatchSizer.resolve(64, torch.device("cuda"), 4096).size == 64
    def always_out_of_memory(rows):
        raise torch.cuda.OutOfMemoryError("simulated")

    batch = BatchSizer(2)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        score_in_batches([1, 1, 1], batch, always_out_of_memory)
    assert batch.size == 1


class IgnoresAttentionImplementation(OutOfMemoryAbove):
    """A model whose attention does not dispatch through transformers' attention interface."""

    def set_attn_implementation(self, implementation):
        pass


def test_model_whose_attention_ignores_the_shared_prefix_is_refused(tmp_path):
    entry = save_rm(tmp_path / "rm", "llama", demo.build_tokenizer(WORDS, "llama"))
    spec = ModelSpec.from_entry(entry)
    with pytest.raises(InputError, match="0 of its 2 attention layers attended to the shared prefix"):
        run(entry, tmp_path / "shards",
            model_loader=lambda device: IgnoresAttentionImplementation(load_reward_model(spec, device), limit=99))


def test_candidates_from_token_table_and_corpus():
    tokens = pd.DataFrame({"token_id": [4, 9], "piece": ["▁Love", "duty"], "decoded": [" Love", "duty"],
                           "norm": ["love", "duty"]})
    assert candidates_from_table(tokens, "vocab").to_dict("list") == {"response": [" Love", "duty"],
                                                                      "token_id": [4, 9]}
    corpus = pd.DataFrame({"term": ["love", "ability", "love"], "category": ["Communion", "Agency", "Agency"],
                           "dictionary": "big2_nouns"})
    assert candidates_from_table(corpus, "big2_nouns")["response"].tolist() == ["ability", "love"]


def test_compare_scores_identity_and_perturbation(tmp_path):
    rng = np.random.default_rng(0)
    ours = pd.DataFrame({"response": [f"w{i}" for i in range(50)],
                         "a": rng.normal(size=50).astype(np.float32), "b": rng.normal(size=50).astype(np.float32)})
    identical = compare_scores(ours, ours.copy())
    assert identical["prompt"].tolist() == ["a", "b"]
    assert identical["n"].tolist() == [50, 50]
    assert np.allclose(identical["spearman"], 1.0) and (identical["max_abs_diff"] == 0).all()

    published = ours.sample(frac=1.0, random_state=1).iloc[:40].copy()  # shuffled, 10 responses missing
    published.loc[published.index[0], "b"] += 100.0
    perturbed = compare_scores(ours, published).set_index("prompt")
    assert perturbed.loc["a", "n"] == 40 and perturbed.loc["a", "max_abs_diff"] == 0
    assert perturbed.loc["a", "spearman"] == pytest.approx(1.0)
    assert perturbed.loc["b", "spearman"] < 1.0
    assert perturbed.loc["b", "max_abs_diff"] == pytest.approx(100.0, abs=1e-4)


def test_published_csv_keeps_responses_verbatim(tmp_path):
    path = tmp_path / "published.csv"
    path.write_text('response,a\nNA,1.5\nnull,2.5\n" Love",\n', encoding="utf-8")
    table = read_wide_scores(path)
    assert table["response"].tolist() == ["NA", "null", " Love"]
    assert table["a"].iloc[:2].tolist() == [1.5, 2.5] and np.isnan(table["a"].iloc[2])


@pytest.mark.parametrize("arch, family", ARCHITECTURES[:2])
def test_published_double_bos_is_honoured_by_prefix_and_naive_search(tmp_path, arch, family):
    entry = {**save_rm(tmp_path / "rm", arch, demo.build_tokenizer(WORDS, family)), "bos": "double_as_published"}
    naive, _ = run(entry, tmp_path / "naive", method="naive")
    prefix, prefix_report = run(entry, tmp_path / "prefix", method="prefix")
    single, _ = run({**entry, "bos": "single"}, tmp_path / "single", method="prefix")
    renderer = load_renderer(ModelSpec.from_entry(entry))
    ids = renderer.encode_rendered(PROMPTS["greatest_ever_one"]["text"], RESPONSES[0])
    bos = renderer.tokenizer.bos_token_id
    assert ids[:2] == [bos] * 2 and ids[2] != bos
    assert prefix_report.fallback == 0
    for key, prompt in PROMPTS.items():
        np.testing.assert_allclose(prefix[key], naive[key], rtol=0, atol=1e-4)
        np.testing.assert_allclose(naive[key], single_sequence_rewards(entry, RESPONSES, prompt["text"]), rtol=0, atol=1e-5)
        assert np.abs(prefix[key] - single[key]).max() > 1e-4  # the second BOS changes the rewards


def test_sample_responses_are_evenly_spaced_distinct_and_sorted():
    published = pd.DataFrame({"response": ["d", "a", "c", "b", "a", "e"]})
    assert sample_responses(published, 3)["response"].tolist() == ["a", "c", "e"]
    assert sample_responses(published, 10)["response"].tolist() == ["a", "b", "c", "d", "e"]


def test_reproduction_check_reports_both_tokenizations(tmp_path):
    """Published scores made with the double BOS: our single-BOS scores differ from them, the
    other-BOS sample of the check reproduces them."""
    entry = save_rm(tmp_path / "rm", "llama", demo.build_tokenizer(WORDS, "llama"))
    published, _ = run({**entry, "bos": "double_as_published"}, tmp_path / "published")
    write_csv(published, tmp_path / "published.csv")
    ours, _ = run(entry, tmp_path / "ours")
    lexicon_tables = [tmp_path / "ours-a.parquet", tmp_path / "ours-b.parquet"]  # one search per lexicon, overlapping
    write_parquet(ours.iloc[:8], lexicon_tables[0])
    write_parquet(ours.iloc[5:], lexicon_tables[1])
    write_other_bos_scores(entry, PROMPTS, tmp_path / "published.csv", 5, tmp_path / "other.parquet",
                           tmp_path / "other.shards", shard_size=5, device="cpu")
    write_reproduction_check(lexicon_tables, tmp_path / "other.parquet", tmp_path / "published.csv", "single",
                             tmp_path / "check.csv")
    check = pd.read_csv(tmp_path / "check.csv").set_index(["bos", "responses", "prompt"])
    assert len(check) == 3 * len(PROMPTS)
    for key in PROMPTS:
        assert check.loc[("single", "all", key), "n"] == len(RESPONSES)
        assert check.loc[("single", "sample", key), "n"] == check.loc[("double_as_published", "sample", key), "n"] == 5
        assert check.loc[("double_as_published", "sample", key), "max_abs_diff"] < 1e-5
        assert check.loc[("single", "sample", key), "max_abs_diff"] > 1e-4
