"""SDK resources for batch transform: ``client.transform_jobs`` and ``TransformJob`` objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from opensage.client.http import HTTPSession, list_filtered
from opensage.client.resource import Resource
from opensage.errors import InvalidInput
from opensage.transform.schemas import OutputFile, TransformJobOut, TransformProgress
from opensage.transform.states import ACTIVE, TransformJobStatus


class TransformJob(Resource[TransformJobOut]):
    """A batch transform job on the server."""

    info_type = TransformJobOut

    @property
    def path(self) -> str:
        return f"/api/v1/transform-jobs/{self.name}"

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def status(self) -> TransformJobStatus:
        return self.info.status

    @property
    def failure_reason(self) -> str | None:
        return self.info.failure_reason

    @property
    def progress(self) -> TransformProgress:
        """Rows predicted so far, and of how many (as of the last refresh)."""
        return self.info.progress

    @property
    def output_dataset(self) -> str | None:
        """The dataset the predictions became (dataset output only)."""
        dataset = self.info.output.get("dataset")
        return str(dataset) if dataset else None

    @property
    def output_url(self) -> str | None:
        """Where the output files are in the artifact store (path output only)."""
        url = self.info.output.get("url")
        return str(url) if url else None

    def __repr__(self) -> str:
        done, total = self.progress.rows_done, self.progress.rows_total
        return (
            f"TransformJob(name={self.name!r}, status={self.status.value}, "
            f"rows={done}/{'?' if total is None else total})"
        )

    def wait(self, timeout: float | None = None, poll_s: float = 0.2) -> TransformJob:
        """Block until the job has ended (or ``timeout`` seconds passed: TimeoutError)."""
        return self._wait_while(
            lambda: self.status in ACTIVE,
            timeout,
            poll_s,
            lambda: f"transform job {self.name} still {self.status.value}",
        )

    def stop(self) -> TransformJob:
        """Ask the job to stop (its workers get SIGTERM, then SIGKILL)."""
        return self._send("POST", "/stop")

    def delete(self) -> None:
        """Delete the (ended) job; an output dataset, or files at your own path, stay."""
        self._session.request("DELETE", self.path)

    def output_files(self) -> list[OutputFile]:
        """The files a completed job wrote under its output path."""
        body = self._session.json("GET", f"{self.path}/output-files")
        return [OutputFile.model_validate(item) for item in body]

    def read_output(self, file: str | None = None) -> bytes:
        """The content of one output file (by default: the only one)."""
        if file is None:
            files = self.output_files()
            if len(files) != 1:
                raise InvalidInput(
                    f"the job wrote {len(files)} files; name one of {[f.name for f in files][:20]}",
                    field="file",
                )
            file = files[0].name
        return b"".join(
            self._session.stream("GET", f"{self.path}/output-files/{quote(file, safe='')}")
        )

    def download(self, target: str | Path) -> list[Path]:
        """Copy every output file into the folder ``target``; returns their paths."""
        folder = Path(target)
        written = []
        for item in self.output_files():
            path = folder / item.name
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("wb") as sink:
                for chunk in self._session.stream(
                    "GET", f"{self.path}/output-files/{quote(item.name, safe='')}"
                ):
                    sink.write(chunk)
            written.append(path)
        return written


class TransformJobs:
    """``client.transform_jobs``: submit and find batch transform jobs."""

    def __init__(self, session: HTTPSession) -> None:
        self._session = session

    def create(
        self,
        name: str,
        *,
        model_group: str,
        model_version: int | None = None,
        dataset: str | None = None,
        version: int | None = None,
        split: str | None = None,
        uri: str | Path | None = None,
        content_type: str = "text/csv",
        batch_size: int | None = None,
        max_parallel: int = 1,
        join_source: str = "none",
        output_dataset: str | None = None,
        output_path: str | None = None,
        accept: str = "text/csv",
        force: bool = False,
        tags: dict[str, str] | None = None,
    ) -> TransformJob:
        """Predict with a registered model over a ``dataset`` (optionally a ``version``
        and ``split``) or the files at ``uri`` (s3:// or a local path; ``content_type``
        text/csv or application/jsonlines); the predictions go to a new dataset
        (``output_dataset``) or to files under ``output_path`` in the artifact store.

        ``model_version`` defaults to the group's newest approved version;
        ``join_source="input"`` keeps the input columns next to the predictions.
        """
        if (dataset is None) == (uri is None):
            raise InvalidInput("give exactly one of dataset or uri", field="input")
        source: dict[str, Any]
        if dataset is not None:
            source = {"dataset": dataset, "version": version, "split": split}
        else:
            text = str(uri)
            if "://" not in text:  # a path on this machine (for a server on it, auth off)
                text = str(Path(text).expanduser().resolve())
            source = {"uri": text, "content_type": content_type}
        output: dict[str, Any] = {"accept": accept}
        if output_dataset is not None:
            output["dataset"] = output_dataset
        if output_path is not None:
            output["path"] = output_path
        body: dict[str, Any] = {
            "name": name,
            "model": {"model_group": model_group, "model_version": model_version},
            "input": source,
            "output": output,
            "max_parallel": max_parallel,
            "join_source": join_source,
            "force": force,
            "tags": tags or {},
        }
        if batch_size is not None:
            body["batch_size"] = batch_size
        info = self._session.json("POST", "/api/v1/transform-jobs", json=body)
        return TransformJob(self._session, TransformJobOut.model_validate(info))

    def get(self, name: str) -> TransformJob:
        """The job called ``name``."""
        body = self._session.json("GET", f"/api/v1/transform-jobs/{name}")
        return TransformJob(self._session, TransformJobOut.model_validate(body))

    def list(
        self,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        limit: int | None = None,
    ) -> list[TransformJob]:
        """Jobs, newest first."""
        return list_filtered(
            self._session,
            "/api/v1/transform-jobs",
            TransformJobOut,
            lambda info: TransformJob(self._session, info),
            status=status,
            name_contains=name_contains,
            limit=limit,
        )
