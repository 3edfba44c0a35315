from rmbias.logs import job_log
from rmbias.statistics.profile_uncertainty import write_rm_profiles

with job_log(snakemake.log[0]):
    write_rm_profiles(
        published=dict(zip(snakemake.params.published_dictionaries, snakemake.input.published)),
        configured=dict(zip(snakemake.params.configured_dictionaries, snakemake.input.configured)),
        profiles_csv=snakemake.output.profiles,
        identifiability_json=snakemake.output.identifiability,
        n_bootstrap=snakemake.params.n_bootstrap,
        level=snakemake.params.level,
        seed=snakemake.params.seed,
        max_relabellings=snakemake.params.max_relabellings,
    )
