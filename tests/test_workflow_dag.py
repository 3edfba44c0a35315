"""The DAG as a user sees it in a dry run: the paper's full DAG with resources, single targets."""

import re

from workflow_helpers import job_counts, run_snakemake


def test_paper_dag_lists_every_job_with_gpu_resources(workflow_copy):
    result = run_snakemake(workflow_copy, "-n", "--configfile", "config/paper.yaml", "--printshellcmds")
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    assert counts["logprobs"] == 13  # 12 LLMs of the paper + Qwen2.5-3B-Instruct
    assert counts["implicit_pair"] == 21  # every Llama x Gemma instruction-tuned pair (Figure 3)
    assert counts["table"] == 3 and counts["fig2_stats"] == 2
    assert counts["train_rm"] == 15 and counts["score_checkpoints"] == 15  # 3 bases x (Skywork + 4 UF sizes)
    assert counts["rm_scores"] == 24  # 6 standard-head RMs x 2 scopes, the two 27B ones in 4 prompt groups
    assert counts["rm_scores_gather"] == 4  # the two 27B RMs x 2 scopes
    assert counts["rendered_prompts"] == 13 + 6  # every LLM and RM records the prompts it sees
    assert counts["reproduction_check"] == counts["reproduction_other_bos"] == 6  # both tokenizations per published RM
    jobs = result.stdout.split("\nrule ")[1:]
    for rule in ("train_rm", "score_checkpoints", "logprobs", "rm_scores", "reproduction_other_bos"):
        resources = [j for j in jobs if j.startswith(f"{rule}:")]
        assert resources and all(re.search(r"resources: .*gpu=[1-9]", j, re.S) for j in resources), rule
    seventy_b = next(j for j in jobs if j.startswith("logprobs:") and "llama-3.3-70b-instruct.parquet" in j)
    assert re.search(r"gpu=4,", seventy_b) and re.search(r"mem_mb=256000", seventy_b)


def test_single_figure_target_builds_only_its_ancestors(workflow_copy, reference_mirror):
    result = run_snakemake(workflow_copy, "-n", "fig3", "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    assert {"fig3_figure", "fig3_data", "implicit_pair", "logprobs", "demo_models"} <= set(counts)
    assert not {"train_rm", "rm_scores", "fig1_reanalysis", "authority_boost_sft", "fig2_stats"} & set(counts)
    assert counts["implicit_pair"] == 4  # 2 demo Llama x 2 demo Gemma instruction-tuned models


OWN_RM_RULES = {"fig1_own": 2, "fig1_own_figure": 4, "fig1_combined_figure": 2, "rm_profiles": 1, "rm_profile_figure": 1}


def test_configured_rms_are_measured_only_with_the_dictionary_scope(workflow_copy, reference_mirror):
    with_scope = run_snakemake(workflow_copy, "-n", "--config", f"reference_mirror={reference_mirror}")
    assert with_scope.returncode == 0, with_scope.stdout[-3000:]
    counts = job_counts(with_scope.stdout)
    assert {rule: counts.get(rule) for rule in OWN_RM_RULES} == OWN_RM_RULES  # big2 and mfd, 4 + 2 + 1 figures
    vocab_only = run_snakemake(
        workflow_copy, "-n", "--config", f"reference_mirror={reference_mirror}", "scoring={'scopes': ['vocab']}"
    )
    assert vocab_only.returncode == 0, vocab_only.stdout[-3000:]
    assert not set(OWN_RM_RULES) & set(job_counts(vocab_only.stdout))
    assert "fig1_reanalysis" in job_counts(vocab_only.stdout)
