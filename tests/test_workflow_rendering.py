"""Rendering sensitivity in the workflow: a pretrained model given a chat template gets its
plain-rendering jobs and the side-by-side outputs; the demo world itself has none."""

import pandas as pd
import pytest
import yaml
from workflow_helpers import job_counts, run_snakemake

from rmbias import demo
from rmbias.corpora.dictionaries import read_dictionary
from rmbias.demo.tokenizers import CHAT_TEMPLATES
from rmbias.implicit.rendering import RENDERINGS
from rmbias.io import read_csv
from rmbias.records import read_record

THREE_WAY = "C(category):C(framing):C(model)"


def write_config(workflow, name, config):
    path = workflow / "config" / name
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return str(path)


def test_demo_with_a_templated_pretrained_model_lists_its_plain_rendering_jobs(workflow_copy, reference_mirror):
    config = yaml.safe_load((workflow_copy / "config" / "config.yaml").read_text(encoding="utf-8"))
    gemma_base = next(m for m in config["models"] if m["id"] == "demo-gemma-base")
    gemma_base["chat_template"] = CHAT_TEMPLATES["gemma"]
    configfile = write_config(workflow_copy, "borrowed.yaml", config)
    result = run_snakemake(workflow_copy, "-n", "--configfile", configfile, "--config", f"reference_mirror={reference_mirror}")
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    assert counts["logprobs"] == 7 + 1 and counts["rendered_prompts"] == 16 + 1  # + demo-gemma-base.plain
    # instruct, pretrained and pretrained_plain, and the demo lexicon's instruct and pretrained
    # (the plain twin is a check of the paper's Figure 2: Big Two nouns only)
    assert counts["fig2_stats"] == 3 + 2
    # Figure 3 now pairs both demo Llama IT models with demo-gemma-base too, and each with its plain rendering
    assert counts["implicit_pair"] == 4 + 2 + 2
    for rule in ("fig2_rendering_sensitivity", "fig3_rendering_sensitivity", "fig2_rendering_figure", "fig3_rendering_figure"):
        assert counts[rule] == 1, rule
    jobs = result.stdout.split("\nrule ")[1:]
    plain = next(job for job in jobs if job.startswith("logprobs:") and "demo-gemma-base.plain.parquet" in job)
    assert "input: results/models/demo-gemma-base\n" in plain  # the model's own weights, no second build
    for output in ("results/stats/fig2_pretrained_plain_anova.json", "results/figures/fig2b_pretrained_renderings.pdf",
                   "results/figures/fig3_lollipop_renderings.pdf", "results/prompts/demo-gemma-base.plain.csv",
                   "results/implicit/greatest_ever_one/demo-llama-it__demo-gemma-base.plain.parquet"):
        assert output in result.stdout, output


@pytest.fixture
def tiny_world(workflow_copy, reference_mirror):
    """A copy of the workflow whose only LLMs are an untrained tiny Llama IT model and a tiny
    pretrained Gemma given the Gemma chat template, whose tokenizers hold every Big Two noun."""
    prompts = yaml.safe_load((workflow_copy / "config" / "prompts.yaml").read_text(encoding="utf-8"))["prompts"]
    nouns = read_dictionary(reference_mirror / "data" / "corpora" / "dict_big2_nouns.csv", "big2_nouns")["term"]
    words = [*nouns, *" ".join(p["text"] for p in prompts.values()).replace(",", " ").replace("?", " ").replace(".", " ").split()]
    models = []
    for family, arch, model_type in (("llama", "llama", "instruction-tuned"), ("gemma", "gemma2", "pretrained")):
        tokenizer = demo.build_tokenizer(words, family)
        directory = workflow_copy / "tiny" / family
        demo.tiny_model(arch, tokenizer, "causal_lm", seed=1).save_pretrained(directory)
        if model_type == "pretrained":
            tokenizer.chat_template = None  # a base without a template of its own
        tokenizer.save_pretrained(directory)
        models.append({"id": f"tiny-{family}", "hf": str(directory), "family": family, "type": model_type,
                       "version": "2", "size_b": 1})
    models[1]["chat_template"] = CHAT_TEMPLATES["gemma"]
    config = {"reference_mirror": str(reference_mirror), "reanalysis": {"enabled": False}, "models": models,
              "implicit": {"fig2": {"instruct": ["tiny-llama", "tiny-gemma"]}}}
    return workflow_copy, write_config(workflow_copy, "tiny.yaml", config)


def test_plain_rendering_and_sensitivity_statistics_run_on_tiny_models(tiny_world):
    workdir, configfile = tiny_world
    result = run_snakemake(workdir, "results/stats/fig2_rendering_sensitivity.json", "--configfile", configfile,
                           "--cores", "2", timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]
    # one model, two renderings (test_rendering_sensitivity.py checks the rendered text): the
    # same vocabulary, other log-probabilities
    logprobs = {name: pd.read_parquet(workdir / "results" / "logprobs" / f"{name}.parquet") for name in ("tiny-gemma", "tiny-gemma.plain")}
    assert logprobs["tiny-gemma"]["decoded"].equals(logprobs["tiny-gemma.plain"]["decoded"])
    assert not logprobs["tiny-gemma"]["greatest_ever_one"].equals(logprobs["tiny-gemma.plain"]["greatest_ever_one"])
    table = read_csv(workdir / "results" / "stats" / "fig2_rendering_sensitivity.csv")
    assert set(table["set"]) == {"instruct"} and THREE_WAY in set(table["term"])
    assert table[[f"{column}_{r}" for r in RENDERINGS for column in ("F", "df", "p")]].notna().all().all()
    record = read_record(workdir / "results" / "stats" / "fig2_rendering_sensitivity.json")
    assert record["models"] == {"instruct": {"template": ["tiny-llama", "tiny-gemma"], "plain": ["tiny-llama", "tiny-gemma.plain"]}}
    plain_anova = read_csv(workdir / "results" / "stats" / "fig2_instruct_plain_anova.csv").set_index("term")
    assert table.set_index("term").loc[THREE_WAY, "F_plain"] == pytest.approx(plain_anova.loc[THREE_WAY, "F"])
