from rmbias.implicit.figure2 import figure2_statistics
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    figure2_statistics(
        logprob_paths=dict(zip(snakemake.params.models, snakemake.input.logprobs)),
        corpus_path=snakemake.input.corpus,
        prompts=snakemake.params.prompts,
        outputs=dict(snakemake.output.items()),
        label=f"fig2_{snakemake.wildcards.variant}",
    )
