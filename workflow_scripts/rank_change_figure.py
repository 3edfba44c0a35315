from rmbias.figures import plot_rank_changes
from rmbias.io import read_csv
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    changes = read_csv(snakemake.input[0], keep_default_na=False, na_values=[""], dtype={"token": str})
    plot_rank_changes(changes[changes["run"] == snakemake.params.run], snakemake.output.pdf, snakemake.output.png)
