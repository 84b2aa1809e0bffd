"""lrfind under torchrun: sharding, the mean loss, one report, and failures that end every rank.

The end-to-end tests start real processes (gloo on the CPU): under
`python -m torch.distributed.run --standalone` (a free port of its own), or
as two bare processes with torchrun's environment, where each exit code and
time can be read.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, IterableDataset, TensorDataset
from typer.testing import CliRunner

from lrfind.cli import app
from lrfind.config.settings import SweepConfig
from lrfind.distributed.cluster import released
from lrfind.distributed.shard import shard_loader, shard_task
from lrfind.errors import UsageError
from lrfind.sweep.loop import run_sweep
from lrfind.sweep.task import Task

from .conftest import ASSETS

RANKS = ASSETS / "ranks.py"
runner = CliRunner()
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def _dataset(n: int = 10) -> TensorDataset:
    return TensorDataset(torch.arange(float(n)).unsqueeze(1), torch.zeros(n, 1))


def _indices(loader: object) -> list[int]:
    return [int(v) for x, _ in loader for v in x.flatten()]  # type: ignore[attr-defined]


# Sharding --------------------------------------------------------------


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_plain_loader_is_split_between_the_ranks(shuffle: bool) -> None:
    loader = DataLoader(_dataset(), batch_size=2, shuffle=shuffle)
    parts = [shard_loader(loader, rank, 2, seed=0) for rank in (0, 1)]
    seen = [_indices(p) for p in parts]
    assert sorted(seen[0] + seen[1]) == list(range(10))
    assert all(len(s) == 5 for s in seen)
    assert parts[0].batch_size == 2  # type: ignore[union-attr]
    if not shuffle:
        assert seen == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]


def test_a_shuffled_split_reshuffles_on_every_pass() -> None:
    loader = DataLoader(_dataset(40), batch_size=4, shuffle=True)
    parts = [shard_loader(loader, rank, 2, seed=0) for rank in (0, 1)]
    first, second = ([_indices(p) for p in parts] for _ in range(2))
    assert sorted(first[0] + first[1]) == sorted(second[0] + second[1]) == list(range(40))
    assert first != second


def test_a_loader_split_by_build_keeps_its_split_and_others_cannot_be_split() -> None:
    data = _dataset()
    own = DataLoader(data, batch_size=2, sampler=DistributedSampler(data, 2, 1, shuffle=False))
    kept = shard_loader(own, 0, 4, seed=0)  # build's num_replicas and rank, not lrfind's
    assert _indices(kept) == _indices(own) == [1, 3, 5, 7, 9]

    class Mine(DistributedSampler):  # a subclass: its own rules, used as it is
        pass

    theirs = DataLoader(data, batch_size=2, sampler=Mine(data, 2, 0))
    assert shard_loader(theirs, 0, 2, seed=0) is theirs

    class Stream(IterableDataset):
        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter([(torch.zeros(1), torch.zeros(1))])

    for loader in ([(torch.zeros(1), torch.zeros(1))], DataLoader(Stream(), batch_size=None)):
        assert shard_loader(loader, 0, 2, seed=0) is None


@pytest.mark.parametrize("own", [False, True])
def test_each_seed_draws_its_own_split_order(own: bool) -> None:
    """--repeats: every seed its own data order, the same on every rank (a split made once
    with config.seed gave every repeat the same batches). As seeded() seeds each sweep."""
    from lrfind.sweep.guards import seeded

    data = _dataset(40)

    def built(rank: int) -> DataLoader:  # each rank's build(): its own sampler, or none
        sampler = DistributedSampler(data, 2, rank) if own else None
        return DataLoader(data, batch_size=4, shuffle=not own, sampler=sampler)

    parts = [shard_loader(built(rank), rank, 2, seed=0) for rank in (0, 1)]

    def order(seed: int) -> list[list[int]]:
        with seeded(seed, torch.device("cpu"), parts):
            return [_indices(part) for part in parts]

    first, again, other = order(0), order(0), order(1)
    assert first == again  # a seed is reproducible
    assert sorted(first[0] + first[1]) == list(range(40))  # the ranks split it between them
    assert sorted(other[0] + other[1]) == list(range(40))
    assert first != other


def test_shard_task_warns_when_every_rank_sees_the_same_batches() -> None:
    batches = [(torch.zeros(2, 4), torch.zeros(2, 1))]
    task = Task(torch.nn.Linear(4, 1), batches, torch.nn.MSELoss())
    same, notes = shard_task(task, 0, 2, seed=0)
    assert same.train_loader is batches
    assert len(notes) == 1 and "every rank sees the same batches" in notes[0]
    assert "DistributedSampler" in notes[0]
    assert shard_task(task, 0, 1, seed=0) == (task, ())  # one rank: nothing to split


def test_too_few_val_batches_counts_one_ranks_share() -> None:
    from lrfind.distributed.shard import per_rank
    from lrfind.errors import SpecError
    from lrfind.sweep.loaders import fixed_batches

    val = DataLoader(_dataset(16), batch_size=2)  # 8 batches; 4 on each of 2 ranks
    with pytest.raises(SpecError) as caught:
        fixed_batches(shard_loader(val, 0, 2, seed=0), 6)
    per_rank(caught.value, val, 2)
    assert str(caught.value) == (
        "val_loader has only 4 batches on each rank (lrfind split its 8 batches over the 2 "
        "ranks, and --val-batches counts one rank's), fewer than --val-batches 6: lower "
        "--val-batches to 4 or less"
    )


def test_the_effective_batch_counts_every_rank_only_when_split() -> None:
    from lrfind.distributed.cluster import batch_sizes

    loader = DataLoader(_dataset(), batch_size=5)
    assert batch_sizes(loader, 4, 2, sharded=True)["effective_batch_size"] == 40
    assert batch_sizes(loader, 4, 2, sharded=False)["effective_batch_size"] == 10
    assert batch_sizes([1, 2], 4, 1, sharded=False)["effective_batch_size"] is None


# The mean loss: what the stop rule reads --------------------------------


def _tiny_task() -> Task:
    from tiny import build

    return Task(*build())


@pytest.mark.parametrize("sync_every", [1, 10])
def test_the_recorded_loss_is_what_reduce_returns(sync_every: int) -> None:
    """Under DDP `reduce` is the all-reduce mean; here it doubles, and the history shows it."""
    config = SweepConfig(steps=25, end_lr=1.0, device="cpu")
    cpu = torch.device("cpu")
    torch.manual_seed(0)
    plain = run_sweep(_tiny_task(), config, cpu, sync_every=sync_every)
    calls: list[int] = []

    def double(values: torch.Tensor) -> torch.Tensor:
        calls.append(len(values))
        return values * 2

    torch.manual_seed(0)
    doubled = run_sweep(_tiny_task(), config, cpu, sync_every=sync_every, reduce=double)
    # One reduce per read: every step on the CPU path, once per chunk on an accelerator's.
    assert sum(calls) >= doubled.steps_run
    assert len(calls) == -(-sum(calls) // sync_every)
    n = min(plain.steps_run, doubled.steps_run)
    assert doubled.losses[:n] == pytest.approx([2 * v for v in plain.losses[:n]])


# Settings --------------------------------------------------------------


def test_distributed_without_torchrun_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in TORCHRUN_ENV:
        monkeypatch.delenv(name, raising=False)
    result = runner.invoke(
        app, ["run", f"{RANKS}:build", "--distributed", "--out-dir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT not set" in result.output
    assert "torchrun --nproc_per_node=N -m lrfind run" in result.output


def test_no_distributed_under_a_torchrun_job_is_refused() -> None:
    from lrfind.config.torchrun import torchrun_env

    env = {
        "RANK": "1",
        "WORLD_SIZE": "2",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "h",
        "MASTER_PORT": "1",
    }
    job = torchrun_env(env)
    with pytest.raises(UsageError, match=r"--no-distributed under torchrun \(2 processes\)"):
        job.distributed(False)
    assert job.distributed(None) is job.distributed(True) is True
    one = torchrun_env({**env, "RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"})
    assert one.distributed(False) is False  # one process: a plain sweep is what it asks for
    assert torchrun_env({}).distributed(None) is False
    with pytest.raises(UsageError, match="--distributed, but RANK, WORLD_SIZE"):
        torchrun_env({}).distributed(True)


def test_dist_timeout_must_be_positive(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", f"{RANKS}:build", "--dist-timeout", "0"])
    assert result.exit_code == 2
    assert "--dist-timeout 0.0: must be a number of seconds > 0" in result.output


def test_only_rank_0_prints_errors_that_every_rank_meets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Rank 1 of a torchrun job (all of torchrun's variables; a RANK alone is no job: it speaks).
    env = {"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1", "MASTER_ADDR": "127.0.0.1"}
    for name, value in {**env, "MASTER_PORT": "29500"}.items():
        monkeypatch.setenv(name, value)
    result = runner.invoke(app, ["run", f"{ASSETS}/nowhere.py:build", "--out-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output == ""


@pytest.mark.parametrize("name", ["cuda:1", "mps"])
def test_a_rank_takes_its_local_device(name: str) -> None:
    from lrfind.distributed.cluster import rank_device

    assert rank_device("cpu", 3) == torch.device("cpu")
    if not torch.cuda.is_available():
        assert rank_device("auto", 1) == torch.device("cpu")
    with pytest.raises(UsageError, match="each rank takes cuda:LOCAL_RANK"):
        rank_device(name, 0)


def _one_rank_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, device: str, *extra: str, spec: str = "build"
) -> dict:
    """A torchrun job of one rank, in this process; its report."""
    env = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
    for name, value in {**env, "MASTER_PORT": str(_free_port())}.items():
        monkeypatch.setenv(name, value)
    args = ["run", f"{RANKS}:{spec}", "--device", device, "--steps", "20", "--end-lr", "0.01"]
    result = runner.invoke(app, [*args, *extra, "--no-plot", "--out-dir", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert not torch.distributed.is_initialized()  # the group is destroyed on the way out
    return json.loads(result.stdout)


def test_one_rank_job_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """DDP, the mean loss and the report's block, on the CPU (gloo)."""
    report = _one_rank_job(tmp_path, monkeypatch, "cpu")
    assert report["distributed"] == {
        "world_size": 1,
        "backend": "gloo",
        "timeout_s": 600.0,
        "sharded": True,
        "per_rank_batch_size": 16,
        "accumulate": 1,
        "effective_batch_size": 16,
    }
    assert report["steps_run"] == 20


def test_a_rank_sweeps_as_find_lr_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--repeats and the sanity prior take the same path under torchrun as without it."""
    report = _one_rank_job(tmp_path, monkeypatch, "cpu", "--repeats", "2")
    assert report["repeats"]["count"] == 2 and report["repeats"]["seeds"] == [0, 1]
    assert report["distributed"]["world_size"] == 1


def test_a_parameter_no_forward_uses_is_found_and_the_sweep_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DDP without find_unused_parameters fails at step 2 on it (a fix lrfind's user cannot
    make: lrfind wraps the copy): the first forward finds it, and the sweep wraps for it."""
    report = _one_rank_job(tmp_path, monkeypatch, "cpu", spec="with_head")
    assert report["steps_run"] == 20
    said = [w for w in report["warnings"] if "find_unused_parameters=True" in w]
    assert said == [
        "parameters that took no part in the forward pass (head.weight, head.bias): lrfind "
        "wrapped its DDP copy with find_unused_parameters=True, as your DDP training needs too "
        "(or freeze them: requires_grad=False)"
    ]


def test_under_debug_a_failing_rank_shows_its_own_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Rank 0 prints the message; rank 1's traceback is only on rank 1 (--debug)."""
    from lrfind.distributed.faults import Faults, RankError
    from lrfind.errors import SweepError

    faults = Faults(1, 2, 5.0, lambda: None)  # no store: rank 1 alone
    faults.debug = True
    try:
        try:
            raise ValueError("boom in the loss")
        except ValueError as e:
            raise SweepError("step 3/9 failed: boom") from e
    except SweepError as e:
        raised = faults.failed(e)
    assert isinstance(raised, RankError)
    err = capsys.readouterr().err
    assert err.startswith("rank 1, Traceback (most recent call last):")
    assert "ValueError: boom in the loss" in err and "SweepError: step 3/9 failed" in err


@pytest.mark.gpu
def test_one_rank_job_on_cuda(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """NCCL, cuda:LOCAL_RANK, losses read (and all-reduced) in chunks."""
    report = _one_rank_job(tmp_path, monkeypatch, "cuda")
    assert report["distributed"]["backend"] == "nccl"
    assert report["environment"]["device"].startswith("cuda:0")
    assert report["steps_run"] + report["overshoot_steps"] <= 20


# Real processes --------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    return {**env, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ASSETS)}


def _torchrun(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    start = time.monotonic()
    done = subprocess.run(
        [*cmd, "-m", "lrfind", "run", *args],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    return done, time.monotonic() - start


def _bare(
    args: list[str], cwd: Path, python: tuple[str, ...] = ("-m", "lrfind")
) -> list[tuple[int, str, float]]:
    """Two ranks as plain processes (rank 0 hosts the store): (exit code, stderr, seconds) each."""
    port, start = str(_free_port()), time.monotonic()
    procs = []
    for rank in (0, 1):
        env = {**_env(), "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": "2"}
        env.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
        procs.append(
            subprocess.Popen(
                [sys.executable, *python, "run", *args],
                cwd=cwd,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    out = []
    for p in procs:
        _, err = p.communicate(timeout=180)
        out.append((p.returncode, err, time.monotonic() - start))
    return out


@pytest.mark.slow
def test_torchrun_two_ranks_one_report_same_stop(tmp_path: Path) -> None:
    args = [f"{RANKS}:build", "--arg", "digits=true", "--arg", f"log_dir='{tmp_path}'"]
    args += ["--device", "cpu", "--steps", "60", "--out-dir", "out"]
    done, _ = _torchrun(args, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["lr_finder.png", "report.json"]
    assert done.stdout.count("Suggested learning rate:") == 1  # rank 0 only
    assert done.stderr.count("Wrote ") == 1
    assert "2 ranks (gloo); effective batch 128 = 64 per rank x 2 ranks x 1" in done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["suggested_lr"] is not None
    assert report["distributed"]["world_size"] == 2
    assert report["distributed"]["effective_batch_size"] == 128
    # Each rank counted its own loss calls: both stopped at the step the report gives.
    steps = [int((tmp_path / f"rank-{r}.txt").read_text()) for r in (0, 1)]
    assert steps == [report["steps_run"]] * 2


@pytest.mark.slow
def test_torchrun_a_parameter_one_rank_uses_and_repeats_of_their_own(tmp_path: Path) -> None:
    """A layer used on rank 1 only (gloo aborted: the ranks' DDP buckets differed), and
    --repeats whose sweeps see their own seed's batches (they were the same sweep)."""
    args = [f"{RANKS}:with_head", "--arg", "used_on=1", "--repeats", "2", "--steps", "30"]
    done, _ = _torchrun([*args, "--device", "cpu", "--no-plot", "--out-dir", "out"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "took no part in the forward pass on some ranks only (head.weight" in done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    runs = report["repeats"]["runs"]
    assert [r["seed"] for r in runs] == [0, 1]
    assert runs[0]["history"]["loss"] != runs[1]["history"]["loss"]


# Rank 0 takes 4 s to write its files: longer than --dist-timeout.
SLOW_WRITE = (
    "import time, lrfind.pipeline as p; w = p._write\n"
    "p._write = lambda *a, **k: (time.sleep(4), w(*a, **k))[1]\n"
    "from lrfind.cli.app import main; main()"
)


@pytest.mark.slow
def test_rank_0_may_write_for_longer_than_the_collective_timeout(tmp_path: Path) -> None:
    args = [f"{RANKS}:build", "--device", "cpu", "--steps", "20", "--dist-timeout", "2"]
    ranks = _bare([*args, "--no-plot", "--out-dir", "out"], tmp_path, ("-c", SLOW_WRITE))
    assert [code for code, _, _ in ranks] == [0, 0], ranks
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["distributed"]["world_size"] == 2 and "error" not in report


@pytest.mark.slow
def test_torchrun_one_rank_raises_all_stop_with_its_message(tmp_path: Path) -> None:
    args = [f"{RANKS}:build", "--arg", "fail_rank=1", "--arg", "fail_step=5"]
    args += ["--arg", f"log_dir='{tmp_path}'", "--device", "cpu", "--steps", "40"]
    done, seconds = _torchrun([*args, "--out-dir", "out"], tmp_path)
    stopped = time.time() - float((tmp_path / "fault-time.txt").read_text())
    print(
        f"torchrun: exit {done.returncode} after {seconds:.1f} s, {stopped:.1f} s after the fault"
    )
    assert done.returncode != 0
    assert seconds < 60
    message = "Error: rank 1: step 5/40 (lr 6.61e-07) failed: RuntimeError: bad batch on rank 1"
    assert done.stderr.count(message) == 1, done.stderr


@pytest.mark.slow
def test_rank_0_raises_both_processes_exit_nonzero(tmp_path: Path) -> None:
    args = [f"{RANKS}:build", "--arg", "fail_rank=0", "--arg", "fail_step=3"]
    ranks = _bare([*args, "--device", "cpu", "--steps", "40", "--out-dir", "out"], tmp_path)
    print("bare ranks:", [(code, f"{s:.1f} s") for code, _, s in ranks])
    assert [code for code, _, _ in ranks] == [1, 1]
    assert all(seconds < 60 for _, _, seconds in ranks)
    assert "Error: rank 0: step 3/40" in ranks[0][1]
    assert "bad batch on rank 0" in ranks[0][1]
    # --out-dir is made absolute once at start (a build that changes the cwd loses nothing)
    assert f"the partial report is in {tmp_path / 'out' / 'report.json'}" in ranks[0][1]
    assert ranks[1][1] == ""  # rank 0 spoke for the job


@pytest.mark.slow
def test_build_fails_on_one_rank(tmp_path: Path) -> None:
    ranks = _bare([f"{RANKS}:build_fails", "--device", "cpu", "--out-dir", "out"], tmp_path)
    assert [code for code, _, _ in ranks] == [2, 2]  # the failing rank's exit code, everywhere
    assert "Error: rank 1: build_fails() in" in ranks[0][1]
    assert "FileNotFoundError: no dataset on rank 1" in ranks[0][1]
    assert ranks[1][1] == ""


@pytest.mark.slow
def test_a_hung_rank_ends_at_the_collective_timeout(tmp_path: Path) -> None:
    args = [f"{RANKS}:build", "--arg", "fail_rank=1", "--arg", "fail_step=3", "--arg", "hang=true"]
    ranks = _bare([*args, "--device", "cpu", "--dist-timeout", "3", "--out-dir", "out"], tmp_path)
    assert [code for code, _, _ in ranks] == [1, 1]
    assert all(seconds < 60 for _, _, seconds in ranks)
    assert "Error: rank 0: step 3/100" in ranks[0][1]
    assert "no answer from the other ranks within --dist-timeout 3 s" in ranks[0][1]


def test_a_model_wrapped_already_is_refused() -> None:
    from lrfind.distributed.shard import check_unwrapped
    from lrfind.errors import SpecError

    class FSDPLinear(torch.nn.Linear):  # the class name FSDP2's fully_shard gives a Linear
        pass

    with pytest.raises(SpecError, match="return the plain module"):
        check_unwrapped(FSDPLinear(1, 1))
    check_unwrapped(torch.nn.Linear(1, 1))


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA devices")
def test_torchrun_two_gpus(tmp_path: Path) -> None:
    args = [f"{RANKS}:build", "--arg", "digits=true", "--arg", f"log_dir='{tmp_path}'"]
    done, _ = _torchrun([*args, "--device", "cuda", "--steps", "60", "--out-dir", "out"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["distributed"]["backend"] == "nccl"
    assert report["suggested_lr"] is not None
    # On a GPU, losses are read every 10 steps: both ranks ran the same steps, overshoot included.
    steps = [int((tmp_path / f"rank-{r}.txt").read_text()) for r in (0, 1)]
    assert steps == [report["steps_run"] + report["overshoot_steps"]] * 2


@pytest.mark.skipif(not hasattr(torch.Tensor, "_use_count"), reason="torch without _use_count")
def test_released_waits_for_cpp_holders() -> None:
    """The last collective's tensor: released() returns once C++ lets go of it, from
    another thread (gloo's worker), and gives up after its timeout."""
    tensor = torch.zeros(1)
    weight = torch.ones(1, requires_grad=True)
    graph = [weight * tensor]  # autograd saves `tensor` in C++
    assert tensor._use_count() == 2
    assert released(tensor, timeout_s=0.05) is False
    threading.Timer(0.2, graph.clear).start()
    start = time.monotonic()
    assert released(tensor, timeout_s=5.0) is True
    assert 0.15 < time.monotonic() - start < 4.0
    assert released(torch.zeros(1)) is True
