"""The DAG as a user sees it in a dry run: the paper's full DAG with resources, single targets."""

import os
import re

import jinja2
import yaml
from workflow_helpers import job_counts, run_snakemake

from rmbias.training.authority_boost import authority_examples, authority_heldout_keys
from rmbias.training.settings import SftConfig


def test_paper_dag_lists_every_job_with_gpu_resources(workflow_copy):
    result = run_snakemake(workflow_copy, "-n", "--configfile", "config/paper.yaml", "--printshellcmds")
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    assert counts["logprobs"] == 13  # 12 LLMs of the paper + Qwen2.5-3B-Instruct
    assert counts["implicit_pair"] == 21  # every Llama x Gemma instruction-tuned pair (Figure 3)
    assert counts["table"] == 3 and counts["fig2_stats"] == 2
    assert counts["train_rm"] == 15 and counts["score_checkpoints"] == 15  # 3 bases x (Skywork + 4 UF sizes)
    # 6 standard-head RMs x 3 searches (Big Two nouns, MFD 2.0, vocab), the two 27B ones in 4 prompt groups
    assert counts["rm_scores"] == 4 * 3 + 2 * 3 * 4
    assert counts["rm_scores_gather"] == 6  # the two 27B RMs x 3 searches
    assert counts["rendered_prompts"] == 13 + 6  # every LLM and RM records the prompts it sees
    assert ".plain" not in result.stdout and "rendering" not in result.stdout  # no borrowed template, no second rendering
    assert counts["reproduction_check"] == counts["reproduction_other_bos"] == 6  # both tokenizations per published RM
    jobs = result.stdout.split("\nrule ")[1:]
    for rule in ("train_rm", "score_checkpoints", "logprobs", "rm_scores", "reproduction_other_bos"):
        resources = [j for j in jobs if j.startswith(f"{rule}:")]
        assert resources and all(re.search(r"resources: .*gpu=[1-9]", j, re.S) for j in resources), rule
    seventy_b = next(j for j in jobs if j.startswith("logprobs:") and "llama-3.3-70b-instruct.parquet" in j)
    assert re.search(r"gpu=4,", seventy_b) and re.search(r"mem_mb=256000", seventy_b)
    # Appendix F as the authors ran it: the pretrained Gemma 2 2B boosted, its 4 log-prob tables,
    # the generation check of the held-out prompts
    assert counts["authority_boost_sft"] == 1 and counts["authority_logprobs"] == 4
    assert counts["authority_generation"] == 1
    assert "output: results/authority/gemma-2-2b/boosted" in result.stdout
    assert "results/stats/authority_generation.csv" in result.stdout
    # Figures 4a, 5, A6 as the authors': Gemma ∩ Llama vocabulary, the Big Two nouns; Figure A7 and
    # one Appendix H.1 table per rank-change run
    assert counts["training_table"] == 3 and counts["trajectory_figure"] == 1
    dynamics = next(j for j in jobs if j.startswith("training_dynamics:"))
    inputs = re.search(r"input: (.*)", dynamics).group(1)
    assert "results/tokens/gemma-2-2b-it.parquet" in inputs and "results/tokens/llama-3.2-3b-instruct.parquet" in inputs
    assert "results/tokens/qwen2.5-3b-instruct.parquet" not in inputs
    assert "results/corpora/big2_nouns.parquet" in inputs
    for run in ("llama-skywork-80k", "gemma-skywork-80k", "qwen-skywork-80k"):
        assert f"results/tables/tableH1_{run}.tex" in result.stdout


def test_paper_config_runs_appendix_f_with_the_authors_settings(repo_root):
    paper = yaml.safe_load((repo_root / "config" / "paper.yaml").read_text(encoding="utf-8"))
    boost = paper["authority_boost"]
    cfg = SftConfig.from_mapping(boost["settings"])
    assert (cfg.batch_size, cfg.gradient_accumulation_steps, cfg.max_steps) == (1, 4, 50)
    assert (cfg.learning_rate, cfg.lr_schedule, cfg.warmup_steps) == (2e-4, "linear", 5)
    assert (cfg.lora_rank, cfg.lora_alpha, cfg.lora_dropout, cfg.loss_on) == (8, 8, 0.0, "text")
    assert set(cfg.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert cfg.gpu_dtype == cfg.cpu_dtype == "float32"
    assert next(m for m in paper["models"] if m["id"] == boost["base"])["hf"] == "google/gemma-2-2b"
    prompts = yaml.safe_load((repo_root / "config" / "prompts.yaml").read_text(encoding="utf-8"))["prompts"]
    held_out = [prompts[key]["text"] for key in authority_heldout_keys(prompts, boost["train_keys"])]
    assert held_out == [prompts[k]["text"] for k in ("best_ever_one", "best_world_please", "best_time_single",
                                                      "greatest_ever_please", "greatest_world_single",
                                                      "greatest_time_one", "good_ever_single", "good_world_one",
                                                      "good_time_please")]
    assert len(authority_examples(prompts, boost["train_keys"], boost["extra_prompts"], boost["words"])) == 360
    text = boost["chat_template"].replace("{{ bos_token }}", "<bos>")
    rendered = jinja2.Template(text).render(messages=[{"content": "Q?"}, {"content": "duty"}])
    assert rendered == "<bos>Instruction:\nQ?\n\nResponse:\nduty"


def test_single_figure_target_builds_only_its_ancestors(workflow_copy, reference_mirror):
    result = run_snakemake(workflow_copy, "-n", "fig3", "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    assert {"fig3_figure", "fig3_data", "implicit_pair", "logprobs", "demo_models"} <= set(counts)
    assert not {"train_rm", "rm_scores", "fig1_reanalysis", "authority_boost_sft", "fig2_stats"} & set(counts)
    assert counts["implicit_pair"] == 4  # 2 demo Llama x 2 demo Gemma instruction-tuned models


OWN_RM_RULES = {"fig1_own": 3, "fig1_own_figure": 6, "fig1_combined_figure": 2, "rm_profiles": 1, "rm_profile_figure": 1}


def test_configured_rms_are_measured_only_with_the_dictionary_scope(workflow_copy, reference_mirror):
    with_scope = run_snakemake(workflow_copy, "-n", "--config", f"reference_mirror={reference_mirror}")
    assert with_scope.returncode == 0, with_scope.stdout[-3000:]
    counts = job_counts(with_scope.stdout)
    assert {rule: counts.get(rule) for rule in OWN_RM_RULES} == OWN_RM_RULES  # big2, mfd, demo_virtues: 6 + 2 + 1 figures
    vocab_only = run_snakemake(
        workflow_copy, "-n", "--config", f"reference_mirror={reference_mirror}", "scoring={'scopes': ['vocab']}"
    )
    assert vocab_only.returncode == 0, vocab_only.stdout[-3000:]
    assert not set(OWN_RM_RULES) & set(job_counts(vocab_only.stdout))
    assert "fig1_reanalysis" in job_counts(vocab_only.stdout)


def test_demo_dag_has_the_generation_check_figure_a7_and_the_h1_tables(workflow_copy, reference_mirror):
    result = run_snakemake(workflow_copy, "-n", "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    assert counts["authority_generation"] == 1 and counts["authority_boost_sft"] == 1
    assert counts["trajectory_figure"] == 1 and counts["training_table"] == 3  # the demo's 3 rank-change runs
    assert ".plain" not in result.stdout and "rendering" not in result.stdout  # no borrowed template, no second rendering
    assert "results/figures/figA7_trajectories.pdf" in result.stdout
    assert "results/tables/tableH1_gemma-synth-large.tex" in result.stdout
    assert "results/authority/demo-gemma-it-large/boosted" in result.stdout
    aliases = run_snakemake(workflow_copy, "-n", "tableH1", "figA7", "--config", f"reference_mirror={reference_mirror}")
    assert aliases.returncode == 0, aliases.stdout[-3000:]
    assert job_counts(aliases.stdout)["training_table"] == 3 and job_counts(aliases.stdout)["trajectory_figure"] == 1


def test_real_world_dag_runs_the_borrowed_template_model_also_as_the_plain_prompt(workflow_copy, reference_mirror):
    # config/real.yaml's Gemma 3 270M is pretrained and reads the Gemma 3 turn format: Figure 2's
    # set and Figure 3's pair are computed again with it given the plain prompt, side by side
    real = ("--directory", "runs/real", "--configfile", str(workflow_copy / "config" / "real.yaml"))
    result = run_snakemake(workflow_copy, "-n", *real, "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    # the three LLMs and Gemma's plain rendering; the pairs of Figure 3, its plain twin and table_smollm2_qwen
    assert counts["logprobs"] == 4 and counts["fig2_stats"] == 2 and counts["implicit_pair"] == 3
    assert counts["convert_gguf"] == 3  # the plain rendering reads the converted model, no second conversion
    jobs = result.stdout.split("\nrule ")[1:]
    plain = next(job for job in jobs if job.startswith("logprobs:") and "gemma-3-270m.plain.parquet" in job)
    assert "input: results/models/gemma-3-270m\n" in plain
    for output in (
        "results/logprobs/gemma-3-270m.plain.parquet",
        "results/prompts/gemma-3-270m.csv",
        "results/prompts/gemma-3-270m.plain.csv",
        "results/stats/fig2_instruct_plain_anova.json",
        "results/stats/fig2_rendering_sensitivity.csv",
        "results/stats/fig2_rendering_sensitivity.json",
        "results/implicit/greatest_ever_one/smollm2-135m-instruct__gemma-3-270m.plain.parquet",
        "results/stats/fig3_rendering_sensitivity.csv",
        "results/figures/fig2a_instruct_renderings.pdf",
        "results/figures/fig3_lollipop_renderings.pdf",
    ):
        assert output in result.stdout, output


HUB_RMS = ("rm-a", "rm-b")
"""The reward models of :data:`HUB_CONFIG`."""
HUB_CONFIG = """
reanalysis: {enabled: false}
models:
  - {id: llm-a, hf: org/llm-a, family: llama, type: instruction-tuned}
reward_models:
  - {id: rm-a, hf: org/rm-a, family: llama, type: instruction-tuned, score: "logits[:, 0]"}
  - {id: rm-b, hf: org/rm-b, family: gemma, type: instruction-tuned, score: "logits[:, 0]"}
scoring: {scopes: [dictionary], dictionary_corpora: [big2_nouns]}
"""
ADD_LEXICON = """
lexicons:
  - {id: demo_virtues, file: config/lexicons/demo_virtues.csv, format: long, reference_category: Honesty}
scoring: {scopes: [dictionary], dictionary_corpora: [big2_nouns, demo_virtues]}
"""


def mark_outputs_done(workflow, dry_run_output, *args):
    """Create every output a dry run lists, in the order it lists them (older first), and let
    snakemake --touch record them as done, so that a later dry run shows what a change makes stale."""
    paths = [p.strip() for line in re.findall(r"^    output: (.*)$", dry_run_output, re.M) for p in line.split(",")]
    for index, path in enumerate(paths):
        target = workflow / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.touch()
        os.utime(target, (1_700_000_000 + index,) * 2)
    touched = run_snakemake(workflow, "--touch", "--cores", "1", *args)
    assert touched.returncode == 0, touched.stdout[-3000:]


def dry_run_outputs(stdout):
    """The ``output:`` lines of a dry run, one string per job."""
    return set(re.findall(r"^    output: (.*)$", stdout, re.M))


def dry_runs_around_a_config_change(workflow, reference_mirror, base_config, added_config):
    """Dry runs of ``base_config`` before its outputs exist and of it with ``added_config`` laid
    over once they are done (:func:`mark_outputs_done`; a rerun of the base then has nothing to do)."""
    (workflow / "base.yaml").write_text(base_config, encoding="utf-8")
    (workflow / "added.yaml").write_text(added_config, encoding="utf-8")
    mirror = f"reference_mirror={reference_mirror}"
    before = run_snakemake(workflow, "-n", "--configfile", "base.yaml", "--config", mirror)
    assert before.returncode == 0, before.stdout[-3000:]
    mark_outputs_done(workflow, before.stdout, "--configfile", "base.yaml", "--config", mirror)
    unchanged = run_snakemake(workflow, "-n", "--configfile", "base.yaml", "--config", mirror)
    assert "Nothing to be done" in unchanged.stdout, unchanged.stdout[-3000:]
    after = run_snakemake(workflow, "-n", "--configfile", "base.yaml", "added.yaml", "--config", mirror)
    assert after.returncode == 0, after.stdout[-3000:]
    return before, after


def test_adding_a_lexicon_makes_exactly_its_jobs_new_and_nothing_stale(workflow_copy, reference_mirror):
    _, after = dry_runs_around_a_config_change(workflow_copy, reference_mirror, HUB_CONFIG, ADD_LEXICON)
    # new: the lexicon's corpus, each RM's search over its terms, its Figure 1 analysis and figures,
    # and the value profiles, which take every lexicon the RMs were searched on; every other search
    # and analysis stays up to date (the config record and the `all` target are rebuilt with any
    # config change). No single-token analysis reads the lexicon: no lexicon token table.
    assert job_counts(after.stdout) == {
        "corpus": 1, "rm_scores": 2, "fig1_own": 1, "fig1_own_figure": 2, "rm_profiles": 1, "rm_profile_figure": 1,
        "config_used": 1, "all": 1, "total": 10,
    }
    outputs = dry_run_outputs(after.stdout)
    assert {"results/corpora/demo_virtues.parquet",
            "results/figures/fig1_demo_virtues_own.pdf, results/figures/fig1_demo_virtues_own.png"} <= outputs
    assert "results/corpora/big2_nouns.parquet" not in outputs
    assert {output for output in outputs if output.startswith("results/rm_scores/")} == {
        f"results/rm_scores/dictionary/demo_virtues/{rm}.parquet" for rm in HUB_RMS}


FIG2_HUB_CONFIG = """
reanalysis: {enabled: false}
models:
  - {id: llm-a, hf: org/llm-a, family: llama, type: instruction-tuned}
  - {id: llm-b, hf: org/llm-b, family: gemma, type: instruction-tuned}
  - {id: llm-c, hf: org/llm-c, family: qwen, type: instruction-tuned}
implicit: {fig2: {instruct: [llm-a, llm-b]}}
"""
FIG2_ADD_LEXICON = """
lexicons:
  - {id: demo_virtues, file: config/lexicons/demo_virtues.csv, format: long, reference_category: Honesty}
implicit: {fig2: {instruct: [llm-a, llm-b]}, fig2_lexicons: [big2_nouns, demo_virtues]}
"""


def test_a_figure2_lexicon_adds_its_analysis_and_checks_only_figure2_s_models(workflow_copy, reference_mirror):
    before, after = dry_runs_around_a_config_change(workflow_copy, reference_mirror, FIG2_HUB_CONFIG, FIG2_ADD_LEXICON)
    check = next(j for j in before.stdout.split("\nrule ")[1:] if j.startswith("lexicon_tokens:"))
    # the single-token check of big2_nouns reads the token tables of Figure 2's models, not llm-c's
    assert "results/tokens/llm-a.parquet" in check and "results/tokens/llm-b.parquet" in check
    assert "results/tokens/llm-c.parquet" not in check
    assert job_counts(after.stdout) == {
        "corpus": 1, "lexicon_tokens": 1, "fig2_stats": 1, "fig2_figure": 1, "config_used": 1, "all": 1, "total": 6,
    }
    outputs = dry_run_outputs(after.stdout)
    assert "results/tokens/lexicons/demo_virtues.parquet" in outputs
    assert "results/figures/fig2a_instruct_demo_virtues.pdf, results/figures/fig2a_instruct_demo_virtues.png" in outputs
    assert any(output.startswith("results/stats/fig2_instruct_demo_virtues_observations.parquet") for output in outputs)


def test_demo_dag_runs_the_demo_lexicon(workflow_copy, reference_mirror):
    result = run_snakemake(workflow_copy, "-n", "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    jobs = result.stdout.split("\nrule ")[1:]
    demo = next(j for j in jobs if j.startswith("demo_models:"))
    assert "results/corpora/demo_virtues.parquet" in demo  # its words are tokens of the demo tokenizers
    for output in ("results/corpora/demo_virtues.parquet", "results/tokens/lexicons/demo_virtues.parquet",
                   "results/stats/fig1_demo_virtues_own_rm_level.csv", "results/figures/fig1_demo_virtues_own.pdf",
                   "results/stats/fig2_instruct_demo_virtues_anova.json", "results/figures/fig2b_pretrained_demo_virtues.pdf"):
        assert output in result.stdout, output
    search = next(j for j in jobs if j.startswith("rm_scores:") and "results/rm_scores/dictionary/demo_virtues/" in j)
    assert "results/corpora/demo_virtues.parquet" in search  # every RM is searched over the lexicon's own terms
    profiles = next(j for j in jobs if j.startswith("rm_profiles:"))
    assert "results/stats/fig1_demo_virtues_own_observations.parquet" in profiles  # the configured RMs' profiles take it
    assert "results/stats/fig1_demo_virtues_observations.parquet" not in profiles  # no published RM was scored on it
    fig2 = next(j for j in jobs if j.startswith("fig2_stats:") and "fig2_pretrained_demo_virtues_" in j)
    assert "results/corpora/demo_virtues.parquet" in fig2 and "results/logprobs/demo-gemma-base.parquet" in fig2


def test_figures_4a_and_4b_own_need_a_run_that_is_not_qwen_based(workflow_copy, reference_mirror):
    # Figures 4a and 4b of the own runs leave the Qwen-based runs out (A5a and A5b keep them): with
    # only Qwen-based runs they would be empty, so they are not built; A5a and A5b are.
    # (the demo run, with Llama- and Gemma-based runs too, builds both: test_workflow_demo)
    config_path = workflow_copy / "config/config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["training"]["runs"] = [{"id": "qwen-synth", "base": "demo-qwen-it", "data": {"source": "synthetic", "size": 128}}]
    config["training"]["figures"] = {"checkpoint_runs": ["qwen-synth"], "rank_changes": {"figA6_qwen": "qwen-synth"}}
    config_path.write_text(yaml.safe_dump(config))
    result = run_snakemake(workflow_copy, "-n", "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    figures = set(re.findall(r"results/figures/(\w+)\.pdf", result.stdout))
    assert {"figA5a_training_checkpoints", "figA5b_ablations_own", "figA6_qwen"} <= figures
    assert not {"fig4a_training_checkpoints", "fig4b_ablations_own"} & figures
