"""A real single-node SLURM cluster on this machine, for testing the SLURM profile.

`start_slurm_cluster(root)` writes a munge key, `slurm.conf` and `gres.conf` under `root`,
starts munged, slurmctld and slurmd in the foreground as child processes (so stopping them
ends exactly the processes started here), and waits until the node is idle. Every SLURM
client call must carry `SlurmCluster.environment` (it points SLURM_CONF at the generated
file; the munge socket is named in that file).

The node advertises `gpus` GPUs and the feature NODE_FEATURE (for `--constraint`). Slurm 22.05's slurmd drops GPUs that have no device file,
so each GPU is mapped onto a harmless character device (/dev/null, /dev/zero, ...); with
`task/none` and no cgroups nothing is ever constrained on them, and a `--gpus` request is
scheduled exactly as on a GPU node.

The configuration lives under `root`, not in /etc/slurm, so nothing outside `root` is
touched. Snakemake's slurm-jobstep executor (inside each job) strips every SLURM_* variable,
SLURM_CONF included, before it calls `srun`; on a real cluster srun then reads
/etc/slurm/slurm.conf. Here `root/bin/srun` stands in: it sets SLURM_CONF and runs the real
srun, and `SlurmCluster.environment` puts `root/bin` first on PATH (PATH survives).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from string import Template

TEMPLATE_DIR = Path(__file__).resolve().parent
REQUIRED_BINARIES = ("munged", "mungekey", "slurmctld", "slurmd", "sbatch", "srun", "squeue", "sinfo", "scontrol", "scancel")
NODE_FEATURE = "rmbias_test_node"
STAND_IN_GPU_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/urandom")
SYSTEM_BINARY_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin")


def binary_path(name: str) -> str | None:
    """Absolute path of a SLURM/munge binary, also looking in the sbin directories
    that a non-root PATH often lacks; None when it is not installed."""
    search_path = os.pathsep.join([os.environ.get("PATH", ""), *SYSTEM_BINARY_DIRS])
    return shutil.which(name, path=search_path)


def missing_binaries() -> list[str]:
    """Names of the required SLURM and munge binaries that are not installed."""
    return [name for name in REQUIRED_BINARIES if binary_path(name) is None]


def node_hardware() -> dict[str, int]:
    """The node's CPUs and memory (MB) as slurmd itself detects them (`slurmd -C`), so the
    configured node passes slurmd's registration check."""
    detected = subprocess.run([binary_path("slurmd"), "-C"], capture_output=True, text=True, check=True)
    first_line = detected.stdout.splitlines()[0]
    fields = dict(item.split("=", 1) for item in first_line.split() if "=" in item)
    return {"cpus": int(fields["CPUs"]), "real_memory_mb": int(fields["RealMemory"])}


def free_tcp_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def render_template(template_name: str, values: dict[str, object]) -> str:
    """Fill `${key}` placeholders of a template file next to this module; a missing key raises."""
    return Template((TEMPLATE_DIR / template_name).read_text()).substitute(values)


@dataclass
class SlurmCluster:
    """A running single-node cluster: its directories, node name and daemon processes."""

    root: Path
    node_name: str
    gpus: int
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def conf_path(self) -> Path:
        return self.root / "etc" / "slurm.conf"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"

    @property
    def environment(self) -> dict[str, str]:
        """os.environ plus SLURM_CONF, and on PATH first the srun stand-in, then the SLURM binaries."""
        binary_dirs = dict.fromkeys(os.path.dirname(binary_path(name)) for name in REQUIRED_BINARIES)
        path = os.pathsep.join([str(self.root / "bin"), *binary_dirs, os.environ.get("PATH", "")])
        return {**os.environ, "SLURM_CONF": str(self.conf_path), "PATH": path}

    def command(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run a SLURM client command against this cluster; return its text output."""
        return subprocess.run(list(args), capture_output=True, text=True, check=check, env=self.environment)

    def node_state(self) -> str:
        """The node's state as sinfo reports it (e.g. 'idle', 'down*'); '' while slurmctld is not up."""
        answer = self.command("sinfo", "--noheader", "--Node", "--format=%T", f"--nodes={self.node_name}", check=False)
        return answer.stdout.strip() if answer.returncode == 0 else ""

    def log_tails(self, lines: int = 20) -> str:
        """The last lines of every daemon log, for error messages."""
        tails = []
        for log_file in sorted(self.log_dir.glob("*.log")):
            tails.append(f"--- {log_file.name}\n" + "\n".join(log_file.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(tails)

    def stop(self) -> None:
        """Cancel this cluster's jobs, then end the daemons started here (newest first)."""
        if "slurmctld" in self.processes and self.processes["slurmctld"].poll() is None:
            self.command("scancel", f"--user={getpass.getuser()}", check=False)
        for name in reversed(list(self.processes)):
            process = self.processes[name]
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


def write_cluster_files(root: Path, node_name: str, gpus: int) -> dict[str, object]:
    """Create the directory tree, munge key, slurm.conf and gres.conf under `root`;
    return the values the templates were filled with."""
    if gpus > len(STAND_IN_GPU_DEVICES):
        raise ValueError(f"at most {len(STAND_IN_GPU_DEVICES)} stand-in GPUs, asked for {gpus}")
    for sub_dir in ("bin", "etc", "log", "state", "spool", "run", "munge-run"):
        (root / sub_dir).mkdir(parents=True, exist_ok=True)
    key_dir = root / "munge-key"
    key_dir.mkdir(mode=0o700, exist_ok=True)
    # munged insists that every directory on its socket's path is searchable by all users.
    for searchable in (root, root / "munge-run"):
        searchable.chmod(0o755)
    subprocess.run([binary_path("mungekey"), "--create", "--force", f"--keyfile={key_dir / 'munge.key'}"], check=True)
    values = {
        "node_name": node_name,
        "node_addr": "127.0.0.1",
        "slurmctld_port": free_tcp_port(),
        "slurmd_port": free_tcp_port(),
        "slurm_user": getpass.getuser(),
        "munge_socket": root / "munge-run" / "munge.socket",
        "state_dir": root / "state",
        "spool_dir": root / "spool",
        "run_dir": root / "run",
        "log_dir": root / "log",
        "gpus": gpus,
        "node_feature": NODE_FEATURE,
        "gpu_device_files": ",".join(STAND_IN_GPU_DEVICES[:gpus]),
        **node_hardware(),
    }
    (root / "etc" / "slurm.conf").write_text(render_template("slurm.conf.template", values))
    (root / "etc" / "gres.conf").write_text(render_template("gres.conf.template", values))
    srun_with_conf = root / "bin" / "srun"
    srun_with_conf.write_text(render_template("srun.template", {"slurm_conf": root / "etc" / "slurm.conf", "srun": binary_path("srun")}))
    srun_with_conf.chmod(0o755)
    return values


def start_daemon(cluster: SlurmCluster, name: str, args: list[str]) -> None:
    """Start one daemon in the foreground as a child process, its output in log/<name>.out."""
    with open(cluster.log_dir / f"{name}.out", "wb") as output:
        cluster.processes[name] = subprocess.Popen(
            [binary_path(name), *args], stdout=output, stderr=subprocess.STDOUT, env=cluster.environment
        )


def wait_until(condition, timeout_s: float, what: str, cluster: SlurmCluster) -> None:
    """Poll `condition()` every 0.5 s; raise RuntimeError naming `what` (with the daemon logs) on timeout."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        exited = [name for name, process in cluster.processes.items() if process.poll() is not None]
        if exited or time.monotonic() > deadline:
            reason = f"exited: {', '.join(exited)}" if exited else f"not within {timeout_s:.0f} s"
            raise RuntimeError(f"SLURM test cluster: {what} ({reason})\n{cluster.log_tails()}")
        time.sleep(0.5)


def start_slurm_cluster(root: Path, gpus: int = 2, timeout_s: float = 60.0) -> SlurmCluster:
    """Write the configuration under `root`, start munged, slurmctld and slurmd, and return once
    the node is idle. On failure the daemons already started are stopped and the error names
    the step and shows the daemon logs."""
    node_name = socket.gethostname().split(".")[0]
    cluster = SlurmCluster(root=root, node_name=node_name, gpus=gpus)
    values = write_cluster_files(root, node_name, gpus)
    try:
        start_daemon(cluster, "munged", [
            "--foreground",
            f"--key-file={root / 'munge-key' / 'munge.key'}",
            f"--seed-file={root / 'munge-key' / 'munge.seed'}",
            f"--socket={values['munge_socket']}",
            f"--pid-file={root / 'munge-run' / 'munged.pid'}",
            f"--log-file={cluster.log_dir / 'munged.log'}",
        ])
        wait_until(lambda: Path(values["munge_socket"]).exists(), timeout_s, "munged did not open its socket", cluster)
        start_daemon(cluster, "slurmctld", ["-D", "-i"])
        wait_until(lambda: cluster.node_state() != "", timeout_s, "slurmctld did not answer", cluster)
        start_daemon(cluster, "slurmd", ["-D", "-N", node_name])
        wait_until(lambda: cluster.node_state() == "idle", timeout_s, "the node did not become idle", cluster)
    except BaseException:
        cluster.stop()
        raise
    return cluster
