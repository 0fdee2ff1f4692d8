"""A job's workspace, laid out as SageMaker's training containers expect, and its SM_* env.

<root>/input/data/<channel>/        the channel's files
<root>/input/config/hyperparameters.json, resourceconfig.json, inputdataconfig.json
<root>/model/                       what the job saves (uploaded as the model artifact)
<root>/output/  output/data/        output/failure is read as the failure reason
<root>/checkpoints/                 kept across retries of the job
<root>/code/                        the user's source directory (script mode)
<root>/job.log                      stdout and stderr of the job
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HOST = "algo-1"


@dataclass(frozen=True)
class Workspace:
    """Paths of one job's workspace."""

    root: Path

    @property
    def data_dir(self) -> Path:
        return self.root / "input" / "data"

    @property
    def config_dir(self) -> Path:
        return self.root / "input" / "config"

    @property
    def model_dir(self) -> Path:
        return self.root / "model"

    @property
    def output_dir(self) -> Path:
        return self.root / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    @property
    def checkpoint_dir(self) -> Path:
        return self.root / "checkpoints"

    @property
    def code_dir(self) -> Path:
        return self.root / "code"

    @property
    def log_file(self) -> Path:
        return self.root / "job.log"

    def channel_dir(self, channel: str) -> Path:
        return self.data_dir / channel

    def reset(self) -> None:
        """Start a fresh attempt: everything goes but the checkpoints."""
        for path in (self.root / "input", self.model_dir, self.output_dir, self.code_dir):
            shutil.rmtree(path, ignore_errors=True)
        self.log_file.unlink(missing_ok=True)
        for path in (
            self.data_dir,
            self.config_dir,
            self.model_dir,
            self.output_data_dir,
            self.checkpoint_dir,
            self.code_dir,
        ):
            path.mkdir(parents=True, exist_ok=True)

    def write_config(
        self,
        hyperparameters: dict[str, str],
        input_data_config: dict[str, dict[str, Any]],
    ) -> None:
        """Write the three files SageMaker puts in ``input/config/``."""
        files = {
            "hyperparameters.json": hyperparameters,
            "resourceconfig.json": {
                "current_host": HOST,
                "hosts": [HOST],
                "network_interface_name": "eth0",
            },
            "inputdataconfig.json": input_data_config,
        }
        for name, content in files.items():
            (self.config_dir / name).write_text(json.dumps(content, indent=2))


def sm_environment(
    workspace: Workspace,
    *,
    job_name: str,
    hyperparameters: dict[str, str],
    input_data_config: dict[str, dict[str, Any]],
    num_cpus: int,
    entry_point: str | None,
) -> dict[str, str]:
    """The ``SM_*`` variables a SageMaker training script reads, plus thread limits."""
    channels = sorted(input_data_config)
    resource = {"current_host": HOST, "hosts": [HOST], "network_interface_name": "eth0"}
    user_args: list[str] = []
    for key, value in hyperparameters.items():
        user_args += [f"--{key}", value]
    env = {
        "SM_MODEL_DIR": str(workspace.model_dir),
        "SM_INPUT_DIR": str(workspace.root / "input"),
        "SM_INPUT_CONFIG_DIR": str(workspace.config_dir),
        "SM_OUTPUT_DIR": str(workspace.output_dir),
        "SM_OUTPUT_DATA_DIR": str(workspace.output_data_dir),
        "SM_OUTPUT_INTERMEDIATE_DIR": str(workspace.output_dir / "intermediate"),
        "SM_CHECKPOINT_DIR": str(workspace.checkpoint_dir),
        "SM_CHANNELS": json.dumps(channels),
        "SM_HPS": json.dumps(hyperparameters),
        "SM_USER_ARGS": json.dumps(user_args),
        "SM_INPUT_DATA_CONFIG": json.dumps(input_data_config),
        "SM_RESOURCE_CONFIG": json.dumps(resource),
        "SM_HOSTS": json.dumps([HOST]),
        "SM_CURRENT_HOST": HOST,
        "SM_NETWORK_INTERFACE_NAME": "eth0",
        "SM_NUM_CPUS": str(num_cpus),
        "SM_NUM_GPUS": "0",
        "SM_LOG_LEVEL": "20",
        "SM_MODULE_DIR": str(workspace.code_dir),
        "SM_TRAINING_JOB_NAME": job_name,
        "TRAINING_JOB_NAME": job_name,
        # Keep numeric libraries to the job's CPU slots, so parallel jobs don't fight.
        "OMP_NUM_THREADS": str(num_cpus),
        "OPENBLAS_NUM_THREADS": str(num_cpus),
        "MKL_NUM_THREADS": str(num_cpus),
        "PYTHONUNBUFFERED": "1",
    }
    if entry_point:
        env["SM_USER_ENTRY_POINT"] = entry_point
    for channel in channels:
        env[f"SM_CHANNEL_{channel.upper()}"] = str(workspace.channel_dir(channel))
    for key, value in hyperparameters.items():
        env[f"SM_HP_{key.upper()}"] = value
    env["SM_TRAINING_ENV"] = json.dumps(
        {
            "job_name": job_name,
            "hyperparameters": hyperparameters,
            "channel_input_dirs": {c: str(workspace.channel_dir(c)) for c in channels},
            "model_dir": str(workspace.model_dir),
            "output_data_dir": str(workspace.output_data_dir),
            "num_cpus": num_cpus,
            "num_gpus": 0,
            "hosts": [HOST],
            "current_host": HOST,
            "user_entry_point": entry_point,
        }
    )
    return env
