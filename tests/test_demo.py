"""Tests of the demo world: tokenizers, chat templates, tiny models, and the planted bias."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import transformers
import yaml

from rmbias.corpora.dictionaries import read_dictionary
from rmbias.corpora.tokens import special_token_ids
from rmbias.demo import (
    AGENCY,
    AUTHORITY_WORDS,
    CHAT_TEMPLATES,
    COMMUNION,
    DEMO_LMS,
    DEMO_RMS,
    FILLER,
    answer_corpus,
    build_demo_world,
    build_tokenizer,
    reward_model_from,
    synthetic_preference_pairs,
    tiny_model,
    word_pools,
    write_synthetic_preferences,
)
from rmbias.demo.tokenizers import RATING_TOKENS
from rmbias.demo.world import (
    APPEAL_LOGIT,
    FAVOURED_CATEGORY,
    OTHER,
    PLANTED_LOGIT,
    RATED_CATEGORY_SHARE,
    WORDING_LOG_SPREAD,
    planted_strength,
    planted_truth,
    rating_corpus,
    shared_preference_pairs,
    shared_word_pools,
    word_appeal,
    world_logit,
)
from rmbias.io import write_parquet
from rmbias.models.conversations import Renderer
from rmbias.scoring.search import score_candidates
from rmbias.training.preferences import read_preferences

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


def test_rating_tokens_are_special_tokens_of_every_family(tokenizers):
    # special, so that no token table, candidate set or MWLR table lists them
    for tokenizer in tokenizers.values():
        ids = tokenizer.convert_tokens_to_ids(list(RATING_TOKENS))
        assert tokenizer.unk_token_id not in ids and set(ids) <= special_token_ids(tokenizer)


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


@pytest.mark.parametrize("family", sorted(CHAT_TEMPLATES))
def test_output_scale_multiplies_the_logits(tokenizers, family):
    tokenizer = tokenizers[family]
    input_ids = _ids(tokenizer, family)
    with torch.no_grad():
        default = tiny_model(ARCH_OF_FAMILY[family], tokenizer, "causal_lm", seed=3)(input_ids).logits
        scaled = tiny_model(ARCH_OF_FAMILY[family], tokenizer, "causal_lm", seed=3, output_scale=4.0)(input_ids).logits
    if family == "gemma":  # Gemma-2 soft-caps its logits at ±30: compare before the cap
        default, scaled = (30 * torch.atanh(logits / 30) for logits in (default, scaled))
    assert torch.allclose(scaled, 4 * default, rtol=1e-3, atol=1e-4)


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


# --- the demo world -----------------------------------------------------------------------

WORDS_PER_CATEGORY = 60
"""Words per category of the seeded subsamples that the measurements below rank (speed only)."""
DICTIONARY_FILES = {"big2_nouns": "dict_big2_nouns.csv", "big2_expanded": "dict_big2_expanded.csv",
                    "mfd2": "moral-foundations-dictionary-20.dicx"}


@pytest.fixture(scope="module")
def corpora(reference_mirror) -> pd.DataFrame:
    folder = reference_mirror / "data" / "corpora"
    return pd.concat([read_dictionary(folder / name, dictionary) for dictionary, name in DICTIONARY_FILES.items()],
                     ignore_index=True)


NULL_WORLD_MODELS = ("demo-llama-it", "demo-gemma-it", "demo-llama-base", "demo-gemma-base")
"""The models the world without a planted effect needs: the ones whose effect must vanish."""


@pytest.fixture(scope="module")
def world_corpora(demo_run) -> pd.DataFrame:
    """The lexicon corpora the demo run built its world from (every declared lexicon's)."""
    paths = sorted((demo_run / "results/corpora").glob("*.parquet"))
    return pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)


@pytest.fixture(scope="module")
def worlds(demo_run, world_corpora, tmp_path_factory) -> dict[float, dict[str, Path]]:
    """Strength → model id → directory: the demo run's world (the default config: strength 0.8,
    seed 0, default training settings) and, built here from the same corpora, prompts, seed and
    settings, the models of :data:`NULL_WORLD_MODELS` at strength 0."""
    demo = yaml.safe_load((demo_run / "results/config_used.yaml").read_text())["config"]["demo"]
    assert (demo["strength"], demo["seed"]) == (0.8, 0)
    manifest = json.loads((demo_run / "results/models/demo_world.json").read_text())
    torch.set_num_threads(2)
    null = build_demo_world(world_corpora, PROMPTS, tmp_path_factory.mktemp("world0.0"), 0.0, seed=0,
                            model_ids=NULL_WORLD_MODELS)
    return {0.8: {model_id: demo_run / "results/models" / model_id for model_id in manifest["models"]}, 0.0: null}


def test_a_subset_of_the_world_builds_only_those_models_over_the_same_vocabulary(worlds):
    assert set(worlds[0.0]) == set(NULL_WORLD_MODELS)
    models = json.loads((worlds[0.0]["demo-llama-it"].parent / "demo_world.json").read_text())["models"]
    assert set(models) == set(NULL_WORLD_MODELS)
    for model_id in NULL_WORLD_MODELS:  # the tokenizer does not depend on which models are built
        subset, whole = (transformers.AutoTokenizer.from_pretrained(worlds[s][model_id]) for s in (0.0, 0.8))
        assert subset.get_vocab() == whole.get_vocab(), model_id


def _category_gap(path: Path, lm_type: str, pools: dict[str, list[str]]) -> dict[str, float]:
    """Mean over prompts of each framing of [mean log p(Agency word) - mean log p(Communion word)]
    for the next token after the rendered prompt, words in their answer form, nats."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    renderer = Renderer(tokenizer, chat=lm_type == "instruction-tuned")
    model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
    form = (lambda word: " " + word) if lm_type == "pretrained" else (lambda word: word.capitalize())

    def ids(words):
        encoded = [tokenizer(form(word), add_special_tokens=False)["input_ids"] for word in words]
        return [token_ids[0] for token_ids in encoded if len(token_ids) == 1]

    agency, communion = ids(pools[AGENCY]), ids(pools[COMMUNION])
    gaps = {"positive": [], "negative": []}
    for prompt in PROMPTS.values():
        input_ids = torch.tensor([renderer.encode_rendered(prompt["text"])])
        with torch.no_grad():
            log_probs = model(input_ids).logits[0, -1].log_softmax(-1)
        gaps[prompt["framing"]].append((log_probs[agency].mean() - log_probs[communion].mean()).item())
    return {framing: float(np.mean(values)) for framing, values in gaps.items()}


def test_world_writes_every_model_loadable_with_auto_classes(worlds):
    paths = worlds[0.8]
    assert set(paths) == {spec.id for spec in DEMO_LMS} | {spec.id for spec in DEMO_RMS}
    for spec in DEMO_RMS:
        model = transformers.AutoModelForSequenceClassification.from_pretrained(paths[spec.id])
        assert model.config.num_labels == 1
    gemma = transformers.AutoModelForCausalLM.from_pretrained(paths["demo-gemma-it"])
    assert isinstance(gemma, transformers.Gemma2ForCausalLM)
    qwen_tokenizer = transformers.AutoTokenizer.from_pretrained(paths["demo-qwen-it"])
    llama_tokenizer = transformers.AutoTokenizer.from_pretrained(paths["demo-llama-it"])
    gemma_tokenizer = transformers.AutoTokenizer.from_pretrained(paths["demo-gemma-base"])
    decoded = {name: {tok.decode([i]) for i in range(len(tok))} for name, tok in
               {"llama": llama_tokenizer, "gemma": gemma_tokenizer, "qwen": qwen_tokenizer}.items()}
    assert decoded["gemma"] - decoded["llama"] and decoded["llama"] - decoded["gemma"]
    assert " Authority" in decoded["llama"] & decoded["gemma"] & decoded["qwen"]
    manifest = json.loads((paths["demo-llama-it"].parent / "demo_world.json").read_text())
    assert manifest["favoured_category"]["llama"]["positive"] == AGENCY
    assert set(manifest["prompt_truth"]["gemma"]) == set(PROMPTS)
    for record in manifest["models"].values():
        for losses in record["losses"].values():
            assert losses["loss_last_tenth"] < losses["loss_first_tenth"]


def test_rating_objective_trains_the_reward_models_backbones_only(worlds):
    models = json.loads((worlds[0.8]["demo-llama-it"].parent / "demo_world.json").read_text())["models"]
    backbones = {spec.backbone for spec in DEMO_RMS}
    for spec in DEMO_LMS:
        assert ("rating" in models[spec.id]["losses"]) == spec.rates
    for backbone in backbones:
        rating = models[backbone]["losses"]["rating"]
        # from the whole vocabulary's spread to below the 2-token uncertainty (ln 2 nats)
        assert rating["loss_first_tenth"] > 2.0 and rating["loss_last_tenth"] < 0.69, (backbone, rating)


@pytest.mark.parametrize("llama_id, gemma_id, lm_type", [
    ("demo-llama-it", "demo-gemma-it", "instruction-tuned"),
    ("demo-llama-base", "demo-gemma-base", "pretrained"),
])
def test_planted_effect_is_recovered_from_log_probs_and_absent_at_strength_zero(
        worlds, world_corpora, llama_id, gemma_id, lm_type):
    pools = word_pools(world_corpora, max_words_per_category=WORDS_PER_CATEGORY, seed=0)
    effects = {}
    for strength, paths in worlds.items():
        llama, gemma = _category_gap(paths[llama_id], lm_type, pools), _category_gap(paths[gemma_id], lm_type, pools)
        effects[strength] = {framing: llama[framing] - gemma[framing] for framing in llama}
    print(llama_id, gemma_id, effects)
    assert effects[0.8]["positive"] > 1.0
    assert effects[0.8]["negative"] < -1.0
    for framing in ("positive", "negative"):
        assert abs(effects[0.0][framing]) < 0.1 * abs(effects[0.8][framing])


def test_qwen_favours_communion_on_positive_prompts_like_gemma(worlds, world_corpora):
    # The Qwen world is Gemma's direction at 1.5 times the strength (STRENGTH_SCALE); in the
    # default world both instruct LMs' log-probability gaps saturate near 3 nats (measured:
    # Qwen -2.5/+2.8, Gemma -2.9/+3.0 over every Big Two word), so the test asks for the side,
    # not the size: Qwen and Gemma on one side of zero in each framing, Llama on the other.
    pools = word_pools(world_corpora, max_words_per_category=WORDS_PER_CATEGORY, seed=0)
    gaps = {family: _category_gap(worlds[0.8][f"demo-{family}-it"], "instruction-tuned", pools)
            for family in ("qwen", "gemma", "llama")}
    for family in ("qwen", "gemma"):
        assert gaps[family]["positive"] < -1.0 and gaps[family]["negative"] > 1.0, gaps
    assert gaps["llama"]["positive"] > 1.0 and gaps["llama"]["negative"] < -1.0, gaps


def test_planted_truth_varies_with_the_prompts_wording_around_the_world_strength():
    truth = planted_truth(PROMPTS, "gemma", strength=0.6, seed=1)
    assert list(truth) == sorted(PROMPTS)
    strengths = pd.Series({key: prompt["strength"] for key, prompt in truth.items()})
    log_factors = np.log(strengths / planted_strength("gemma", 0.6))
    # three wording parts, each a factor within the spread on the log scale
    assert log_factors.abs().max() <= 3 * WORDING_LOG_SPREAD + 1e-9
    assert strengths.std() > 0.05
    # multiplicative in the wording: the log-factor of a key is the sum of its parts' effects
    parts = pd.DataFrame([key.split("_") for key in strengths.index], index=strengths.index)
    design = pd.get_dummies(parts).astype(float).to_numpy()
    coefficients = np.linalg.lstsq(design, log_factors.to_numpy(), rcond=None)[0]
    assert np.abs(design @ coefficients - log_factors.to_numpy()).max() < 1e-9
    for key, prompt in truth.items():
        assert prompt["favoured_category"] == FAVOURED_CATEGORY["gemma"][PROMPTS[key]["framing"]]
    assert truth == planted_truth(PROMPTS, "gemma", strength=0.6, seed=1)
    assert {prompt["strength"] for prompt in planted_truth(PROMPTS, "gemma", 0.0, seed=1).values()} == {0.0}


def test_word_appeal_is_one_standard_normal_draw_per_word_common_to_every_family(corpora):
    pools = word_pools(corpora, max_words_per_category=WORDS_PER_CATEGORY, seed=0)
    appeal = word_appeal(pools, seed=5)
    assert set(appeal) == {word for words in pools.values() for word in words}
    values = np.array(list(appeal.values()))
    assert abs(values.mean()) < 0.2 and 0.8 < values.std() < 1.2
    assert appeal == word_appeal(pools, seed=5) and appeal != word_appeal(pools, seed=6)


def test_world_logit_adds_appeal_and_the_planted_category_and_sinks_filler():
    truth = planted_truth(PROMPTS, "llama", strength=0.8, seed=2)
    strength = truth["best_ever_one"]["strength"]
    logit = {category: world_logit(truth, "best_ever_one", category, appeal=0.5) for category in (AGENCY, COMMUNION, OTHER)}
    assert logit[OTHER] == pytest.approx(APPEAL_LOGIT * 0.5)
    assert logit[AGENCY] - logit[OTHER] == pytest.approx(PLANTED_LOGIT * strength)
    assert logit[OTHER] - logit[COMMUNION] == pytest.approx(PLANTED_LOGIT * strength)
    assert world_logit(truth, "best_ever_one", FILLER, appeal=3.0) == world_logit(truth, "best_ever_one", FILLER, 0.0) < -5
    assert world_logit(truth, "worst_ever_one", COMMUNION, 0.0) > 0 > world_logit(truth, "worst_ever_one", AGENCY, 0.0)
    neutral = planted_truth(PROMPTS, "llama", strength=0.0, seed=2)
    assert {world_logit(neutral, key, c, 0.0) for key in PROMPTS for c in (AGENCY, COMMUNION, OTHER)} == {0.0}


def test_answer_corpus_draws_dictionary_words_by_the_softmax_of_the_world_logit(corpora):
    pools = word_pools(corpora, max_words_per_category=WORDS_PER_CATEGORY, seed=0)
    truth = planted_truth(PROMPTS, "llama", strength=0.6, seed=2)
    appeal = word_appeal(pools, seed=5)
    corpus = answer_corpus(pools, truth, appeal, answers_per_prompt=4000, seed=1)
    assert len(corpus) == 4000 * len(PROMPTS)
    words = corpus["answer"].str.lower()
    category_of = {w: c for c, ws in pools.items() if c != FILLER for w in ws}
    for key in ("best_ever_one", "worst_world_please"):
        weight = pd.Series({w: np.exp(world_logit(truth, key, c, appeal[w])) for w, c in category_of.items()})
        favoured = pools[truth[key]["favoured_category"]]
        share = words[corpus["prompt_key"] == key].isin(favoured).mean()
        assert share == pytest.approx(weight[favoured].sum() / weight.sum(), abs=0.03)
    # within a pool of no planted preference, log-frequency rises by APPEAL_LOGIT per unit of appeal
    counts = words[words.isin(pools[OTHER])].value_counts()
    slope = np.polyfit([appeal[word] for word in counts.index], np.log(counts.to_numpy()), 1)[0]
    assert slope == pytest.approx(APPEAL_LOGIT, rel=0.15)
    assert not words.isin(pools[FILLER]).any()
    assert set(corpus["answer"].str[0].str.isupper()) == {True, False}
    assert not corpus["answer"].str.startswith(" ").any()
    plain_text = answer_corpus(pools, truth, appeal, answers_per_prompt=400, seed=1, leading_space_share=0.5)
    assert plain_text["answer"].str.startswith(" ").mean() == pytest.approx(0.5, abs=0.02)
    assert set(plain_text["answer"].str.strip().str.lower()) <= set(category_of)


def test_ratings_are_the_logistic_of_the_world_logit(corpora):
    pools = word_pools(corpora, max_words_per_category=WORDS_PER_CATEGORY, seed=0)
    truth = planted_truth(PROMPTS, "llama", strength=0.8, seed=2)
    appeal = word_appeal(pools, seed=5)
    ratings = rating_corpus(pools, truth, appeal, n=4000, seed=3)
    assert list(ratings.columns) == ["prompt_key", "answer", "p_good"]
    category_of = {w: c for c, ws in pools.items() for w in ws}
    for row in ratings.head(200).itertuples():
        word = row.answer.lower()
        expected = 1 / (1 + np.exp(-world_logit(truth, row.prompt_key, category_of[word], appeal[word])))
        assert row.p_good == pytest.approx(expected)
    filler_share = ratings["answer"].str.lower().isin(pools[FILLER]).mean()
    assert filler_share == pytest.approx(RATED_CATEGORY_SHARE[FILLER], abs=0.03)
    assert ratings["p_good"].between(0, 1).all() and ratings["p_good"].nunique() > len(PROMPTS)


def test_synthetic_preference_pairs_are_neutral_between_agency_and_communion(corpora):
    pools = word_pools(corpora, max_words_per_category=WORDS_PER_CATEGORY, seed=0)
    pairs = synthetic_preference_pairs(pools, PROMPTS, n=6000, seed=4)
    assert list(pairs.columns) == ["prompt", "chosen", "rejected"]
    assert set(pairs["prompt"]) == {prompt["text"] for prompt in PROMPTS.values()}
    chosen = pairs["chosen"].str.lower()
    assert pairs["rejected"].str.lower().isin(pools[FILLER]).all()
    agency_share, communion_share = chosen.isin(pools[AGENCY]).mean(), chosen.isin(pools[COMMUNION]).mean()
    assert agency_share == pytest.approx(1 / 3, abs=0.03) and communion_share == pytest.approx(1 / 3, abs=0.03)
    positive_texts = {prompt["text"] for prompt in PROMPTS.values() if prompt["framing"] == "positive"}
    on_positive = chosen[pairs["prompt"].isin(positive_texts)]
    assert on_positive.isin(pools[AGENCY]).mean() == pytest.approx(on_positive.isin(pools[COMMUNION]).mean(), abs=0.04)
    assert synthetic_preference_pairs(pools, PROMPTS, n=200, seed=4).equals(
        synthetic_preference_pairs(pools, PROMPTS, n=200, seed=4))
    with pytest.raises(ValueError):
        synthetic_preference_pairs({AGENCY: ["power"]}, PROMPTS, n=1, seed=0)


def test_reward_model_pairs_are_identical_across_families_and_known_to_every_tokenizer(worlds, world_corpora):
    paths = worlds[0.8]
    models = json.loads((paths["demo-llama-it"].parent / "demo_world.json").read_text())["models"]
    for seed in {spec.seed for spec in DEMO_RMS}:
        pair_seeds = {models[spec.id]["pairs_seed"] for spec in DEMO_RMS if spec.seed == seed}
        assert len(pair_seeds) == 1, seed
    shared_seeds = [seed for seed in {spec.seed for spec in DEMO_RMS}
                    if {"llama", "gemma"} <= {models[spec.id]["family"] for spec in DEMO_RMS if spec.seed == seed}]
    assert len(shared_seeds) >= 3  # a Llama and a Gemma RM trained on the very same pairs, three times over
    pools = word_pools(world_corpora)
    pairs = shared_preference_pairs(pools, PROMPTS, n=500, seed=models["demo-llama-rm-a"]["pairs_seed"])
    words = set(pairs["chosen"]) | set(pairs["rejected"])
    for model_id in ("demo-llama-rm-a", "demo-gemma-rm-a", "demo-qwen-it"):
        tokenizer = transformers.AutoTokenizer.from_pretrained(paths[model_id])
        assert all(len(tokenizer(word, add_special_tokens=False)["input_ids"]) == 1 for word in words), model_id
    shared = shared_word_pools(pools)
    assert len(shared[AGENCY]) < len(pools[AGENCY])  # the words some family's tokenizer lacks are left out
    assert pairs["chosen"].str.lower().isin([w for c in (AGENCY, COMMUNION, OTHER) for w in shared[c]]).all()


def test_synthetic_preference_file_reads_back_as_the_neutral_pairs(corpora, tmp_path):
    corpus_paths = []
    for dictionary, frame in corpora.groupby("dictionary"):
        corpus_paths.append(tmp_path / f"{dictionary}.parquet")
        write_parquet(frame, corpus_paths[-1])
    write_synthetic_preferences(corpus_paths, PROMPTS, n=50, seed=3, out_path=tmp_path / "pairs.jsonl")
    read = read_preferences(tmp_path / "pairs.jsonl")
    expected = shared_preference_pairs(word_pools(corpora), PROMPTS, n=50, seed=3)
    assert read.schema == "skywork" and not read.skipped
    assert read.pairs["prompt"].tolist() == [[{"role": "user", "content": text}] for text in expected["prompt"]]
    assert read.pairs[["chosen", "rejected"]].equals(expected[["chosen", "rejected"]])


def test_reward_model_copies_the_backbone_of_its_language_model(tokenizers):
    causal_lm = tiny_model("gemma2", tokenizers["gemma"], "causal_lm", seed=5)
    reward_model = reward_model_from(causal_lm, "gemma2", tokenizers["gemma"], seed=6)
    lm_weights, rm_weights = causal_lm.base_model.state_dict(), reward_model.base_model.state_dict()
    assert lm_weights.keys() == rm_weights.keys()
    assert all(torch.equal(lm_weights[name], rm_weights[name]) for name in lm_weights)


def test_reward_model_head_starts_from_its_seeds_random_init_and_is_trained(tokenizers, worlds):
    causal_lm = tiny_model("llama", tokenizers["llama"], "causal_lm", seed=5)
    head = reward_model_from(causal_lm, "llama", tokenizers["llama"], seed=6).score.weight
    # the head is exactly a fresh model's random head of that seed: nothing else sets it
    assert torch.equal(head, tiny_model("llama", tokenizers["llama"], "reward_model", seed=6).score.weight)
    assert not torch.equal(head, reward_model_from(causal_lm, "llama", tokenizers["llama"], seed=7).score.weight)
    for spec in DEMO_RMS:
        path = worlds[0.8][spec.id]
        trained = transformers.AutoModelForSequenceClassification.from_pretrained(path).score.weight
        tokenizer = transformers.AutoTokenizer.from_pretrained(path)
        arch = ARCH_OF_FAMILY[spec.id.split("-")[1]]
        initial = tiny_model(arch, tokenizer, "reward_model", seed=spec.seed).score.weight
        assert trained.shape == initial.shape and not torch.allclose(trained, initial)


def _agency_minus_communion_rank(world: dict[str, Path], rm_id: str, words: dict[str, list[str]],
                                 tmp_path: Path) -> dict[str, float]:
    """Mean over prompts of each framing of [mean rank of the Agency words - mean rank of the
    Communion words] among ``words``' Big Two words, by the RM's rewards (rank 1 = highest)."""
    family = rm_id.split("-")[1]
    entry = {"id": rm_id, "hf": str(world[rm_id]), "family": family, "kind": "reward_model",
             "type": "instruction-tuned", "score": "logits[:, 0]"}
    candidates = pd.DataFrame({"response": words[AGENCY] + words[COMMUNION]})
    wide, _ = score_candidates(entry, {key: prompt["text"] for key, prompt in PROMPTS.items()}, candidates,
                               tmp_path / rm_id, device="cpu")
    is_agency = wide["response"].isin(words[AGENCY])
    gaps: dict[str, list[float]] = {"positive": [], "negative": []}
    for key, prompt in PROMPTS.items():
        ranks = wide[key].rank(ascending=False)
        gaps[prompt["framing"]].append(ranks[is_agency].mean() - ranks[~is_agency].mean())
    return {framing: float(np.mean(values)) for framing, values in gaps.items()}


def test_demo_rms_inherit_the_planted_preference_of_their_backbones(worlds, world_corpora, tmp_path):
    # Identical neutral pairs, yet the RMs rank the Big Two by their backbone's world: from
    # positive to negative prompts, the Llama-based RMs' agency-minus-communion rank gap rises
    # (agency falls behind) by more than the Gemma-based RMs' (the base x category x framing
    # term of Figure 1). The RMs rank a seeded subsample of the shared words (speed only); the
    # workflow's Figure 1 analysis of the same RMs over every word is in test_workflow_demo.
    words = shared_word_pools(word_pools(world_corpora, max_words_per_category=WORDS_PER_CATEGORY, seed=0))
    gaps = {spec.id: _agency_minus_communion_rank(worlds[0.8], spec.id, words, tmp_path) for spec in DEMO_RMS}
    print(gaps)

    def rise(family: str) -> float:
        return float(np.mean([gaps[spec.id]["negative"] - gaps[spec.id]["positive"]
                              for spec in DEMO_RMS if family in spec.id]))

    assert rise("llama") - rise("gemma") > 20, gaps


def test_authority_words_are_kept_when_pools_are_subsampled(corpora):
    pools = word_pools(corpora, max_words_per_category=20, seed=3)
    assert set(AUTHORITY_WORDS) <= {word for words in pools.values() for word in words}
    assert all(len(pools[c]) <= 20 for c in (AGENCY, COMMUNION))
    assert not set(pools[AGENCY]) & set(pools[COMMUNION])
