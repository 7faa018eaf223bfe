"""GPUs on a Ray cluster (issue 16): each track's task asks Ray for a share of a GPU, since
Ray hides every GPU from a task that asks for none. Ray's own multi-node test cluster on
127.0.0.1 (``ray.cluster_utils.Cluster``) with a node that declares one GPU: this machine
has none, so Ray schedules by the declared GPU and torch (a CPU build) cannot use it, the
case of a CPU-only torch on a GPU node, which must fail each track with a reason that says
so. The share and the task's device are pure functions, tested on every case."""

from __future__ import annotations

import os

import pytest

from cluster_helpers import SPECS, _folder, ray_test_cluster
from workstation.analysis.jobs import Job
from workstation.cli.main import main
from workstation.cluster.gpus import gpu_share, task_device, unusable_gpu
from workstation.core.errors import WorkstationError
from workstation.library import Library

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def test_the_share_of_a_gpu_each_task_asks_for():
    gpu_cluster, cpu_cluster = {"CPU": 16.0, "GPU": 1.0}, {"CPU": 8.0}
    assert gpu_share("auto", gpu_cluster) == 0.0625          # every CPU runs a task
    assert gpu_share("cuda", gpu_cluster) == 0.0625
    assert gpu_share("cuda:1", {"CPU": 2.0, "GPU": 4.0}) == 1.0   # at most one GPU a task
    assert gpu_share("auto", {"CPU": 3.0, "GPU": 1.0}) == 0.3333  # Ray's resolution, rounded down
    assert gpu_share("auto", gpu_cluster, 0.25) == 0.25
    assert gpu_share("auto", cpu_cluster) == 0.0 and gpu_share("cpu", gpu_cluster) == 0.0
    for device, resources, share, words in [
            ("cuda", cpu_cluster, None, "without GPUs"),
            ("auto", cpu_cluster, 0.5, "without GPUs"),
            ("cpu", gpu_cluster, 0.5, "--device cpu"),
            ("auto", gpu_cluster, 1.5, "(0, 1]"),
            ("auto", gpu_cluster, 0.0, "(0, 1]")]:
        with pytest.raises(WorkstationError, match=words.replace("(", r"\(").replace("]", r"\]")):
            gpu_share(device, resources, share)


def test_the_device_of_a_task():
    assert task_device("auto", None) == "auto"      # outside Ray: as asked
    assert task_device("cuda:1", []) == "cpu"       # Ray gave no GPU: it hid them all
    assert task_device("cpu", [2]) == "cuda"        # Ray gave one: the only GPU it sees
    why = unusable_gpu("10.0.0.7", [0, 1])
    assert why.startswith("node 10.0.0.7: Ray gave this task GPU 0, 1 but torch 2.")
    assert "sees no CUDA device" in why and why.endswith("run with --device cpu")


def test_gpu_share_needs_a_cluster_and_a_fraction(tmp_path, capsys):
    music = _folder(tmp_path, seconds=2.0, names={"a.wav": (57, 100.0)})
    lib = ["--library", str(tmp_path / "lib")]
    assert main([*lib, "analyze", str(music), "--analyzers", "key", "--gpu-share", "0.5",
                 "--quiet"]) == 2
    assert "--gpu-share" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main([*lib, "analyze", str(music), "--gpu-share", "2"])
    assert exc.value.code == 2 and "(0, 1]" in capsys.readouterr().err


@pytest.fixture(scope="module")
def gpu_node():
    """A head that runs nothing, a node with 2 CPUs and one declared GPU, one with 1 CPU."""
    with ray_test_cluster({"num_cpus": 2, "num_gpus": 1}, {"num_cpus": 1}) as (cluster, _):
        yield cluster


def _jobs(tmp_path):
    music = _folder(tmp_path, seconds=3.0)
    lib = Library.open(tmp_path / "lib")
    lib.scan(music)
    return lib, [Job(t.id, t.path, t.content_hash, tuple(SPECS)) for t in lib.tracks(status="ok")]


def test_tasks_take_a_share_of_the_gpu_and_a_torch_without_cuda_fails_each_track_by_name(
        gpu_node, tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("this machine's torch has CUDA: the declared GPU would be used")
    from workstation.cluster import run_on_cluster
    lib, jobs = _jobs(tmp_path)
    events: list = []
    counts = run_on_cluster(lib, jobs, gpu_node.address, on_event=events.append, device="auto")
    assert counts["gpu_share"] == 0.3333        # 1 GPU, 3 CPUs
    assert counts["failed"] == len(jobs) and counts["crashes"] == 0, counts
    reasons = [e.message for e in events if e.kind == "track_failed"]
    assert len(reasons) == len(jobs)
    assert all("Ray gave this task GPU 0 but torch" in r and "--device cpu" in r for r in reasons), reasons
    rec = lib.get_analysis(jobs[0].content_hash, *SPECS[0].build().result_key)
    assert rec.status == "failed" and "sees no CUDA device" in rec.error


def test_with_device_cpu_the_tasks_take_no_gpu_and_run_everywhere(gpu_node, tmp_path):
    from workstation.cluster import run_on_cluster
    lib, jobs = _jobs(tmp_path)
    events: list = []
    counts = run_on_cluster(lib, jobs, gpu_node.address, on_event=events.append, device="cpu")
    assert counts["gpu_share"] == 0.0 and counts["done"] == len(jobs), counts
    done = [e.data for e in events if e.kind == "track_done"]
    assert {d["device"] for d in done} == {"cpu"} and len(done) == len(jobs)
