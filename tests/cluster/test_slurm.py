"""The SLURM profile (profiles/slurm) against a real single-node SLURM cluster.

Each test runs Snakemake through SLURM with the profile in a throw-away copy and compares its
outputs with a local run: the toy workflow's own `--cores 2` run, and for the workflow targets
the session's local run of the default config (fixture ``demo_run``, which builds every one of
them). It asserts that every non-local job went through sbatch exactly once (the plugin's
"submitted with SLURM jobid" lines, the SLURM log files and slurmctld's own records agree),
that GPU requests reached SLURM as GRES, and that both runs made the same outputs.
"""

import re
import shutil
import time
from pathlib import Path

import yaml
from slurm_cluster import NODE_FEATURE, SlurmCluster
from snakemake_run import (
    copy_workflow,
    differences,
    finished_jobids,
    output_files,
    run_snakemake,
    scheduled_jobs,
    slurm_run_id,
    submissions,
)

REPO_ROOT = Path(__file__).resolve().parents[2]

# The workflow targets run through SLURM and locally: a CPU-sized subset of the default config
# that crosses the rule groups after the demo build (token tables, log-probabilities, implicit RM
# and tables, RM scoring, statistics, training with checkpoint scoring, figures).
WORKFLOW_TARGETS = [
    "results/figures/fig4b_ablations.pdf",
    "results/tables/table1.csv",
    "results/rm_scores/vocab/demo-llama-rm-a.parquet",
    "results/training/llama-synth-small/scores.parquet",
]

# Laid over the default config: the one RM search among the targets (demo-llama-rm-a, vocab scope,
# 2 prompts) runs as 2 prompt-group jobs through SLURM, gathered on the submit host.
PROMPT_GROUPS_CONFIG = {"scoring": {"prompt_groups": 2}}

# The profile as users get it; only the first status check comes sooner than the default 40 s.
SLURM_RUN_ARGS = ["--profile", "profiles/slurm", "--slurm-init-seconds-before-status-checks", "2"]
LOCAL_RUN_ARGS = ["--cores", "2"]
RUN_TIMEOUT_S = 900  # a safety limit, not a timing

# Taken from the session's local demo run, with Snakemake's records of them: the fetched reference
# data, the corpora and the demo world (one job of minutes, the same through SLURM as locally).
REUSED_FROM_DEMO_RUN = ["data/reference", "results/corpora", "results/models", ".snakemake/metadata"]

TOY_GPU_RULES = {"score_on_gpu": 1}
TOY_SNAKEFILE = f"""
rule all:
    input:
        "combined.txt",


rule list_words:
    output:
        "words.txt",
    shell:
        "printf 'agency\\\\ncommunion\\\\n' > {{output}}"


rule score_on_gpu:
    output:
        "scores.txt",
    resources:
        gpu={TOY_GPU_RULES["score_on_gpu"]},
        constraint="{NODE_FEATURE}",
    shell:
        "printf '0.5\\\\n0.25\\\\n' > {{output}}"


rule combine:
    input:
        "words.txt",
        "scores.txt",
    output:
        "combined.txt",
    shell:
        "paste {{input}} > {{output}}"
"""


def run_environment(cluster: SlurmCluster, workdir: Path) -> dict[str, str]:
    """Environment of a run: the cluster's, the copy's code first on the import path, and a
    fixed SOURCE_DATE_EPOCH (as the ``demo_run`` fixture's) so that PDF figures carry no
    wall-clock timestamp."""
    return {**cluster.environment, "PYTHONPATH": str(workdir), "SOURCE_DATE_EPOCH": "0"}


def slurm_job_record(cluster: SlurmCluster, slurm_jobid: str) -> dict[str, str]:
    """slurmctld's record of one job (`scontrol show job`), as key -> value."""
    line = cluster.command("scontrol", "--oneliner", "show", "job", slurm_jobid).stdout
    return dict(re.findall(r"(\w+)=(\S*)", line))


def check_every_job_went_through_sbatch(cluster: SlurmCluster, log_text: str) -> dict[str, dict[str, str]]:
    """Assert that each job Snakemake ran outside the submit host was submitted with sbatch
    exactly once, completed in SLURM with exit code 0 and left its SLURM log, and that a job's
    `gpu` resource reached SLURM as its GRES request. Return slurmctld's record per rule."""
    jobs = scheduled_jobs(log_text)
    remote_jobids = sorted(job.jobid for job in jobs.values() if not job.local)
    sent = submissions(log_text)
    assert remote_jobids, "no job ran outside the submit host"
    assert sorted(submission.jobid for submission in sent) == remote_jobids
    assert finished_jobids(log_text) == set(jobs)

    known_to_slurm = cluster.command(
        "squeue", "--states=all", "--noheader", "--format=%i", f"--name={slurm_run_id(log_text)}"
    ).stdout.split()
    assert sorted(known_to_slurm) == sorted(submission.slurm_jobid for submission in sent)

    records = {}
    for submission in sent:
        job = jobs[submission.jobid]
        assert "gpus" not in job.resources, f"rule {job.rule}: the slurm plugin ignores `gpus`; declare `gpu`"
        record = slurm_job_record(cluster, submission.slurm_jobid)
        assert record["JobState"] == "COMPLETED", (job.rule, record)
        assert record["ExitCode"] == "0:0", (job.rule, record)
        assert record["Comment"].startswith(f"rule_{job.rule}"), (job.rule, record)
        assert submission.slurm_log.is_file(), submission
        expected_gres = f"gres:gpu:{job.gpus}" if job.gpus else None
        assert record.get("TresPerJob") == expected_gres, (job.rule, record)
        records[job.rule] = record
    print(f"{len(sent)} jobs went through sbatch ({len(jobs) - len(sent)} local) for {len(jobs)} jobs in all")
    return records


def run_on_slurm_and_locally(cluster: SlurmCluster, source: Path, tmp_path: Path, run_args: list[str]) -> tuple[str, list[str]]:
    """Run `run_args` through SLURM in one copy of `source` and with --cores 2 in another;
    assert every job went through sbatch and both copies hold the same outputs.
    Return the SLURM run's log and the list of outputs compared."""
    slurm_copy = copy_workflow(source, tmp_path / "slurm")
    local_copy = copy_workflow(source, tmp_path / "local")
    started = time.monotonic()
    slurm_log = run_snakemake(slurm_copy, [*SLURM_RUN_ARGS, *run_args], run_environment(cluster, slurm_copy), RUN_TIMEOUT_S)
    print(f"SLURM run: {time.monotonic() - started:.0f} s")
    run_snakemake(local_copy, [*LOCAL_RUN_ARGS, *run_args], run_environment(cluster, local_copy), RUN_TIMEOUT_S)
    outputs = output_files(local_copy, run_args, run_environment(cluster, local_copy))
    assert outputs, "snakemake --summary listed no outputs"
    found = [difference for name in outputs for difference in differences(slurm_copy / name, local_copy / name)]
    assert found == [], "\n".join(found)
    return slurm_log, outputs


def test_toy_workflow_sends_gpu_and_constraint_requests_to_slurm(slurm_cluster, tmp_path):
    source = tmp_path / "toy"
    source.mkdir()
    (source / "Snakefile").write_text(TOY_SNAKEFILE)
    (source / "profiles").symlink_to(REPO_ROOT / "profiles", target_is_directory=True)

    slurm_log, outputs = run_on_slurm_and_locally(slurm_cluster, source, tmp_path, [])
    records = check_every_job_went_through_sbatch(slurm_cluster, slurm_log)

    assert sorted(outputs) == ["combined.txt", "scores.txt", "words.txt"]
    assert set(records) == {"list_words", "score_on_gpu", "combine"}
    assert {job.rule: job.gpus for job in scheduled_jobs(slurm_log).values() if job.gpus} == TOY_GPU_RULES
    assert records["score_on_gpu"]["TresPerJob"] == "gres:gpu:1"
    assert records["score_on_gpu"]["Features"] == NODE_FEATURE
    assert records["combine"]["Features"] == "(null)"


def test_workflow_targets_through_slurm_equal_the_local_demo_run(slurm_cluster, reference_mirror, demo_run, tmp_path):
    """The targets built through SLURM, with the one RM search split into 2 prompt-group jobs,
    equal the session's local `--cores 2` run of the same config; only the group files are
    new (the local run scores all prompts in one job)."""
    overlay = tmp_path / "prompt_groups.yaml"
    overlay.write_text(yaml.safe_dump(PROMPT_GROUPS_CONFIG), encoding="utf-8")
    run_args = [*WORKFLOW_TARGETS, "--configfile", "config/config.yaml", str(overlay),
                "--config", f"reference_mirror={reference_mirror}"]
    slurm_copy = copy_workflow(REPO_ROOT, tmp_path / "slurm")
    for part in REUSED_FROM_DEMO_RUN:  # modification times kept, so Snakemake sees them up to date
        shutil.copytree(demo_run / part, slurm_copy / part)
    environment = run_environment(slurm_cluster, slurm_copy)
    started = time.monotonic()
    slurm_log = run_snakemake(slurm_copy, [*SLURM_RUN_ARGS, *run_args], environment, RUN_TIMEOUT_S)
    print(f"SLURM run: {time.monotonic() - started:.0f} s")
    check_every_job_went_through_sbatch(slurm_cluster, slurm_log)

    outputs = output_files(slurm_copy, run_args, environment)
    assert set(WORKFLOW_TARGETS) <= set(outputs)
    groups = {f"results/rm_scores/vocab/demo-llama-rm-a.groups/{i}-of-2.parquet" for i in (1, 2)}
    assert {name for name in outputs if not (demo_run / name).exists()} == groups
    found = [difference for name in outputs if name not in groups
             for difference in differences(slurm_copy / name, demo_run / name)]
    assert found == [], "\n".join(found)
    jobs = scheduled_jobs(slurm_log).values()
    assert not {job.rule for job in jobs} & {"fetch_reference", "corpus", "demo_models"}  # reused, not rerun
    assert sorted(job.local for job in jobs if job.rule == "rm_scores") == [False, False]
    assert [job.local for job in jobs if job.rule == "rm_scores_gather"] == [True]
