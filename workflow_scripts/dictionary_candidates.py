from rmbias.corpora.dictionaries import combine_corpora
from rmbias.io import write_parquet
from rmbias.logs import job_log

with job_log(snakemake.log[0]) as log:
    terms = combine_corpora(snakemake.input)
    write_parquet(terms, snakemake.output[0])
    log.info("%d distinct terms from %d dictionaries", terms["term"].nunique(), len(snakemake.input))
