from rmbias.logs import job_log
from rmbias.training.dynamics import training_dynamics_statistics

with job_log(snakemake.log[0]):
    training_dynamics_statistics(
        score_paths=snakemake.input.scores,
        token_table_paths=snakemake.input.tokens,
        corpus_path=snakemake.input.corpus,
        runs=snakemake.params.runs,
        external_runs=dict(zip(snakemake.params.external_runs, snakemake.input.external_runs)),
        outputs=dict(snakemake.output.items()),
        rank_changes_settings={
            "rank_change_corpus_path": snakemake.input.rank_change_corpus,
            "first_step": snakemake.params.first_step,
            "final_step": snakemake.params.final_step,
            "per_word": snakemake.params.per_word,
        },
    )
