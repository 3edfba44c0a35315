# Stage 4 (Section 4): Bradley–Terry reward models trained with LoRA from different bases on
# identical data, checkpointed; exhaustive token search of every checkpoint; the dynamics.
# Checkpoints live in results/training/{run}/checkpoints/ outside the declared outputs, so a
# killed or preempted job that Snakemake retries resumes from its last checkpoint.

localrules:
    download_preferences,


rule download_preferences:
    output:
        "data/preferences/{dataset}.parquet",
    params:
        source=lambda wc: TRAINING["preference_datasets"][wc.dataset],
    wildcard_constraints:
        dataset=one_of(TRAINING["preference_datasets"]),
    log:
        "logs/download_preferences/{dataset}.log",
    benchmark:
        "results/benchmarks/download_preferences/{dataset}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/download_preferences.py"


rule synthetic_preferences:
    input:
        ALL_CORPORA,
    output:
        "results/training/data/synthetic-{n}-{seed}.jsonl",
    params:
        prompts=PROMPTS,
    wildcard_constraints:
        n=r"\d+",
        seed=r"\d+",
    log:
        "logs/synthetic_preferences/{n}-{seed}.log",
    benchmark:
        "results/benchmarks/synthetic_preferences/{n}-{seed}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/synthetic_preferences.py"


rule train_rm:
    input:
        model=lambda wc: model_files(RUNS[wc.run]["base"]),
        preferences=preference_file,
    output:
        "results/training/{run}/checkpoints.json",
    params:
        base=lambda wc: LLMS[RUNS[wc.run]["base"]],
        source=lambda wc: RUNS[wc.run]["data"]["source"],
        settings=TRAINING["settings"],
        n_train=lambda wc: RUNS[wc.run]["data"].get("size"),
        n_heldout=TRAINING["heldout_pairs"],
        checkpoint_dir=lambda wc, output: str(Path(output[0]).with_name("checkpoints")),
        device="auto",
    threads: gpu_job_threads(run_resources)
    resources:
        **gpu_job_resources(run_resources),
    log:
        "logs/train_rm/{run}.log",
    benchmark:
        "results/benchmarks/train_rm/{run}.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/train_rm.py"


rule score_checkpoints:
    input:
        checkpoints="results/training/{run}/checkpoints.json",
        model=lambda wc: model_files(RUNS[wc.run]["base"]),
        candidates=lambda wc: f"results/tokens/{RUNS[wc.run]['base']}.parquet",
        corpora=expand("results/corpora/{dictionary}.parquet", dictionary=["big2_nouns", "big2_expanded"]),
    output:
        "results/training/{run}/scores.parquet",
    params:
        scope=TRAINING["checkpoint_scope"],
        base=lambda wc: LLMS[RUNS[wc.run]["base"]],
        prompt_key=TRAINING["score_prompt"],
        prompt=lambda wc: PROMPTS[TRAINING["score_prompt"]],
        checkpoint_dir=lambda wc, input: str(Path(input.checkpoints).with_name("checkpoints")),
        shard_dir=lambda wc, output: str(Path(output[0]).with_name("scores.shards")),
        method=config["scoring"]["method"],
        shard_size=config["scoring"]["shard_size"],
        device="auto",
    threads: gpu_job_threads(run_resources)
    resources:
        **gpu_job_resources(run_resources),
    log:
        "logs/score_checkpoints/{run}.log",
    benchmark:
        "results/benchmarks/score_checkpoints/{run}.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/score_checkpoints.py"


rule training_dynamics:
    input:
        scores=[f"results/training/{run}/scores.parquet" for run in RUNS],
        tokens=[f"results/tokens/{base}.parquet" for base in VOCABULARY_BASES],
        corpus="results/corpora/big2_expanded.parquet",
        rank_change_corpus=f"results/corpora/{TRAINING_FIGURES['rank_change_dictionary']}.parquet",
        external_runs=[reference(PUBLISHED_ABLATIONS[label]) for label in TRAINING["external_runs"]],
    output:
        ranks="results/stats/training_checkpoint_ranks.csv",
        final="results/stats/training_final_ranks.csv",
        kendall=report("results/stats/training_kendall.csv", caption="../report/captions/stats_kendall.rst", category=STATS_CATEGORY, subcategory="RM training"),
        changes="results/stats/training_rank_changes.csv",
        trajectories="results/stats/training_rank_trajectories.csv",
        json="results/stats/training_dynamics.json",
    params:
        first_step=TRAINING_FIGURES["rank_change_steps"]["first"],
        final_step=TRAINING_FIGURES["rank_change_steps"]["final"],
        per_word=TRAINING_FIGURES["rank_change_per_word"],
        runs=[
            {
                "run": run_id,
                "base_model": family_label(LLMS[run["base"]]["family"]),
                "data_source": run["data"]["source"],
                "data_size_k": (run["data"].get("size") or 0) / 1000,
            }
            for run_id, run in RUNS.items()
        ],
        external_runs=TRAINING["external_runs"],
    log:
        "logs/training_dynamics.log",
    benchmark:
        "results/benchmarks/training_dynamics.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/training_dynamics.py"


# A reward_models entry with training_run: the run's final checkpoint, merged, as a plain reward
# model directory that rm_scores (and every RM analysis) reads like a published one.
rule export_trained_rm:
    input:
        checkpoints=lambda wc: f"results/training/{trained_rm_run(wc)['id']}/checkpoints.json",
        model=lambda wc: model_files(trained_rm_run(wc)["base"]),
    output:
        directory("results/models/{model}"),
    params:
        base=lambda wc: LLMS[trained_rm_run(wc)["base"]],
        checkpoint_dir=lambda wc, input: str(Path(input.checkpoints).with_name("checkpoints")),
        device="auto",
    wildcard_constraints:
        model=one_of(TRAINED_RM_IDS),
    threads: gpu_job_threads(lambda wc: trained_rm_run(wc)["resources"])
    resources:
        **gpu_job_resources(lambda wc: trained_rm_run(wc)["resources"]),
    log:
        "logs/export_trained_rm/{model}.log",
    benchmark:
        "results/benchmarks/export_trained_rm/{model}.tsv"
    conda:
        "../envs/gpu.yaml"
    script:
        "../workflow_scripts/export_trained_rm.py"


rule training_table:
    input:
        "results/training/{run}/scores.parquet",
    output:
        csv="results/tables/tableH1_{run}.csv",
        tex="results/tables/tableH1_{run}.tex",
    params:
        first_step=TRAINING_FIGURES["rank_change_steps"]["first"],
        final_step=TRAINING_FIGURES["rank_change_steps"]["final"],
        n=TRAINING_FIGURES["table_tokens"],
        caption=lambda wc: (
            f"Top and bottom {TRAINING_FIGURES['table_tokens']} tokens of the full vocabulary by reward of run "
            f"{wc.run} on prompt {TRAINING['score_prompt']}, at the early and at the final checkpoint (Appendix H.1)."
        ),
        label=lambda wc: f"tab:H1-{wc.run}",
    wildcard_constraints:
        run=one_of(H1_RUNS),
    log:
        "logs/tables/tableH1_{run}.log",
    benchmark:
        "results/benchmarks/tables/tableH1_{run}.tsv"
    conda:
        "../envs/analysis.yaml"
    script:
        "../workflow_scripts/training_table.py"
