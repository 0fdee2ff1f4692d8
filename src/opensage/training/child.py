"""What runs inside a job's own process: redirect output, set the contract, run the code.

The process is forked from a warm fork server that has already imported the heavy
libraries, so the user's code starts in milliseconds, not seconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import runpy
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

_PR_SET_PDEATHSIG = 1


def run_job(spec: dict[str, Any]) -> None:
    """Entry point of a job process; exits 0 on success, 1 on failure."""
    os.setpgrp()  # its own process group, so stop reaches the job's children too
    die_with_parent()
    log = os.open(spec["log_file"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 - lives as long as the process
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    signal.signal(signal.SIGTERM, _terminated)
    os.environ.update(spec["environment"])
    os.chdir(spec["cwd"])
    failure_file = Path(spec["failure_file"])
    try:
        if spec.get("algorithm"):
            _run_builtin(spec)
        else:
            _run_script(spec)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            _fail(failure_file, f"the script exited with status {exc.code}")
            os._exit(exc.code if isinstance(exc.code, int) else 1)
    except BaseException as exc:  # report every failure as the job's reason
        traceback.print_exc()
        _fail(failure_file, f"{type(exc).__name__}: {exc}")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _run_builtin(spec: dict[str, Any]) -> None:
    from opensage.algorithms import get_algorithm
    from opensage.algorithms.base import TrainingContext

    algorithm = get_algorithm(spec["algorithm"])
    params = algorithm.parse_hyperparameters(spec["hyperparameters"])
    context = TrainingContext(
        hyperparameters=spec["hyperparameters"],
        channels={name: Path(path) for name, path in spec["channels"].items()},
        model_dir=Path(spec["model_dir"]),
        output_data_dir=Path(spec["output_data_dir"]),
        checkpoint_dir=Path(spec["checkpoint_dir"]),
        num_cpus=int(spec["num_cpus"]),
        input_data_config=spec["input_data_config"],
    )
    algorithm.train(params, context)


def _run_script(spec: dict[str, Any]) -> None:
    from opensage.training.launcher import preloaded_pools

    # The script's numeric libraries get the job's CPU count: the fork server runs BLAS
    # on one thread (for the workers), and the environment's OMP_NUM_THREADS and the like
    # come too late for the libraries it preloaded. (A built-in sizes its own.)
    preloaded_pools().set(int(spec["num_cpus"]))
    script = spec["entry_point"]
    sys.argv = [script, *spec["user_args"]]
    for extra in reversed(spec.get("extra_paths", [])):
        sys.path.insert(0, extra)  # the job's requirements, before the platform's packages
    sys.path.insert(0, spec["cwd"])
    runpy.run_path(script, run_name="__main__")


def _fail(failure_file: Path, reason: str) -> None:
    """Write the reason unless the user's code already wrote its own (SageMaker's rule)."""
    if not failure_file.exists() or not failure_file.read_text().strip():
        failure_file.parent.mkdir(parents=True, exist_ok=True)
        failure_file.write_text(reason)


def _terminated(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def die_with_parent() -> None:
    """Ask Linux to kill this process if the fork server (and so the platform) dies.

    The fork server exits when the platform's end of its "alive" pipe closes; a child
    inherits a copy of that end, which would keep the fork server (and so this process)
    alive after the platform died, so the child drops its copy first.
    """
    from multiprocessing import forkserver

    alive_fd = getattr(getattr(forkserver, "_forkserver", None), "_forkserver_alive_fd", None)
    if isinstance(alive_fd, int):
        with contextlib.suppress(OSError):
            os.close(alive_fd)
        forkserver._forkserver._forkserver_alive_fd = None  # type: ignore[attr-defined]
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the recovery at start cleans up instead
        pass
