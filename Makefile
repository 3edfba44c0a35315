# Two entry points for a fresh machine: `make run` (the default config, the demo world plus the
# reanalysis of the published data) and `make test`. Both create the virtualenv on first use.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
CORES ?= all
MIRROR ?=
SNAKEMAKE = $(VENV)/bin/snakemake
MIRROR_CONFIG = $(if $(MIRROR),--config reference_mirror=$(abspath $(MIRROR)),)

.PHONY: run test dry-run report install-profile clean-venv

$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -c "import torch" 2>/dev/null || $(VENV)/bin/python -m pip install --quiet "$(TORCH_SPEC)"
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	touch $@

run: $(VENV)/.installed
	$(SNAKEMAKE) --profile profiles/local --cores $(CORES) $(MIRROR_CONFIG)

test: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q

dry-run: $(VENV)/.installed
	$(SNAKEMAKE) -n --cores 1 $(MIRROR_CONFIG)

report: $(VENV)/.installed
	$(SNAKEMAKE) --cores 1 --report results/report.html $(MIRROR_CONFIG)

install-profile:
	mkdir -p $${XDG_CONFIG_HOME:-$$HOME/.config}/snakemake
	ln -sfn $(abspath profiles/slurm) $${XDG_CONFIG_HOME:-$$HOME/.config}/snakemake/slurm
	@echo "installed: snakemake --profile slurm now resolves to $(abspath profiles/slurm)"

clean-venv:
	rm -rf $(VENV)
