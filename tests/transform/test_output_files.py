"""A file output assembled as its parts are done: in order, per input file, all or none."""

from __future__ import annotations

from pathlib import Path

import pytest

from opensage.errors import Conflict, OpenSageError
from opensage.storage import ArtifactStore
from opensage.transform.parts import Part
from opensage.transform.runner import OutputFiles
from opensage.transform.worker import JobFolder


def _parts(sources: list[str]) -> list[Part]:
    return [
        Part(index, f"/in/{source}", source, "csv", 0, 1, 0, 1)
        for index, source in enumerate(sources)
    ]


def _done(folder: JobFolder, index: int) -> None:
    folder.output(index, "csv").write_text(f"{index}\n")


@pytest.fixture
def folder(tmp_path: Path) -> JobFolder:
    folder = JobFolder(tmp_path / "job")
    folder.create()
    return folder


def test_parts_are_appended_in_order_as_they_are_done(folder: JobFolder, tmp_path: Path) -> None:
    files = OutputFiles(folder, _parts(["a.csv", "a.csv", "a.csv", "b.csv", "b.csv"]), "csv")
    _done(folder, 1)  # done before part 0: it has to wait
    files.append_done()
    assert [p.read_text() for p in folder.assembled.iterdir()] == []
    _done(folder, 0)
    _done(folder, 3)
    files.append_done()
    assert [p.read_text() for p in sorted(folder.assembled.iterdir())] == ["0\n1\n"]
    for index in (2, 4):
        _done(folder, index)
    store = ArtifactStore(str(tmp_path / "artifacts"))

    assert files.store(store, "out") == 2

    assert store.read_bytes("out/a.csv.out") == b"0\n1\n2\n"
    assert store.read_bytes("out/b.csv.out") == b"3\n4\n"
    assert list(folder.assembled.iterdir()) == []  # moved, not copied


def test_nothing_is_stored_while_a_part_has_no_output(folder: JobFolder, tmp_path: Path) -> None:
    files = OutputFiles(folder, _parts(["a.csv", "a.csv"]), "csv")
    _done(folder, 0)
    store = ArtifactStore(str(tmp_path / "artifacts"))
    with pytest.raises(OpenSageError, match="part 1 has no output"):
        files.store(store, "out")
    assert store.list("out") == []


def test_a_file_that_cannot_be_stored_takes_the_others_back(
    folder: JobFolder, tmp_path: Path
) -> None:
    files = OutputFiles(folder, _parts(["a.csv", "b.csv"]), "csv")
    _done(folder, 0)
    _done(folder, 1)
    store = ArtifactStore(str(tmp_path / "artifacts"))
    store.put_bytes(b"someone else's", "out/b.csv.out")
    with pytest.raises(Conflict):
        files.store(store, "out")
    assert store.list("out") == ["out/b.csv.out"]
    assert store.read_bytes("out/b.csv.out") == b"someone else's"
