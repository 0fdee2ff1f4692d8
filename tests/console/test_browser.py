"""The console in a real browser: Debian's Chromium, driven headless by Playwright, against
an ``opensage up`` on 127.0.0.1 with auth on, holding a dataset and training jobs.

Every page loads without console errors, its charts are drawn with data points, the
stop action works, sign-in is required and the pages offer only what a role may do.
Screenshots of each page land in ``test-artifacts/console/``.
"""

from __future__ import annotations

import shutil
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

import opensage
from opensage import ContinuousRange, IntegerRange
from tests.conftest import ServerProcess

pytestmark = pytest.mark.slow

ADMIN_KEY = "osk_console-admin-key-0123456789abcdefghijk"
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


class Console:
    def __init__(self, server: ServerProcess, viewer_key: str, job: str, running: str) -> None:
        self.server = server
        self.viewer_key = viewer_key
        self.job = job
        self.running = running


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    root = tmp_path_factory.mktemp("console")
    server = ServerProcess(
        data_dir=root / "data",
        extra_env={"OPENSAGE_AUTH": "on", "OPENSAGE_ADMIN_API_KEY": ADMIN_KEY},
    )
    server.start()
    try:
        rng = np.random.default_rng(0)
        x = rng.uniform(0, 10, (400, 2))
        frame = pd.DataFrame(x, columns=["experience", "hours"])
        frame["score"] = 30 * x[:, 0] + 20 * x[:, 1] + rng.normal(0, 5, 400)
        frame.to_csv(root / "exam.csv", index=False)
        script = root / "sleep.py"
        script.write_text(
            textwrap.dedent("""\
            import time
            print("sleeping", flush=True)
            time.sleep(120)
            """)
        )
        with opensage.Client(server.url, api_key=ADMIN_KEY) as client:
            client.datasets.create(root / "exam.csv", name="exam", label="score")
            job = client.training_jobs.create(
                "exam-xgb",
                algorithm="xgboost",
                hyperparameters={"num_round": 30, "max_depth": 3},
                channels={"train": "exam"},
            ).wait(timeout=120)
            assert job.status.value == "Completed", job.failure_reason
            search = client.tuning_jobs.create(
                "exam-search",
                algorithm="xgboost",
                hyperparameters={"num_round": 10},
                channels={"train": "exam", "validation": "exam"},
                parameter_ranges={
                    "eta": ContinuousRange(min=0.05, max=0.5),
                    "max_depth": IntegerRange(min=1, max=4),
                },
                objective="validation:rmse",
                strategy="random",
                max_trials=4,
                max_parallel_trials=2,
                seed=3,
            ).wait(timeout=180)
            assert search.status.value == "Completed", search.info.failure_reason
            job.register("exam-model", description="first")
            served = job.register("exam-served", approved=True)
            endpoint = served.deploy("exam-ep", data_capture={"enabled": True})
            schedule = client.monitoring_schedules.create(
                "exam-watch", "exam-ep", {"dataset": "exam"}, every="1h"
            )
            client.baselines.get(schedule.info.baseline).wait(timeout=120)
            shifted = x[:200].copy()
            shifted[:, 1] *= 3  # students who studied three times as long
            endpoint.predict(shifted, inference_id="shifted-batch")
            truth = 30 * shifted[:, 0] + 20 * shifted[:, 1]
            endpoint.upload_ground_truth(
                [{"eventId": "shifted-batch", "groundTruth": truth.tolist()}]
            )
            assert schedule.run(timeout=120).status.value == "CompletedWithViolations"
            client.training_jobs.create("sleeper", script=script)
            client.users.create("vera", "viewer")
            viewer_key = client.keys.create(user="vera", name="console").key
        yield Console(server, viewer_key, "exam-xgb", "sleeper")
    finally:
        server.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: run `make test-services` (as root)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


class Watched:
    """A page whose console errors and uncaught exceptions are collected."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


def signed_in(browser: Browser, console: Console, key: str = ADMIN_KEY) -> Watched:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    watched = Watched(page)
    page.goto(f"{console.server.url}/login")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{console.server.url}/")
    return watched


def shoot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_every_page_loads_without_errors(browser: Browser, console: Console) -> None:
    watched = signed_in(browser, console)
    page, url = watched.page, console.server.url
    for path, name, heading in (
        ("/", "home", "Home"),
        ("/datasets", "datasets", "Datasets"),
        ("/training-jobs", "training-jobs", "Training jobs"),
        ("/training-jobs?status=Completed", "training-jobs-completed", "Training jobs"),
        ("/tuning-jobs", "tuning-jobs", "Tuning jobs"),
        ("/models", "models", "Models"),
        ("/monitoring", "monitoring", "Monitoring"),
        ("/endpoints", "endpoints", "Endpoints"),
    ):
        response = page.goto(url + path)
        assert response is not None and response.status == 200, path
        assert page.get_by_role("heading", level=1).inner_text() == heading
        shoot(page, name)
    page.goto(f"{url}/training-jobs?status=Completed")
    assert page.get_by_role("link", name=console.job).is_visible()
    assert not page.get_by_role("link", name=console.running).is_visible()
    assert watched.errors == []


def test_the_dataset_page_draws_a_histogram_per_numeric_column(
    browser: Browser, console: Console
) -> None:
    watched = signed_in(browser, console)
    page = watched.page
    page.goto(f"{console.server.url}/datasets/exam")
    page.wait_for_selector(".chart.histogram canvas")
    charts = page.locator(".chart.histogram")
    assert charts.count() == 3  # experience, hours, score
    for index in range(3):
        assert int(charts.nth(index).get_attribute("data-points") or 0) == 20
        assert charts.nth(index).locator("canvas").count() == 1
    assert page.get_by_role("cell", name="exam_score").count() == 0  # our own data only
    shoot(page, "dataset")
    assert watched.errors == []


def test_the_job_page_charts_train_and_validation_metrics(
    browser: Browser, console: Console
) -> None:
    watched = signed_in(browser, console)
    page = watched.page
    page.goto(f"{console.server.url}/training-jobs/{console.job}")
    page.wait_for_selector(".chart.metric canvas")
    rmse = page.locator('.chart.metric[data-metric="rmse"]')
    assert int(rmse.get_attribute("data-points") or 0) == 30  # one point per round
    assert "train:rmse" in (rmse.get_attribute("aria-label") or "")
    page.wait_for_function("document.getElementById('log').textContent.length > 0")
    assert "Completed" in page.locator("h1").inner_text()
    assert page.get_by_role("button", name="Stop the job").count() == 0  # it has ended
    shoot(page, "training-job")
    assert watched.errors == []


def test_a_viewer_is_offered_no_stop_and_an_admin_stops_a_running_job(
    browser: Browser, console: Console
) -> None:
    url = f"{console.server.url}/training-jobs/{console.running}"
    viewer = signed_in(browser, console, console.viewer_key)
    viewer.page.goto(url)
    assert "vera (viewer)" in viewer.page.locator(".who").inner_text()
    assert viewer.page.get_by_role("button", name="Stop the job").count() == 0

    admin = signed_in(browser, console)
    admin.page.goto(url)
    admin.page.wait_for_function("document.getElementById('log').textContent.includes('sleeping')")
    shoot(admin.page, "training-job-running")
    admin.page.get_by_role("button", name="Stop the job").click()
    with opensage.Client(console.server.url, api_key=ADMIN_KEY) as client:
        job = client.training_jobs.get(console.running)
        deadline = time.monotonic() + 30
        while (
            job.refresh().status.value not in ("Stopped", "Failed") and time.monotonic() < deadline
        ):
            time.sleep(0.2)
        assert job.status.value == "Stopped", job.failure_reason
    # The page notices the end by itself and shows the final state.
    admin.page.wait_for_function(
        "document.querySelector('h1').textContent.includes('Stopped')", timeout=15000
    )
    assert viewer.errors == [] and admin.errors == []


def test_signing_in_is_required(browser: Browser, console: Console) -> None:
    page = browser.new_page()
    watched = Watched(page)
    page.goto(f"{console.server.url}/training-jobs/{console.job}")
    assert page.url.startswith(f"{console.server.url}/login")
    page.get_by_label("API key").fill("osk_not-a-key")
    page.get_by_role("button", name="Sign in").click()
    assert "not valid" in page.get_by_role("alert").inner_text()
    page.get_by_label("API key").fill(ADMIN_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{console.server.url}/training-jobs/{console.job}")  # back where it was
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{console.server.url}/login")
    shoot(page, "login")
    # A 401 answer of the failed sign-in shows in Chromium's console; nothing else may.
    assert [e for e in watched.errors if "401" not in e] == []


def test_the_tuning_page_charts_trials_sorts_them_and_registers_the_best(
    browser: Browser, console: Console
) -> None:
    watched = signed_in(browser, console)
    page = watched.page
    page.goto(f"{console.server.url}/tuning-jobs/exam-search")
    page.wait_for_selector('[data-key="objective"] canvas')
    assert page.locator('[data-key="objective"]').get_attribute("data-points") == "4"
    for name in ("eta", "max_depth"):
        assert page.locator(f'[data-key="parameter:{name}"]').get_attribute("data-points") == "4"
    page.get_by_role("button", name="Objective").click()
    rows = page.locator("#trials tbody tr")
    shown = [float(rows.nth(i).locator("td").nth(3).inner_text()) for i in range(4)]
    assert shown == sorted(shown)  # best (lowest rmse) first
    with opensage.Client(console.server.url, api_key=ADMIN_KEY) as client:
        best = client.tuning_jobs.get("exam-search").best_trial
    assert best is not None
    assert rows.first.get_by_role("link").inner_text() == best.training_job_name
    shoot(page, "tuning-job")
    page.get_by_label("Register the best trial's model in group").fill("exam-best")
    page.get_by_role("button", name="Register best").click()
    page.get_by_role("link", name="exam-best v1").click()
    page.wait_for_url(f"{console.server.url}/models/exam-best")
    assert best.training_job_name in page.locator("#versions").inner_text()
    assert watched.errors == []


def test_the_model_page_approves_a_version(browser: Browser, console: Console) -> None:
    viewer = signed_in(browser, console, console.viewer_key)
    viewer.page.goto(f"{console.server.url}/models/exam-model")
    assert viewer.page.get_by_role("button", name="Approve").count() == 0
    watched = signed_in(browser, console)
    page = watched.page
    page.goto(f"{console.server.url}/models/exam-model")
    row = page.locator('tr[data-version="1"]')
    assert "PendingManualApproval" in row.locator(".approval").inner_text()
    assert "exam-xgb" in row.inner_text()  # lineage: the training job
    row.get_by_role("button", name="Approve").click()
    page.wait_for_function(
        "document.querySelector('tr[data-version=\"1\"] .approval').textContent"
        ".includes('Approved')"
    )
    shoot(page, "model")
    with opensage.Client(console.server.url, api_key=ADMIN_KEY) as client:
        assert client.models.get("exam-model", 1).approval_status == "Approved"
    assert watched.errors == [] and viewer.errors == []


def test_the_monitoring_pages_show_drift_and_run_now(browser: Browser, console: Console) -> None:
    watched = signed_in(browser, console)
    page = watched.page
    page.goto(f"{console.server.url}/monitoring")
    page.get_by_role("link", name="exam-watch").click()
    page.wait_for_url(f"{console.server.url}/monitoring/exam-watch")
    page.wait_for_selector(".chart.drift canvas")
    assert "baseline_drift_check" in page.locator("#violations").inner_text()
    drifted = page.locator('#drift tr[data-feature="hours"]')
    assert drifted.locator("td").nth(4).inner_text() == "yes"
    assert page.locator('#drift tr[data-feature="experience"] td').nth(4).inner_text() == "no"
    charts = page.locator(".chart.drift")
    assert charts.count() == 3  # experience, hours and the prediction
    assert all(charts.nth(i).get_attribute("data-points") == "20" for i in range(3))
    page.wait_for_selector("#quality-chart canvas")
    assert page.locator("#quality-chart").get_attribute("data-points") == "1"
    assert "rmse" in page.locator("#report").inner_text()  # the model-quality line
    shoot(page, "monitoring-schedule")
    page.get_by_role("button", name="Run now").click()
    page.wait_for_url(f"{console.server.url}/monitoring/exam-watch?execution=2", timeout=30000)
    assert "Execution #2" in page.locator("#report h2").inner_text()
    assert page.locator("#executions tbody tr").count() == 2
    assert watched.errors == []


def test_the_endpoint_page_charts_live_traffic_and_tries_a_request(
    browser: Browser, console: Console
) -> None:
    viewer = signed_in(browser, console, console.viewer_key)
    viewer.page.goto(f"{console.server.url}/endpoints/exam-ep")
    assert viewer.page.get_by_role("button", name="Delete the endpoint").count() == 0
    watched = signed_in(browser, console)
    page = watched.page
    page.goto(f"{console.server.url}/endpoints/exam-ep")
    assert "exam-served v1" in page.locator("#variants").inner_text()
    sending = threading.Event()

    def traffic() -> None:
        with opensage.Client(console.server.url, api_key=ADMIN_KEY) as client:
            endpoint = client.endpoints.get("exam-ep")
            while not sending.is_set():
                endpoint.predict([[5.0, 5.0]])
                time.sleep(0.02)

    sender = threading.Thread(target=traffic)
    sender.start()
    try:
        page.wait_for_function(
            "Number(document.getElementById('live-chart').dataset.points || 0) >= 2",
            timeout=20000,
        )
    finally:
        sending.set()
        sender.join()
    assert "invocations so far" in page.locator("#live-summary").inner_text()
    page.get_by_label("Request body").fill("1.0,2.0\n3.0,4.0")
    page.get_by_role("button", name="Send").click()
    page.wait_for_function("document.getElementById('try-answer').textContent.length > 0")
    answer = page.locator("#try-answer").inner_text()
    assert answer.startswith("HTTP 200") and len(answer.strip().splitlines()) == 3
    page.get_by_label("Request body").fill("1.0,not-a-number")
    page.get_by_role("button", name="Send").click()
    page.wait_for_function("document.getElementById('try-answer').textContent.includes('HTTP 4')")
    shoot(page, "endpoint")
    assert watched.errors == [] and viewer.errors == []


def test_an_endpoint_is_deleted_from_its_page(browser: Browser, console: Console) -> None:
    with opensage.Client(console.server.url, api_key=ADMIN_KEY) as client:
        client.models.get("exam-served", 1).deploy("exam-doomed")
    watched = signed_in(browser, console)
    page = watched.page
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{console.server.url}/endpoints/exam-doomed")
    page.get_by_role("button", name="Delete the endpoint").click()
    page.wait_for_url(f"{console.server.url}/endpoints")
    with opensage.Client(console.server.url, api_key=ADMIN_KEY) as client:
        assert "exam-doomed" not in [e.name for e in client.endpoints.list()]
    assert watched.errors == []


def test_jobs_compare_side_by_side(browser: Browser, console: Console) -> None:
    watched = signed_in(browser, console)
    page = watched.page
    page.goto(f"{console.server.url}/training-jobs")
    page.get_by_label(f"Compare {console.job}").check()
    page.get_by_label("Compare exam-search-001").check()
    page.get_by_role("button", name="Compare the chosen jobs").click()
    page.wait_for_url("**/training-jobs/compare?names=*")
    page.wait_for_selector('[data-key="validation:rmse"] canvas')
    chart = page.locator('[data-key="validation:rmse"]')
    assert chart.get_attribute("data-series") == "1"  # only the trial was validated
    train = page.locator('[data-key="train:rmse"]')
    assert train.get_attribute("data-series") == "2"
    assert int(train.get_attribute("data-points") or 0) == 30  # the longer job's rounds
    assert page.locator("#compare-table tr.differs").count() >= 1  # num_round differs
    shoot(page, "training-jobs-compare")
    assert watched.errors == []


def test_a_dataset_uploads_with_progress(
    browser: Browser, console: Console, tmp_path: Path
) -> None:
    source = tmp_path / "fresh.csv"
    source.write_text("a,b,y\n" + "".join(f"{i},{i * 2},{i % 3}\n" for i in range(500)))
    watched = signed_in(browser, console)
    page = watched.page
    page.goto(f"{console.server.url}/datasets")
    page.get_by_label("CSV, Parquet or JSON Lines file").set_input_files(str(source))
    page.get_by_label("Dataset name").fill("fresh")
    page.get_by_label("Label column").fill("y")
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function(
        "location.pathname === '/datasets/fresh'"
        " || document.getElementById('upload-result')?.textContent.includes('HTTP')"
        " || (document.getElementById('upload-result')?.textContent || '').length > 40",
        timeout=30000,
    )
    assert page.url == f"{console.server.url}/datasets/fresh", page.locator(
        "#upload-result"
    ).inner_text()
    assert "500" in page.locator(".facts").inner_text()
    assert page.locator(".chart.histogram").count() == 3
    assert watched.errors == []


def test_pages_fit_a_phone_and_load_fast(browser: Browser, console: Console) -> None:
    phone = browser.new_page(viewport={"width": 390, "height": 844})
    watched = Watched(phone)
    phone.goto(f"{console.server.url}/login")
    phone.get_by_label("API key").fill(ADMIN_KEY)
    phone.get_by_role("button", name="Sign in").click()
    phone.wait_for_url(f"{console.server.url}/")
    for path in ("/", "/datasets/exam", f"/training-jobs/{console.job}", "/monitoring/exam-watch"):
        started = time.monotonic()
        phone.goto(console.server.url + path, wait_until="load")
        assert time.monotonic() - started < 1.0, path  # the page budget
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"{path} is {overflow}px wider than the phone"
    shoot(phone, "phone-home")
    assert watched.errors == []


def test_an_admin_changes_an_endpoints_weights(browser: Browser, console: Console) -> None:
    viewer = signed_in(browser, console, console.viewer_key)
    viewer.page.goto(f"{console.server.url}/endpoints/exam-ep")
    assert viewer.page.get_by_role("button", name="Update weights").count() == 0
    watched = signed_in(browser, console)
    page = watched.page
    page.goto(f"{console.server.url}/endpoints/exam-ep")
    page.get_by_label("Weight of AllTraffic").fill("3")
    page.get_by_role("button", name="Update weights").click()
    page.wait_for_function(
        "document.querySelector('#variants tbody').textContent.includes('3.0')", timeout=60000
    )
    with opensage.Client(console.server.url, api_key=ADMIN_KEY) as client:
        endpoint = client.endpoints.get("exam-ep")
        assert endpoint.status.value == "InService"
        assert endpoint.info.variants[0].initial_weight == 3.0
    assert watched.errors == [] and viewer.errors == []


def test_an_approved_version_deploys_from_its_model_page(
    browser: Browser, console: Console
) -> None:
    watched = signed_in(browser, console)
    page = watched.page
    page.goto(f"{console.server.url}/models/exam-served")
    page.get_by_label("Endpoint name for v1").fill("exam-fresh")
    page.get_by_role("button", name="Deploy").click()
    page.wait_for_url(f"{console.server.url}/endpoints/exam-fresh", timeout=60000)
    assert "InService" in page.locator("h1").inner_text()
    with opensage.Client(console.server.url, api_key=ADMIN_KEY) as client:
        endpoint = client.endpoints.get("exam-fresh")
        assert endpoint.info.data_capture.enabled
        assert len(endpoint.predict([[1.0, 2.0]])) == 1
        endpoint.delete()
    assert watched.errors == []
