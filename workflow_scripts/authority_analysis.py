from rmbias.logs import job_log
from rmbias.training.authority_boost import authority_statistics

with job_log(snakemake.log[0]):
    authority_statistics(
        logprob_paths=dict(zip([tuple(label) for label in snakemake.params.labels], snakemake.input.logprobs)),
        held_out=snakemake.params.held_out,
        boosted_words=snakemake.params.words,
        corpus_path=snakemake.input.corpus,
        recovery_csv=snakemake.output.recovery,
        words_csv=snakemake.output.words,
    )
