"""scoring.prompt_groups: one RM's exhaustive search split into jobs by prompt, gathered again.

Unit tests of the group assignment and the gather; a dry run of the DAG it makes; and a real
snakemake run in which the split search equals the unsplit one and resumes from its shards.
"""

import copy
import re
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml
from workflow_helpers import REPO_ROOT, copy_workflow, job_counts, run_snakemake

from rmbias import demo
from rmbias.config import load_prompts, load_yaml, validate_config
from rmbias.io import InputError, read_parquet
from rmbias.scoring.prompt_groups import (
    check_prompt_groups,
    gather_group_scores,
    group_label,
    group_prompts,
    prompt_group_count,
    split_prompts,
)

PROMPTS = load_prompts(REPO_ROOT / "config" / "prompts.yaml", load_yaml(REPO_ROOT / "config" / "prompts_schema.yaml"))
KEYS = list(PROMPTS)
RM = {"id": "rm", "hf": "org/rm", "family": "gemma", "type": "instruction-tuned", "score": "logits[:, 0]"}


@pytest.mark.parametrize("n_groups", range(1, len(KEYS) + 1))
def test_groups_are_a_balanced_contiguous_partition_of_the_prompts(n_groups):
    groups = split_prompts(KEYS, n_groups)
    assert len(groups) == n_groups
    assert [key for group in groups for key in group] == KEYS
    sizes = [len(group) for group in groups]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
    assert split_prompts(list(KEYS), n_groups) == groups


def test_group_labels_name_the_groups_of_split_prompts():
    prompts = {key: PROMPTS[key] for key in KEYS[:5]}
    shares = [group_prompts(prompts, group_label(index, 2)) for index in (1, 2)]
    assert [list(share) for share in shares] == split_prompts(KEYS[:5], 2) == [KEYS[:3], KEYS[3:5]]
    assert shares[0][KEYS[0]] == PROMPTS[KEYS[0]]


@pytest.mark.parametrize("n_groups, label, message", [
    (0, None, "0 prompt groups for 5 prompts; give between 1 and 5"),
    (6, None, "6 prompt groups for 5 prompts; give between 1 and 5"),
    (None, "3-of-2", "prompt group '3-of-2': the index must be between 1 and 2"),
    (None, "two", "prompt group 'two' is not of the form <index>-of-<count>"),
])
def test_impossible_groups_are_refused(n_groups, label, message):
    with pytest.raises(InputError) as err:
        if label is None:
            split_prompts(KEYS[:5], n_groups)
        else:
            group_prompts({key: PROMPTS[key] for key in KEYS[:5]}, label)
    assert str(err.value) == message


def validated(config):
    config = copy.deepcopy(config)
    validate_config(config, load_yaml(REPO_ROOT / "config" / "schema.yaml"), PROMPTS)
    return config


def test_an_entry_overrides_the_global_count_and_a_count_above_a_scope_names_its_key():
    config = validated({"reward_models": [RM, {**RM, "id": "rm-split", "prompt_groups": 3}],
                        "scoring": {"vocab_prompts": KEYS[:2]}})
    assert config["scoring"]["prompt_groups"] == 1
    assert [prompt_group_count(entry, config["scoring"]) for entry in config["reward_models"]] == [1, 3]
    check_prompt_groups(config, {"dictionary": 54})
    with pytest.raises(InputError, match=r"^config error at reward_models\[1\]\.prompt_groups: 3 prompt groups for "
                                         r"reward model 'rm-split', but the vocab scope has 2 prompts; give at most 2$"):
        check_prompt_groups(config, {"dictionary": 54, "vocab": 2})
    config = validated({"reward_models": [RM], "scoring": {"prompt_groups": 55}})
    with pytest.raises(InputError, match=r"^config error at scoring\.prompt_groups: 55 prompt groups"):
        check_prompt_groups(config, {"dictionary": 54})


def wide_table(prompt_keys, n_candidates=7, token_ids=True):
    """A wide score table as rm_scores writes it: candidate columns, then one float32 column per prompt."""
    rng = np.random.default_rng(0)
    table = pd.DataFrame({"response": [f"word{i}" for i in range(n_candidates)]})
    if token_ids:
        table["token_id"] = np.arange(n_candidates, dtype=np.int64) * 3
    for key in prompt_keys:
        table[key] = rng.standard_normal(n_candidates).astype(np.float32)
    return table


@pytest.mark.parametrize("token_ids", [True, False])
def test_gathered_groups_equal_the_unsplit_table(token_ids):
    whole = wide_table(KEYS[:5], token_ids=token_ids)
    candidates = ["response", "token_id"] if token_ids else ["response"]
    parts = [(f"g{i}", whole[[*candidates, *keys]]) for i, keys in enumerate(split_prompts(KEYS[:5], 3))]
    gathered = gather_group_scores(parts, KEYS[:5])
    pd.testing.assert_frame_equal(gathered, whole, check_exact=True)


def test_gather_refuses_a_group_with_other_prompts_or_other_candidates():
    whole = wide_table(KEYS[:4])
    first, second = whole[["response", "token_id", *KEYS[:2]]], whole[["response", "token_id", *KEYS[2:4]]]
    with pytest.raises(InputError, match=r"^g2: columns .*; expected \['response', 'token_id', '"):
        gather_group_scores([("g1", first), ("g2", whole[["response", "token_id", KEYS[3], KEYS[2]]])], KEYS[:4])
    shuffled = second.iloc[::-1]
    with pytest.raises(InputError, match=r"^g2: its candidates differ from those of g1$"):
        gather_group_scores([("g1", first), ("g2", shuffled)], KEYS[:4])


def write_config(workdir, edit):
    """The default config with ``edit`` applied, written to the workflow copy; its path there."""
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text(encoding="utf-8"))
    edit(config)
    (workdir / "split.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return "split.yaml"


def test_dry_run_has_one_job_per_group_and_one_gather_per_split_rm_and_scope(workflow_copy, reference_mirror):
    rms, scopes = [], ["vocab"]

    def split_all_but_the_last(config):
        config["scoring"]["prompt_groups"] = 2
        config["reward_models"][-1]["prompt_groups"] = 1
        rms.extend(entry["id"] for entry in config["reward_models"])
        scopes.extend(f"dictionary/{lexicon_id}" for lexicon_id in config["scoring"]["dictionary_corpora"])  # one search per lexicon

    configfile = write_config(workflow_copy, split_all_but_the_last)
    result = run_snakemake(workflow_copy, "-n", "--configfile", configfile, "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    n_split = len(rms) - 1
    n_scopes = len(scopes)
    assert counts["rm_scores"] == n_split * n_scopes * 2 + 1 * n_scopes and counts["rm_scores_gather"] == n_split * n_scopes
    outputs = set(re.findall(r"output: (results/rm_scores/\S+\.parquet)", result.stdout))
    split = {f"results/rm_scores/{scope}/{rm}.groups/{i}-of-2.parquet" for scope in scopes for rm in rms[:-1] for i in (1, 2)}
    assert outputs == split | {f"results/rm_scores/{scope}/{rm}.parquet" for scope in scopes for rm in rms}


def test_bad_prompt_groups_stops_before_the_dag_with_one_line(workflow_copy):
    configfile = write_config(workflow_copy, lambda config: config["scoring"].update(prompt_groups=3))
    result = run_snakemake(workflow_copy, "-n", "--configfile", configfile)
    assert result.returncode != 0
    assert result.stdout.strip().splitlines()[-1] == (
        "rmbias: config error at scoring.prompt_groups: 3 prompt groups for reward model 'demo-llama-rm-a', "
        "but the vocab scope has 2 prompts; give at most 2")


def save_tiny_rm(directory, prompt_keys):
    """A random-init Llama-style RM whose vocabulary holds the words of ``prompt_keys``' prompts (and a few
    more); return its config entry (a local path, so no demo model)."""
    words = " ".join(PROMPTS[key]["text"] for key in prompt_keys).replace(",", " ").replace("?", " ").replace(".", " ")
    tokenizer = demo.build_tokenizer([*words.split(), "Love", "freedom", "duty", "honor", "power"], "llama")
    demo.tiny_model("llama", tokenizer, "reward_model", seed=7).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return {"id": "tiny-rm", "hf": str(directory), "family": "llama", "type": "instruction-tuned", "score": "logits[:, 0]"}


def test_split_search_equals_the_unsplit_search_and_resumes_from_its_shards(tmp_path):
    """One tiny RM in the vocab scope on 3 prompts, through snakemake: unsplit, then in 2 groups
    from no shards, then group 2 again after its table is lost (from its own shards)."""
    workdir = copy_workflow(tmp_path / "workflow")
    prompts = ["greatest_ever_one", "worst_ever_one", "best_world_single"]
    entry = save_tiny_rm(tmp_path / "tiny-rm", prompts)
    target = "results/rm_scores/vocab/tiny-rm.parquet"

    def run(n_groups):
        def edit(config):
            config["reward_models"] = [entry]
            config["scoring"].update(vocab_prompts=prompts, prompt_groups=n_groups, shard_size=40)
        result = run_snakemake(workdir, target, "--cores", "2", "--configfile", write_config(workdir, edit))
        assert result.returncode == 0, result.stdout[-6000:]
        return job_counts(result.stdout)

    assert run(1) == {"token_table": 1, "rm_scores": 1, "total": 2}
    unsplit, unsplit_bytes = read_parquet(workdir / target), (workdir / target).read_bytes()
    assert list(unsplit.columns) == ["response", "token_id", *prompts] and len(unsplit) > 40
    shutil.rmtree(workdir / "results" / "rm_scores")

    assert run(2) == {"rm_scores": 2, "rm_scores_gather": 1, "total": 3}
    assert (workdir / target).read_bytes() == unsplit_bytes
    groups = workdir / "results" / "rm_scores" / "vocab" / "tiny-rm.groups"
    assert [list(read_parquet(groups / f"{i}-of-2.parquet").columns)[2:] for i in (1, 2)] == [prompts[:2], prompts[2:]]

    (workdir / target).unlink()
    (groups / "2-of-2.parquet").unlink()
    log = workdir / "logs" / "rm_scores" / "vocab" / "tiny-rm.groups" / "2-of-2.log"
    log.unlink()
    assert run(2) == {"rm_scores": 1, "rm_scores_gather": 1, "total": 2}
    assert re.search(r"ScoringReport\(computed=0, reused=[1-9]", log.read_text(encoding="utf-8"))
    pd.testing.assert_frame_equal(read_parquet(workdir / target), unsplit, check_exact=True)
