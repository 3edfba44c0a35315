from rmbias.logs import job_log
from rmbias.training.preferences import download_preference_dataset

with job_log(snakemake.log[0]):
    source = snakemake.params.source
    download_preference_dataset(source["repo"], source.get("revision"), source["pattern"], snakemake.output[0])
