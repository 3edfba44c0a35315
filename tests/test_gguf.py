"""GGUF checkpoints as a model source and the chat_template entry key, without the real models:
the sha256 check, missing packages, unreadable architectures (nothing half-written), chunks,
templates applied by the loader, and the workflow's side (validation, the real world's DAG)."""

import hashlib

import numpy as np
import pytest
from workflow_helpers import REPO_ROOT, copy_workflow, job_counts, run_snakemake

from rmbias import demo
from rmbias.config import load_yaml, validate_config
from rmbias.io import InputError
from rmbias.models.conversations import chat_template_text
from rmbias.models.gguf import assemble_gguf, convert_gguf, gguf_part_path
from rmbias.models.loading import ModelSpec, load_renderer

GEMMA3_TEMPLATE = REPO_ROOT / "config" / "templates" / "gemma3.jinja"


def gguf_entry(files, sha256, **overrides):
    return {"id": "tiny", "hf": "results/models/tiny", "family": "llama", "kind": "causal_lm",
            "type": "pretrained", "gguf": {"sha256": sha256, "files": files}, **overrides}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_unsupported_gguf(path):
    """A valid GGUF file of an architecture transformers cannot read (gpt-neox)."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "gptneox")
    writer.add_block_count(1)
    writer.add_tensor("token_embd.weight", np.zeros((4, 2), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def test_wrong_sha256_is_one_line_naming_the_file_and_writes_nothing(tmp_path):
    (tmp_path / "m.gguf").write_bytes(b"not the expected bytes")
    out = tmp_path / "results" / "models" / "tiny"
    with pytest.raises(InputError, match=r"^model tiny: sha256 of .*m\.gguf is [0-9a-f]{64}, expected 0{64}$"):
        convert_gguf(gguf_entry([{"path": "m.gguf"}], "0" * 64), out, base_dir=tmp_path)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def test_missing_package_names_the_package(tmp_path):
    with pytest.raises(InputError, match=r"^model tiny: GGUF package 'rmbias_no_such_wheel' is not installed"):
        gguf_part_path("tiny", {"package": "rmbias_no_such_wheel", "path": "x.gguf"})
    with pytest.raises(InputError, match=r"GGUF file .*absent\.gguf does not exist"):
        gguf_part_path("tiny", {"path": "absent.gguf"}, tmp_path)


def test_file_inside_an_installed_package_is_found():
    path = gguf_part_path("tiny", {"package": "rmbias", "path": "models/gguf.py"})
    assert path == REPO_ROOT / "rmbias" / "models" / "gguf.py"


def test_chunks_are_concatenated_in_order_and_checked(tmp_path):
    chunks = [b"GGUF-head", b"-middle-", b"tail"]
    paths = []
    for i, chunk in enumerate(chunks):
        paths.append(tmp_path / f"m.gguf.part0{i}")
        paths[-1].write_bytes(chunk)
    whole = assemble_gguf("tiny", paths, sha256_hex(b"".join(chunks)), tmp_path)
    assert whole.read_bytes() == b"".join(chunks)
    with pytest.raises(InputError, match=r"sha256 of the concatenation of .*part02, .*part01, .*part00 is"):
        assemble_gguf("tiny", paths[::-1], sha256_hex(b"".join(chunks)), tmp_path)


def test_architecture_transformers_cannot_read_is_one_line_and_writes_nothing(tmp_path):
    source = tmp_path / "neox.gguf"
    write_unsupported_gguf(source)
    out = tmp_path / "results" / "models" / "tiny"
    with pytest.raises(InputError, match=r"^model tiny: transformers cannot read .*neox\.gguf: .*gptneox") as err:
        convert_gguf(gguf_entry([{"path": str(source)}], sha256_hex(source.read_bytes())), out)
    assert "\n" not in str(err.value)
    assert list(out.parent.iterdir()) == []


def test_chat_template_inline_or_file():
    inline = "{{ bos_token }}{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert chat_template_text(inline) == inline
    assert chat_template_text("config/templates/gemma3.jinja", REPO_ROOT) == GEMMA3_TEMPLATE.read_text()
    with pytest.raises(InputError, match=r"chat_template 'config/templates/none\.jinja': no such file"):
        chat_template_text("config/templates/none.jinja", REPO_ROOT)


def test_chat_template_is_applied_by_the_loader_and_renders_a_pretrained_base(tmp_path, monkeypatch):
    tokenizer = demo.build_tokenizer(["What", "is", "best", "Love"], "gemma")
    tokenizer.chat_template = None
    tokenizer.save_pretrained(tmp_path / "base")
    monkeypatch.chdir(REPO_ROOT)
    entry = {"id": "base", "hf": str(tmp_path / "base"), "family": "gemma", "kind": "causal_lm", "type": "pretrained"}
    assert not ModelSpec.from_entry(entry).chat
    spec = ModelSpec.from_entry({**entry, "chat_template": "config/templates/gemma3.jinja"})
    assert spec.chat and spec.chat_template == GEMMA3_TEMPLATE.read_text()
    renderer = load_renderer(spec)
    bos = renderer.tokenizer.bos_token
    assert renderer.render("What is best?") == f"{bos}<start_of_turn>user\nWhat is best?<end_of_turn>\n<start_of_turn>model\n"
    assert renderer.render("What is best?", " Love") == (
        f"{bos}<start_of_turn>user\nWhat is best?<end_of_turn>\n<start_of_turn>model\nLove<end_of_turn>\n")


def test_gguf_entry_must_convert_into_its_results_directory():
    schema = load_yaml(REPO_ROOT / "config" / "schema.yaml")
    prompts = load_yaml(REPO_ROOT / "config" / "prompts.yaml")["prompts"]
    config = {"models": [gguf_entry([{"package": "p", "path": "m.gguf"}], "a" * 64, hf="models/tiny")]}
    with pytest.raises(InputError, match=r"^config error at models\[0\]\.hf: a gguf entry is converted into results/models/tiny"):
        validate_config(config, schema, prompts)
    config = {"models": [gguf_entry([{"package": "p", "path": "m.gguf"}], "not-hex")]}
    with pytest.raises(InputError, match=r"models\[0\]\.gguf\.sha256"):
        validate_config(config, schema, prompts)
    config = {"reward_models": [gguf_entry([{"package": "p", "path": "m.gguf"}], "a" * 64, kind="reward_model", score="logits[:, 0]")]}
    with pytest.raises(InputError, match=r"^config error at reward_models\[0\]\.gguf: a GGUF file is converted as a language model"):
        validate_config(config, schema, prompts)


@pytest.fixture(scope="module")
def real_world_copy(tmp_path_factory, reference_mirror):
    """A copy of the workflow whose real world (config/real.yaml) runs in runs/real."""
    workdir = copy_workflow(tmp_path_factory.mktemp("real-world") / "workflow")
    return workdir, ("--directory", "runs/real", "--configfile", str(workdir / "config" / "real.yaml"),
                     "--config", f"reference_mirror={reference_mirror}")


def test_real_world_dry_run_lists_its_jobs(real_world_copy):
    workdir, real = real_world_copy
    result = run_snakemake(workdir, "-n", "--cores", "1", *real)
    assert result.returncode == 0, result.stdout[-3000:]
    counts = job_counts(result.stdout)
    # logprobs and fig2_stats: Gemma 3 270M's template is borrowed, so it also runs as the plain prompt
    # token tables: the three LLMs (training's vocabulary, the Big Two nouns' single-token check of
    # Figure 2's models); the trained RMs are searched over the dictionary scope alone and need none
    assert counts["convert_gguf"] == 3 and counts["token_table"] == 3 and counts["logprobs"] == 4
    assert counts["fig2_stats"] == 2 and counts["fig3_figure"] == 1 and counts["table"] == 2
    assert counts["train_rm"] == 5 and counts["score_checkpoints"] == 5 and counts["checkpoint_figure"] == 2
    # the five trained RMs: exported from their runs' final checkpoints, searched over the dictionaries
    assert counts["export_trained_rm"] == 5 and counts["rm_scores"] == 5
    assert counts["fig1_own"] == 1 and counts["rm_profiles"] == 1  # Figure 1 and profiles of the Big Two nouns
    jobs = result.stdout.split("\nrule ")[1:]
    export = next(job for job in jobs if job.startswith("export_trained_rm:") and "results/models/gemma3-synth-rm-b\n" in job)
    assert "results/training/gemma3-synth-b/checkpoints.json" in export
    assert "demo_models" not in counts


def test_real_world_outputs_stay_in_its_directory(real_world_copy):
    workdir, real = real_world_copy
    built = run_snakemake(workdir, "results/config_used.yaml", "--cores", "1", *real)
    assert built.returncode == 0, built.stdout[-3000:]
    assert (workdir / "runs" / "real" / "results" / "config_used.yaml").is_file()
    assert not (workdir / "results").exists()
    default = run_snakemake(workdir, "-n", "--cores", "1", "results/config_used.yaml")
    assert job_counts(default.stdout) == {"config_used": 1, "total": 1}
    run_snakemake(workdir, "--cores", "1", "results/config_used.yaml")
    again = run_snakemake(workdir, "results/config_used.yaml", "-n", "--cores", "1", *real)
    assert again.returncode == 0 and job_counts(again.stdout) == {}, again.stdout[-2000:]
    assert "gemma-3-270m" not in (workdir / "results" / "config_used.yaml").read_text()


def test_editing_a_chat_template_makes_the_models_jobs_stale(tmp_path):
    workdir = copy_workflow(tmp_path / "workflow")
    real = ("--configfile", str(workdir / "config" / "real.yaml"), "--cores", "1")
    # A tokenizer stands in for the converted Gemma 3 (its conversion is not rerun: the directory exists).
    demo.build_tokenizer(["Love", "Freedom"], "gemma").save_pretrained(workdir / "results" / "models" / "gemma-3-270m")
    target = "results/tokens/gemma-3-270m.parquet"
    built = run_snakemake(workdir, target, *real)
    assert built.returncode == 0, built.stdout[-3000:]
    assert job_counts(run_snakemake(workdir, target, "-n", *real).stdout) == {}
    template = workdir / "config" / "templates" / "gemma3.jinja"
    template.write_text(template.read_text() + "{#- edited -#}\n")
    stale = run_snakemake(workdir, target, "-n", *real)
    assert job_counts(stale.stdout) == {"token_table": 1, "total": 1}, stale.stdout[-3000:]
    assert "params" in stale.stdout.lower()
