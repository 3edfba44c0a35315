#!/usr/bin/env bash
# Install the Debian packages the real-SLURM test needs (slurm-wlm: slurmctld, slurmd and the
# client commands; munge: authentication). Idempotent: does nothing when every binary exists.
# Must run as root (or with passwordless sudo). Prints how long it took.
set -euo pipefail

start_s=$(date +%s)
required_binaries=(slurmctld slurmd sbatch srun squeue scontrol scancel sinfo munged mungekey)

missing_binaries() {
    local name
    for name in "${required_binaries[@]}"; do
        PATH="$PATH:/usr/sbin:/sbin" command -v "$name" >/dev/null 2>&1 || echo "$name"
    done
}

if [[ -z "$(missing_binaries)" ]]; then
    echo "install_slurm: slurm-wlm and munge already installed"
else
    as_root=()
    if [[ "$(id -u)" -ne 0 ]]; then
        as_root=(sudo -n)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${as_root[@]}" apt-get update -qq
    "${as_root[@]}" apt-get install -y -qq --no-install-recommends slurm-wlm munge
    still_missing="$(missing_binaries)"
    if [[ -n "$still_missing" ]]; then
        echo "install_slurm: still missing after install: $still_missing" >&2
        exit 1
    fi
fi
echo "install_slurm: done in $(( $(date +%s) - start_s )) s"
