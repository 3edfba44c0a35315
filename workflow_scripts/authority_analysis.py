from rmbias.basemodels import authority_analysis
from rmbias.io import write_csv
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    params = snakemake.params
    recovery, words = authority_analysis(
        dict(zip([tuple(label) for label in params.labels], snakemake.input.logprobs)),
        params.held_out,
        params.words,
        snakemake.input.corpus,
    )
    write_csv(recovery, snakemake.output.recovery)
    write_csv(words, snakemake.output.words)
