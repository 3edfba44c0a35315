"""The log parsers and output comparison that the SLURM test relies on (no cluster needed)."""

import numpy as np
import pandas as pd
from snakemake_run import copy_workflow, differences, finished_jobids, scheduled_jobs, slurm_run_id, submissions

from rmbias.io import write_parquet

# Shaped like Snakemake 9.27 + snakemake-executor-plugin-slurm 2.8 console output.
SLURM_RUN_LOG = """\
SLURM run ID: 9633f527-5409-4fd5-ac16-710619dd879a
[Sun Nov 22 22:47:34 2026]
rule score:
    output: scores.txt
    jobid: 3
    reason: Missing output files: scores.txt
    resources: tmpdir=<TBD>, mem_mb=4000, slurm_extra=--hint a, b, runtime=60, gpu=2, constraint=a100
Shell command: echo g > scores.txt

[Sun Nov 22 22:47:34 2026]
rule words:
    output: words.txt
    jobid: 2
    resources: tmpdir=<TBD>, mem_mb=4000, runtime=60
Job 3 has been submitted with SLURM jobid 11 (log: /w/.snakemake/slurm_logs/rule_score/11.log).
Job 2 has been submitted with SLURM jobid 12 (log: /w/.snakemake/slurm_logs/rule_words/12.log).
Finished jobid: 3 (Rule: score)
Finished jobid: 2 (Rule: words)

[Sun Nov 22 22:48:02 2026]
localrule all:
    input: scores.txt, words.txt
    jobid: 0
    resources: tmpdir=/tmp, mem_mb=4000
Finished jobid: 0 (Rule: all)
"""


def test_scheduled_jobs_reads_rule_locality_and_resources():
    jobs = scheduled_jobs(SLURM_RUN_LOG)
    assert sorted(jobs) == [0, 2, 3]
    assert (jobs[3].rule, jobs[3].local, jobs[3].gpus) == ("score", False, 2)
    assert jobs[3].resources["slurm_extra"] == "--hint a, b"
    assert jobs[3].resources["constraint"] == "a100"
    assert (jobs[2].rule, jobs[2].local, jobs[2].gpus) == ("words", False, 0)
    assert (jobs[0].rule, jobs[0].local) == ("all", True)


def test_submissions_finished_and_run_id():
    sent = submissions(SLURM_RUN_LOG)
    assert [(s.jobid, s.slurm_jobid, s.slurm_log.name) for s in sent] == [(3, "11", "11.log"), (2, "12", "12.log")]
    assert finished_jobids(SLURM_RUN_LOG) == {0, 2, 3}
    assert slurm_run_id(SLURM_RUN_LOG) == "9633f527-5409-4fd5-ac16-710619dd879a"


def test_differences_compares_parquet_as_numbers_and_other_files_as_bytes(tmp_path):
    frame = pd.DataFrame({"term": ["agency", "warmth"], "score": np.array([0.5, 0.25], dtype="float64")})
    write_parquet(frame, tmp_path / "a.parquet")
    write_parquet(frame.assign(score=frame["score"] * (1 + 1e-8)), tmp_path / "b.parquet")
    write_parquet(frame.assign(score=frame["score"] + 1e-3), tmp_path / "c.parquet")
    (tmp_path / "x.txt").write_text("same")
    (tmp_path / "y.txt").write_text("same")
    (tmp_path / "z.txt").write_text("other")

    assert differences(tmp_path / "a.parquet", tmp_path / "b.parquet") == []
    assert len(differences(tmp_path / "a.parquet", tmp_path / "c.parquet")) == 1
    assert differences(tmp_path / "x.txt", tmp_path / "y.txt") == []
    assert differences(tmp_path / "x.txt", tmp_path / "z.txt") == [f"{tmp_path / 'x.txt'}: bytes differ"]
    assert differences(tmp_path / "x.txt", tmp_path / "missing.txt") == [f"{tmp_path / 'x.txt'}: missing on one side"]


def test_differences_walks_directories(tmp_path):
    for side, extra in (("left", "only_left.txt"), ("right", None)):
        (tmp_path / side / "checkpoint-1").mkdir(parents=True)
        (tmp_path / side / "checkpoint-1" / "adapter.bin").write_bytes(b"\x00\x01")
        if extra:
            (tmp_path / side / extra).write_text("x")
    found = differences(tmp_path / "left", tmp_path / "right")
    assert found == [f"{tmp_path / 'left' / 'only_left.txt'}: only on one side"]


def test_copy_workflow_leaves_out_build_products_and_data(tmp_path):
    source = tmp_path / "checkout"
    for kept in ("Snakefile", "rules/corpora.smk", "benchmarks/compare.py", "rmbias/data/words.txt"):
        (source / kept).parent.mkdir(parents=True, exist_ok=True)
        (source / kept).write_text(kept)
    for dropped in (".venv/bin/python", "results/x.parquet", "data/reference/f.csv", "results/benchmarks/a.tsv",
                    ".snakemake/log/x.log", "rmbias/__pycache__/io.pyc", "rmbias.egg-info/PKG-INFO"):
        (source / dropped).parent.mkdir(parents=True, exist_ok=True)
        (source / dropped).write_text(dropped)

    copy = copy_workflow(source, tmp_path / "copy")
    copied = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file())
    assert copied == ["Snakefile", "benchmarks/compare.py", "rmbias/data/words.txt", "rules/corpora.smk"]
