"""The artifact store, on a local folder and on a real S3-protocol server (moto)."""

from __future__ import annotations

import gc
import os
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from opensage.errors import Conflict, InvalidInput, NotFound
from opensage.storage import ArtifactStore


@dataclass
class StoreUnderTest:
    """A store plus a way to see what it physically holds, bypassing the store itself."""

    store: ArtifactStore
    physical_keys: Callable[[], list[str]]
    pending_uploads: Callable[[], int]


def _local(tmp_path: Path) -> StoreUnderTest:
    root = tmp_path / "artifacts"
    store = ArtifactStore(str(root))

    def physical_keys() -> list[str]:
        return sorted(
            str(Path(folder, name).relative_to(root))
            for folder, _, names in os.walk(root)
            for name in names
        )

    return StoreUnderTest(store, physical_keys, lambda: 0)


def _s3(endpoint: str) -> StoreUnderTest:
    bucket = f"store-{uuid.uuid4().hex[:16]}"
    s3 = boto3.client("s3", endpoint_url=endpoint)
    s3.create_bucket(Bucket=bucket)
    store = ArtifactStore(f"s3://{bucket}/root", s3_endpoint_url=endpoint)

    def physical_keys() -> list[str]:
        listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
        return sorted(str(item["Key"]).removeprefix("root/") for item in listed)

    def pending_uploads() -> int:
        return len(s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []))

    return StoreUnderTest(store, physical_keys, pending_uploads)


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreUnderTest]:
    """The same store contract on a local folder and on S3."""
    if request.param == "local":
        yield _local(tmp_path)
    else:
        yield _s3(request.getfixturevalue("s3_server"))


@pytest.fixture
def store(backend: StoreUnderTest) -> ArtifactStore:
    return backend.store


def test_put_read_list_and_delete_prefix(backend: StoreUnderTest) -> None:
    store = backend.store
    store.put_bytes(b"one", "datasets/a/v1/data.parquet")
    store.put_bytes(b"two", "datasets/a/v2/data.parquet")
    store.put_bytes(b"three", "datasets/ab/v1/data.parquet")

    assert store.read_bytes("datasets/a/v1/data.parquet") == b"one"
    assert b"".join(store.iter_chunks("datasets/a/v2/data.parquet", chunk_size=1)) == b"two"
    assert store.size("datasets/ab/v1/data.parquet") == 5
    assert store.exists("datasets/a/v1/data.parquet")
    assert store.list("datasets/a") == ["datasets/a/v1/data.parquet", "datasets/a/v2/data.parquet"]
    assert store.list("datasets/missing") == []

    store.delete_prefix("datasets/a")

    # "datasets/ab" shares the string prefix but is another folder: it must survive.
    assert store.list("datasets") == ["datasets/ab/v1/data.parquet"]
    assert backend.physical_keys() == ["datasets/ab/v1/data.parquet"]
    assert not store.exists("datasets/a/v1/data.parquet")
    with pytest.raises(NotFound):
        store.read_bytes("datasets/a/v1/data.parquet")
    with pytest.raises(NotFound):
        store.size("datasets/a/v1/data.parquet")
    store.delete_prefix("datasets/a")  # deleting nothing is not an error


def test_put_file_copies_a_local_file(store: ArtifactStore, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    payload = os.urandom(3 * 1024 * 1024 + 17)
    source.write_bytes(payload)

    assert store.put_file(source, "files/source.bin") == "files/source.bin"

    assert store.read_bytes("files/source.bin") == payload
    assert store.size("files/source.bin") == len(payload)


@pytest.mark.parametrize("link", [False, True])
def test_copy_to_puts_a_key_in_a_local_file(
    backend: StoreUnderTest, tmp_path: Path, link: bool
) -> None:
    store = backend.store
    payload = os.urandom(9 * 1024 * 1024 + 5)  # more than one copy chunk
    store.put_bytes(payload, "datasets/a/v1/data.parquet")
    target = tmp_path / f"copy-{link}.parquet"

    store.copy_to("datasets/a/v1/data.parquet", target, link=link)

    assert target.read_bytes() == payload
    # A local store links only when asked; the link outlives the key's deletion.
    linked = link and store.is_local
    assert (target.stat().st_nlink == 2) is linked
    store.delete_prefix("datasets/a")
    assert target.read_bytes() == payload
    with pytest.raises(NotFound):
        store.copy_to("datasets/a/v1/data.parquet", tmp_path / "gone.parquet", link=link)


def test_move_in_stores_a_local_file_and_removes_it(
    backend: StoreUnderTest, tmp_path: Path
) -> None:
    store = backend.store
    payload = os.urandom(2 * 1024 * 1024 + 3)
    local = tmp_path / "assembled.out"
    local.write_bytes(payload)

    assert store.move_in(local, "outputs/job/data.csv.out") == "outputs/job/data.csv.out"

    assert store.read_bytes("outputs/job/data.csv.out") == payload
    assert not local.exists()
    local.write_bytes(b"another")
    with pytest.raises(Conflict):
        store.move_in(local, "outputs/job/data.csv.out")
    assert store.read_bytes("outputs/job/data.csv.out") == payload


def test_url_names_the_key_under_the_root(backend: StoreUnderTest) -> None:
    url = backend.store.url("datasets/a/v1/data.parquet")

    assert url.endswith("/datasets/a/v1/data.parquet")
    if not backend.store.is_local:
        assert url.startswith("s3://store-") and "/root/" in url


@pytest.mark.parametrize(
    "key",
    ["", "../escape", "a/../../escape", "a/..", "/etc/passwd", "a//b", "a/", "./a", "a/./b"],
)
def test_keys_that_could_escape_the_root_are_rejected(
    backend: StoreUnderTest, key: str, tmp_path: Path
) -> None:
    store = backend.store
    source = tmp_path / "source.bin"
    source.write_bytes(b"x")
    attempts: list[Callable[[], object]] = [
        lambda: store.put_bytes(b"x", key),
        lambda: store.put_file(source, key),
        lambda: store.read_bytes(key),
        lambda: store.exists(key),
        lambda: store.list(key),
        lambda: store.delete_prefix(key),
        lambda: store.url(key),
    ]
    for attempt in attempts:
        with pytest.raises(InvalidInput) as caught:
            attempt()
        assert caught.value.field == "key"
    assert backend.physical_keys() == []


def test_writing_an_existing_key_is_a_conflict(backend: StoreUnderTest) -> None:
    store = backend.store
    store.put_bytes(b"original", "models/m/v1/model.json")

    with pytest.raises(Conflict, match="immutable"):
        store.put_bytes(b"replacement", "models/m/v1/model.json")
    with pytest.raises(Conflict), store.open_write("models/m/v1/model.json") as handle:
        handle.write(b"never")  # pragma: no cover - open_write refuses before yielding

    assert store.read_bytes("models/m/v1/model.json") == b"original"
    assert backend.physical_keys() == ["models/m/v1/model.json"]


def _write_then_fail(store: ArtifactStore, key: str, size: int, handles: list[Any]) -> None:
    with store.open_write(key) as handle:
        handles.append(weakref.ref(handle))
        for _ in range(0, size, 1024 * 1024):
            handle.write(os.urandom(min(size, 1024 * 1024)))
        raise RuntimeError("source broke")


@pytest.mark.parametrize("size", [1024, 12 * 1024 * 1024], ids=["small", "multipart"])
def test_a_failed_write_leaves_nothing_behind(backend: StoreUnderTest, size: int) -> None:
    store = backend.store
    handles: list[Any] = []

    with pytest.raises(RuntimeError, match="source broke"):
        _write_then_fail(store, "a/b.bin", size, handles)
    gc.collect()

    # Nothing holds on to the abandoned file, and collecting it uploaded nothing.
    assert handles[0]() is None
    assert not store.exists("a/b.bin")
    assert store.list("a") == []
    assert backend.physical_keys() == []  # no ".partial-*" sibling either
    assert backend.pending_uploads() == 0  # no multipart upload left open on S3
    # The key is still free: a retry succeeds.
    store.put_bytes(b"second try", "a/b.bin")
    assert store.read_bytes("a/b.bin") == b"second try"


def test_a_write_in_progress_is_invisible_under_its_final_key(backend: StoreUnderTest) -> None:
    store = backend.store
    payload = os.urandom(12 * 1024 * 1024)  # over S3's 5 MiB part size: a real multipart

    with store.open_write("data/big.bin") as handle:
        handle.write(payload[: len(payload) // 2])
        handle.flush()
        assert not store.exists("data/big.bin")
        with pytest.raises(NotFound):
            store.read_bytes("data/big.bin")
        assert store.list("data") == []
        assert "data/big.bin" not in backend.physical_keys()
        handle.write(payload[len(payload) // 2 :])

    assert store.read_bytes("data/big.bin") == payload
    assert store.list("data") == ["data/big.bin"]
    assert backend.physical_keys() == ["data/big.bin"]


def test_a_concurrent_reader_sees_nothing_or_the_whole_file(backend: StoreUnderTest) -> None:
    store = backend.store
    chunk = os.urandom(256 * 1024)
    chunks = 48  # 12 MiB
    seen: list[int] = []
    looked_early = threading.Event()
    done = threading.Event()

    def read_until_done() -> None:
        while True:
            finished = done.is_set()
            try:
                seen.append(len(store.read_bytes("live/file.bin")))
            except NotFound:
                looked_early.set()
            if finished:
                return

    reader = threading.Thread(target=read_until_done)
    reader.start()
    try:
        with store.open_write("live/file.bin") as handle:
            for number in range(chunks):
                handle.write(chunk)
                if number == chunks // 2:
                    # Make sure the reader really looks while the file is half written.
                    assert looked_early.wait(timeout=30)
    finally:
        done.set()
        reader.join(timeout=60)

    assert not reader.is_alive()
    assert seen, "the reader never saw the finished file"
    assert set(seen) == {len(chunk) * chunks}


def test_stale_files_lists_old_files_and_partials_and_delete_file_removes_one(
    store: ArtifactStore,
) -> None:
    store.put_bytes(b"kept", "area/v1/data.parquet")
    with pytest.raises(RuntimeError), store.open_write("area/v2/data.parquet") as handle:
        handle.write(b"half")
        raise RuntimeError("crash mid-write")
    assert store.stale_files("area", older_than_s=3600) == []  # everything is new
    stale = store.stale_files("area", older_than_s=-60)  # "older than a minute from now"
    assert "area/v1/data.parquet" in stale
    store.delete_file("area/v1/data.parquet")
    assert not store.exists("area/v1/data.parquet")
    store.delete_file("area/v1/data.parquet")  # already gone: not an error
    with pytest.raises(InvalidInput):
        store.delete_file("area/../../etc/passwd")
