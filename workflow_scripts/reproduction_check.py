"""Snakemake script: our dictionary-scope scores of one RM against its published scores, under
the entry's BOS mode and, on a sample, under the other one.

input: ours (parquets, one per lexicon), other_bos (parquet), published (CSV); params: bos.
output: per tokenization, response set and prompt: n, Spearman rho, max |difference|.
"""

from rmbias.logs import job_log
from rmbias.scoring.reproduction import write_reproduction_check

with job_log(snakemake.log[0]):  # noqa: F821
    write_reproduction_check(
        list(snakemake.input.ours),  # noqa: F821
        snakemake.input.other_bos,  # noqa: F821
        snakemake.input.published,  # noqa: F821
        snakemake.params.bos,  # noqa: F821
        snakemake.output[0],  # noqa: F821
    )
