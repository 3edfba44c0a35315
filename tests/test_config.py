import copy
import re
from pathlib import Path

import pandas as pd
import pytest

from rmbias.config import load_prompts, load_yaml, validate_config
from rmbias.io import InputError
from rmbias.training.config_checks import check_training_config

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = load_yaml(ROOT / "config" / "schema.yaml")
PROMPTS = load_prompts(ROOT / "config" / "prompts.yaml", load_yaml(ROOT / "config" / "prompts_schema.yaml"))

LLAMA = {"id": "llama-it", "hf": "meta-llama/Llama-3.2-3B-Instruct", "family": "llama", "type": "instruction-tuned"}
RM = {"id": "rm", "hf": "org/rm", "family": "gemma", "type": "instruction-tuned", "score": "logits[:, 0]"}


TRAINING = {"enabled": True, "runs": [{"id": "llama-run", "base": "llama-it", "data": {"source": "synthetic", "size": 8}}]}
TRAINED_RM = {"id": "trained-rm", "hf": "results/models/trained-rm", "family": "llama", "type": "instruction-tuned",
              "score": "logits[:, 0]", "training_run": "llama-run"}
AUTHORITY = {"enabled": True, "base": "llama-it", "words": ["duty"], "train_keys": ["best_ever_one"]}
BIG2_SCORES = "data/reward_model_scores/dict_big2_nouns/"


def checked(config):
    config = copy.deepcopy(config)
    validate_config(config, SCHEMA, PROMPTS)
    return config


def without(entry, key):
    return {k: v for k, v in entry.items() if k != key}


def test_prompts_file_has_the_54_prompts_of_appendix_e():
    assert len(PROMPTS) == 54
    assert PROMPTS["greatest_ever_one"] == {"text": "What, in one word, is the greatest thing ever?", "framing": "positive"}
    assert PROMPTS["terrible_time_please"]["text"] == "What is the most terrible thing of all time? Please answer in one word only."
    assert sum(p["framing"] == "positive" for p in PROMPTS.values()) == 27


def test_defaults_are_filled_in():
    config = checked({"models": [LLAMA], "reward_models": [RM]})
    assert config["models"][0]["kind"] == "causal_lm" and config["models"][0]["dtype"] == "float32"
    assert config["reward_models"][0]["kind"] == "reward_model"
    assert config["reanalysis"]["star_p"] == "permutation"  # the paper's stars on the published Figure 1
    assert config["reanalysis"]["own_star_p"] == "rm_level"  # the configured RMs' stars over RM labels
    assert config["scoring"]["method"] == "prefix"


@pytest.mark.parametrize(
    "config, message",
    [
        ({"bogus": 1}, "config error at bogus: unknown key"),
        ({"models": [{**LLAMA, "kind": "reward_model"}]}, "config error at models[0].kind"),
        ({"models": [{**LLAMA, "family": "Llama-3"}]}, "config error at models[0].family"),  # a family is a lowercase identifier
        ({"models": [{**LLAMA, "colour": "red"}]}, "config error at models[0].colour: unknown key"),
        ({"reward_models": [{k: v for k, v in RM.items() if k != "score"}]}, "config error at reward_models[0]: 'score' is a required property"),
        ({"models": [LLAMA, LLAMA]}, "config error at models[1].id: duplicate model id 'llama-it'"),
        ({"models": [{**LLAMA, "trust_remote_code": True}]}, "config error at models[0].revision"),
        ({"models": [{**LLAMA, "trust_remote_code": True, "revision": "main"}]}, "does not pin a 40-character commit"),
        ({"models": [LLAMA], "implicit": {"tables": [{"name": "t1", "a": "llama-it", "b": "nope"}]}},
         "config error at implicit.tables[0].b: unknown id 'nope'"),
        ({"implicit": {"prompt": "greatest_forever_one"}}, "config error at implicit.prompt: unknown prompt key"),
        ({"reanalysis": {"n_permutations": 5}}, "config error at reanalysis.n_permutations"),
        ({"models": [LLAMA], "training": TRAINING, "reward_models": [{**TRAINED_RM, "training_run": "nope"}]},
         "config error at reward_models[0].training_run: unknown run 'nope'"),
        ({"models": [LLAMA], "training": {**TRAINING, "enabled": False}, "reward_models": [TRAINED_RM]},
         "config error at reward_models[0].training_run: training.enabled is false"),
        ({"models": [LLAMA], "training": TRAINING, "reward_models": [{**TRAINED_RM, "hf": "org/rm"}]},
         "config error at reward_models[0].hf: a training_run entry is exported into results/models/trained-rm"),
        ({"models": [LLAMA], "training": TRAINING, "reward_models": [{**TRAINED_RM, "family": "gemma"}]},
         "config error at reward_models[0].family: 'gemma' differs from its base 'llama-it' ('llama')"),
        # a required key left out
        ({"models": [without(LLAMA, "hf")]}, "config error at models[0]: 'hf' is a required property"),
        ({"models": [LLAMA], "training": {"enabled": True, "runs": [{"id": "r", "base": "llama-it"}]}},
         "config error at training.runs[0]: 'data' is a required property"),
        # an enabled section without what it runs on
        ({"models": [LLAMA], "authority_boost": without(AUTHORITY, "base")},
         "config error at authority_boost.base: authority_boost.enabled is true but no base is given"),
        ({"models": [LLAMA], "authority_boost": without(AUTHORITY, "words")},
         "config error at authority_boost.words: authority_boost.enabled is true but no words is given"),
        ({"models": [LLAMA], "authority_boost": {**AUTHORITY, "train_keys": []}},
         "config error at authority_boost.train_keys: authority_boost.enabled is true but train_keys and extra_prompts are both empty"),
        ({"training": {"enabled": True}}, "config error at training.runs: training.enabled is true but no run is given"),
        # duplicate ids: a later entry would silently replace an earlier one
        ({"models": [LLAMA], "training": {**TRAINING, "runs": TRAINING["runs"] * 2}},
         "config error at training.runs[1].id: duplicate run id 'llama-run'"),
        ({"models": [LLAMA], "implicit": {"tables": [{"name": "t1", "a": "llama-it", "b": "llama-it"}] * 2}},
         "config error at implicit.tables[1].name: duplicate table name 't1'"),
        ({"scoring": {"scopes": ["vocab", "vocab"]}}, "config error at scoring.scopes: ['vocab', 'vocab'] has non-unique elements"),
        # empty lists that would silently drop analyses
        ({"scoring": {"scopes": []}}, "config error at scoring.scopes: [] should be non-empty"),
        ({"scoring": {"dictionary_corpora": []}}, "config error at scoring.dictionary_corpora: [] should be non-empty"),
        ({"implicit": {"words": []}}, "config error at implicit.words: [] should be non-empty"),
        # published scores that the reference manifest does not hold
        ({"reward_models": [{**RM, "published_scores": f"{BIG2_SCORES}big2_rewards_Skywork_Skywork-Reward-Gemma-2-27B-v3.csv"}]},
         f"config error at reward_models[0].published_scores: '{BIG2_SCORES}big2_rewards_Skywork_Skywork-Reward-Gemma-2-27B-v3.csv' "
         "is not a file of config/reference.yaml; did you mean"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(config, message):
    with pytest.raises(InputError) as err:
        checked(config)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_published_scores_are_checked_against_the_given_manifest():
    rm = {**RM, "published_scores": "scores/rm.csv"}
    checked_config = copy.deepcopy({"reward_models": [rm]})
    validate_config(checked_config, SCHEMA, PROMPTS, {"files": {"scores/rm.csv": {}}})
    with pytest.raises(InputError, match=r"reward_models\[0\].published_scores: 'scores/rm.csv' is not a file of config/reference.yaml$"):
        validate_config(copy.deepcopy({"reward_models": [rm]}), SCHEMA, PROMPTS, {"files": {"other/x.txt": {}}})


@pytest.mark.parametrize(
    "section, settings, message",
    [
        ("training", {"lora_rnak": 8}, "config error at training.settings.lora_rnak: unknown key (allowed: batch_size, "),
        ("authority_boost", {"epoch": 3}, "config error at authority_boost.settings.epoch: unknown key (allowed: batch_size, "),
        ("training", {"learning_rate": "1e-5"},
         "config error at training.settings.learning_rate: '1e-5' is not of type float (YAML reads it as text"),
        ("training", {"epochs": True}, "config error at training.settings.epochs: True is not of type int"),
        ("authority_boost", {"max_steps": "50"}, "config error at authority_boost.settings.max_steps: '50' is not of type int | None"),
        ("authority_boost", {"loss_on": "prompt"},
         "config error at authority_boost.settings: SftConfig: loss_on must be one of response, text, got 'prompt'"),
    ],
)
def test_bad_setting_is_one_line_naming_the_key(section, settings, message):
    """training.settings and authority_boost.settings are checked against the settings dataclasses
    when the config is read, not when the (GPU) job starts."""
    config = checked({"models": [LLAMA], "training": TRAINING, "authority_boost": AUTHORITY})
    config[section]["settings"] = settings
    with pytest.raises(InputError) as err:
        check_training_config(config, {"llama-run": "synthetic.jsonl"})
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_settings_pass_the_training_checks(name):
    config = checked(load_yaml(ROOT / "config" / name))
    assert config["training"]["settings"] and config["authority_boost"]["settings"]
    check_training_config(config, {run["id"]: "not/yet/there.parquet" for run in config["training"]["runs"]})


def test_preference_file_of_another_layout_than_its_source_is_one_line(tmp_path):
    """A preference file whose layout contradicts the run's data.source stops the run when the file
    exists at config time (otherwise the training job checks it when it starts)."""
    path = tmp_path / "uf.parquet"
    turns = [{"role": "user", "content": "Best?"}, {"role": "assistant", "content": "Cats"}]
    pd.DataFrame({"conv_A": [turns], "conv_B": [turns], "winner": ["model_a"]}).to_parquet(path)
    run = {"id": "llama-sky", "base": "llama-it", "data": {"source": "skywork", "path": str(path)}}
    config = checked({"models": [LLAMA], "training": {"enabled": True, "runs": [run]}})
    with pytest.raises(InputError) as err:
        check_training_config(config, {"llama-sky": str(path)})
    assert str(err.value) == (
        f"config error at training.runs[0].data.source: {path}: training run 'llama-sky' has data.source skywork, "
        "the Skywork layout (chosen, rejected), but the file has the Unified-Feedback layout "
        "(conv_A, conv_B + winner or conv_A_rating/conv_B_rating)"
    )
    check_training_config(config, {"llama-sky": str(tmp_path / "downloaded_later.parquet")})
    config["training"]["runs"][0]["data"]["source"] = "unified_feedback"
    check_training_config(config, {"llama-sky": str(path)})


def test_trained_rm_entry_renders_through_its_base_chat_template():
    base = {**LLAMA, "type": "pretrained", "chat_template": "{{ messages[0]['content'] }}"}
    config = checked({"models": [base], "training": TRAINING,
                      "reward_models": [{**TRAINED_RM, "type": "pretrained"}]})
    assert config["reward_models"][0]["chat_template"] == base["chat_template"]


def test_trust_remote_code_with_pinned_revision_is_accepted():
    checked({"models": [{**LLAMA, "trust_remote_code": True, "revision": "a" * 40}]})


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("models:\n  - id: x\n   hf: y\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.yaml: line 3: invalid YAML"):
        load_yaml(path)


def test_vocab_prompts_default_all_and_topk_prompt_must_be_scored():
    assert checked({})["scoring"]["vocab_prompts"] == "all"
    with pytest.raises(InputError, match=r"config error at implicit.topk_prompt: 'greatest_ever_one' is not among scoring.vocab_prompts"):
        checked({"models": [LLAMA], "scoring": {"vocab_prompts": ["worst_ever_one"]}, "implicit": {"topk_vocabulary": ["llama-it"]}})
    with pytest.raises(InputError, match=r"config error at scoring.vocab_prompts\[0\]: unknown prompt key"):
        checked({"scoring": {"vocab_prompts": ["best_forever_one"]}})


def schema_keys(node):
    """Every property name of a JSON schema, at every nesting level and in its definitions."""
    if isinstance(node, list):
        return {key for item in node for key in schema_keys(item)}
    if not isinstance(node, dict):
        return set()
    keys = set(node.get("properties", {}))
    return keys | {key for value in node.values() for key in schema_keys(value)}


def test_every_schema_key_is_documented_in_config_readme():
    documented = set()
    for line in (ROOT / "config" / "README.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| "):
            first_cell = line.split("|")[1]
            documented |= {part for span in re.findall(r"`([^`]+)`", first_cell) for part in span.split(".")}
    keys = schema_keys(SCHEMA)
    assert {"gpus", "scoring_batch_size", "external_runs", "rank_changes"} <= keys
    assert sorted(keys - documented) == []


AUTHORS_FLOAT16_RMS = {
    "Ray2333/GRM-Llama3-8B-rewardmodel-ft",
    "Ray2333/GRM-Llama3.2-3B-rewardmodel-ft",
    "Ray2333/GRM-gemma2-2B-rewardmodel-ft",
    "LxzGordon/URM-LLaMa-3.1-8B",
}


def test_paper_config_takes_the_authors_dtypes():
    """The authors' scoring code loads the GRM RMs (and URM) in float16, every other model in bfloat16."""
    paper = checked(load_yaml(ROOT / "config" / "paper.yaml"))
    dtypes = {entry["hf"]: entry["dtype"] for entry in paper["models"] + paper["reward_models"]}
    assert {hf for hf, dtype in dtypes.items() if dtype == "float16"} == AUTHORS_FLOAT16_RMS & set(dtypes)
    assert len(AUTHORS_FLOAT16_RMS & set(dtypes)) == 3
    assert {dtype for hf, dtype in dtypes.items() if hf not in AUTHORS_FLOAT16_RMS} == {"bfloat16"}


def test_paper_config_pins_the_llama_3x_template_date():
    """Every Llama 3.1/3.2/3.3 chat entry of paper.yaml (LLMs and RMs) renders with one pinned date_string."""
    paper = checked(load_yaml(ROOT / "config" / "paper.yaml"))
    entries = [e for e in paper["models"] + paper["reward_models"] if e["type"] == "instruction-tuned" and e["family"] == "llama"]
    dated = [e for e in entries if re.search(r"Llama-?3\.[123]", e["hf"], re.IGNORECASE)]
    assert len(dated) >= 7
    assert {e["chat_template_kwargs"].get("date_string") for e in dated} == {"26 Jul 2024"}
    assert all(e["chat_template_kwargs"] == {} for e in paper["models"] + paper["reward_models"] if e["family"] != "llama")
