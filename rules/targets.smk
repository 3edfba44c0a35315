# Short aliases: `snakemake fig3` builds results/figures/fig3_lollipop.pdf (and .png) and only
# its ancestors. Each alias exists only when the config enables its figure or table.

FIGURE_ALIASES = {
    "fig1a": "fig1a_big2",
    "fig1b": "fig1b_mfd",
    "figA1a": "figA1a_big2",
    "figA1b": "figA1b_mfd",
    "fig2a": "fig2a_instruct",
    "fig2b": "fig2b_pretrained",
    "fig3": "fig3_lollipop",
    "figA3a": "figA3a_authority",
    "figA3b": "figA3b_authority",
    "fig4a": "fig4a_training_checkpoints",
    "figA5a": "figA5a_training_checkpoints",
    "fig4b": "fig4b_ablations",
    "figA5b": "figA5b_ablations",
    "fig4b_own": "fig4b_ablations_own",
    "figA5b_own": "figA5b_ablations_own",
    "fig5_llama": "fig5_llama",
    "fig5_gemma": "fig5_gemma",
    "figA6": "figA6_qwen",
    "figG1": "figG1_kendall",
}
ENABLED_FILES = set(all_targets())
ALIASES = {
    alias: figure_files(name) for alias, name in FIGURE_ALIASES.items() if f"results/figures/{name}.pdf" in ENABLED_FILES
}
ALIASES.update({t["name"]: [f"results/tables/{t['name']}.tex", f"results/tables/{t['name']}.csv"] for t in config["implicit"]["tables"]})

for alias, files in ALIASES.items():

    rule:
        name:
            alias
        input:
            files,
        default_target: False

