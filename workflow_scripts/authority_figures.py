from rmbias.figures import plot_authority_recovery, plot_authority_words
from rmbias.io import read_csv
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    out = snakemake.output
    plot_authority_recovery(read_csv(snakemake.input.recovery), out.recovery_pdf, out.recovery_png)
    plot_authority_words(read_csv(snakemake.input.words), out.words_pdf, out.words_png)
