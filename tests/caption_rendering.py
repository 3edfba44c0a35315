"""Render the report's captions for a config the way ``snakemake --report`` does, without running it.

The report can only be built from finished outputs; this renders what it would say. Snakemake
loads the workflow with the config and builds the DAG of its default target (as a dry run does).
For every output marked with ``report()``, its caption file is rendered as Snakemake's report
renders it (``snakemake.report.FileRecord.render``): the same Jinja environment, the same
``snakemake`` object (the job's input, output, params, wildcards and the workflow's validated
config), then docutils' HTML writer. The report's front page, ``report/workflow.rst``, is rendered
with its ``snakemake.config``. Docutils' system messages are collected instead of printed.

Run as a script, because the Snakemake API changes the working directory::

    python caption_rendering.py WORKFLOW_DIR CONFIGFILE OUT_JSON

writes ``{"config": ..., "captions": [{"output", "rule", "caption_file", "params", "text",
"html", "messages"}, ...]}`` (the front page as rule ``None``, output ``report/workflow.rst``).
:func:`render_captions` runs it in a subprocess per config and returns those records.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path


def render_captions(workflow_dir: Path, configfiles: Mapping[str, Path], timeout: int = 300) -> dict[str, dict]:
    """Name -> the record this script writes for each config of ``configfiles`` (name -> config
    file), run on the workflow copy ``workflow_dir``, one subprocess per config, side by side."""
    with tempfile.TemporaryDirectory() as scratch:
        outs = {name: Path(scratch) / f"{name}.json" for name in configfiles}
        jobs = {
            name: subprocess.Popen([sys.executable, __file__, str(workflow_dir), str(configfile), str(outs[name])],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for name, configfile in configfiles.items()
        }
        failed = {}
        for name, job in jobs.items():
            output, _ = job.communicate(timeout=timeout)
            if job.returncode != 0:
                failed[name] = output[-3000:]
        if failed:
            raise RuntimeError(f"caption rendering failed: {failed}")
        return {name: json.loads(out.read_text()) for name, out in outs.items()}


def _html(text: str) -> tuple[str, list[str]]:
    """``text`` (reStructuredText) as the report's HTML body, and docutils' system messages."""
    from docutils.core import publish_parts

    messages = io.StringIO()
    html = publish_parts(text, writer_name="html", settings_overrides={"warning_stream": messages})["body"]
    return html, [line for line in messages.getvalue().splitlines() if line.strip()]


def _main(workflow_dir: Path, configfile: Path, out: Path) -> None:
    from jinja2 import Environment
    from snakemake.api import SnakemakeApi
    from snakemake.io import is_flagged
    from snakemake.script import Snakemake
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, Quietness, ResourceSettings

    # snakemake.report.auto_report renders every caption in this environment
    env = Environment(trim_blocks=True, lstrip_blocks=True)
    with tempfile.TemporaryDirectory() as workdir, SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(cores=1),
            config_settings=ConfigSettings(configfiles=[configfile]),
            snakefile=workflow_dir / "Snakefile",
            workdir=Path(workdir),
        )
        workflow_api.dag(DAGSettings())
        workflow = workflow_api._workflow
        workflow._prepare_dag(forceall=False, ignore_incomplete=True, lock_warn_only=True, nolock=True)
        workflow._build_dag()
        captions = []
        for job in workflow.dag.jobs:
            for output in job.output:
                if not is_flagged(output, "report") or output.flags["report"].caption is None:
                    continue
                caption_file = output.flags["report"].caption
                snakemake = Snakemake(job.input, job.output, job.params, job.wildcards, job.threads, job.resources,
                                      job.log, job.rule.module_globals["config"], job.rule.name, None)
                text = env.from_string(workflow.sourcecache.open(caption_file).read()).render(
                    snakemake=snakemake, categories={}, files=[])
                html, messages = _html(text)
                captions.append(dict(output=str(output), rule=job.rule.name, caption_file=Path(str(caption_file)).name,
                                     params=dict(job.params.items()), text=text, html=html, messages=messages))

        class FrontPage:
            config = workflow.config

        text = env.from_string((workflow_dir / "report" / "workflow.rst").read_text()).render(
            snakemake=FrontPage, categories={}, files=[])
        html, messages = _html(text)
        captions.append(dict(output="report/workflow.rst", rule=None, caption_file="workflow.rst", params={},
                             text=text, html=html, messages=messages))
        out.write_text(json.dumps({"config": workflow.config, "captions": captions}, default=repr))


if __name__ == "__main__":
    _main(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve(), Path(sys.argv[3]).resolve())
