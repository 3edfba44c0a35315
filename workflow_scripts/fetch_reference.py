from rmbias.corpora.reference import fetch_reference_file
from rmbias.logs import job_log

with job_log(snakemake.log[0]) as log:
    origin = fetch_reference_file(
        rel_path=snakemake.wildcards.path,
        dest=snakemake.output[0],
        sha256=snakemake.params.sha256,
        base_url=snakemake.params.base_url,
        mirror=snakemake.config["reference_mirror"],
    )
    log.info("fetched %s from %s (sha256 verified)", snakemake.wildcards.path, origin)
