from rmbias.implicit.pairs import write_implicit_pair
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    write_implicit_pair(
        logprobs_a=snakemake.input.logprobs_a,
        logprobs_b=snakemake.input.logprobs_b,
        prompt=snakemake.params.prompt,
        out_path=snakemake.output[0],
    )
