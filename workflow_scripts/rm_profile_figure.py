from rmbias.figures.reward_models import draw_rm_profiles
from rmbias.logs import job_log

with job_log(snakemake.log[0]):
    draw_rm_profiles(profiles_path=snakemake.input.profiles, out_pdf=snakemake.output.pdf, out_png=snakemake.output.png)
