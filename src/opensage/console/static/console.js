// The console's live parts: charts (uPlot, vendored) and polling of the REST API.
"use strict";

const POLL_MS = 1500;

async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = answer.error ? answer.error.message : `HTTP ${response.status}`;
    throw new Error(message);
  }
  return answer;
}

function chartWidth(element, fallback) {
  return Math.max(120, Math.floor(element.getBoundingClientRect().width) || fallback);
}

// -- histograms (dataset page) ------------------------------------------------------
function drawHistogram(element) {
  const edges = JSON.parse(element.dataset.edges);
  const counts = JSON.parse(element.dataset.counts);
  const centers = counts.map((_, i) => (edges[i] + edges[i + 1]) / 2);
  const options = {
    width: chartWidth(element, 180),
    height: 60,
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false } },
    axes: [{ show: false }, { show: false }],
    series: [{}, { fill: "#7fa7e8", stroke: "#1f5fbf", paths: uPlot.paths.bars({ size: [0.9] }) }],
  };
  new uPlot(options, [centers, counts], element);
  element.dataset.points = String(counts.length);
}

// -- a training job's metrics, log and stop button ----------------------------------
const PALETTE = ["#1f5fbf", "#d9480f", "#2b8a3e", "#862e9c", "#e67700", "#0b7285"];

function metricGroups(points) {
  // {"rmse": {"train:rmse": [[step, value]...], "validation:rmse": [...]}, ...}
  const groups = {};
  for (const point of points) {
    const base = point.name.includes(":") ? point.name.split(":").slice(1).join(":") : point.name;
    groups[base] = groups[base] || {};
    (groups[base][point.name] = groups[base][point.name] || []).push([point.step, point.value]);
  }
  return groups;
}

function alignSeries(series) {
  const steps = [...new Set(Object.values(series).flat().map((p) => p[0]))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const columns = Object.values(series).map((points) => {
    const column = new Array(steps.length).fill(null);
    for (const [step, value] of points) column[index.get(step)] = value;
    return column;
  });
  return [steps, ...columns];
}

class MetricCharts {
  constructor(container) {
    this.container = container;
    this.charts = new Map();
  }

  update(points) {
    const groups = metricGroups(points);
    if (!Object.keys(groups).length) {
      this.container.innerHTML = '<p class="muted">No metrics reported (yet).</p>';
      return;
    }
    const finals = [];
    for (const [base, series] of Object.entries(groups)) {
      const names = Object.keys(series).sort();
      if (Object.values(series).every((points) => points.length < 2)) {
        // Reported once (e.g. at the end): a value, not a curve.
        for (const name of names) finals.push(`${name} ${series[name][0][1].toPrecision(4)}`);
        continue;
      }
      const sorted = Object.fromEntries(names.map((n) => [n, series[n]]));
      const data = alignSeries(sorted);
      const known = this.charts.get(base);
      if (known && known.names.join() === names.join()) {
        known.plot.setData(data);
        known.element.dataset.points = String(data[0].length);
        continue;
      }
      if (known) known.element.remove();
      if (!this.charts.size) this.container.querySelectorAll("p.muted").forEach((p) => p.remove());
      const element = document.createElement("figure");
      element.className = "chart metric";
      element.setAttribute("role", "img");
      element.setAttribute("aria-label", `${base} by step: ${names.join(", ")}`);
      element.dataset.metric = base;
      this.container.appendChild(element);
      const plot = new uPlot(
        {
          title: base,
          width: chartWidth(element, 320),
          height: 220,
          scales: { x: { time: false } },
          series: [{ label: "step" }, ...names.map((n, i) => ({
            label: n, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true,
          }))],
        },
        data,
        element,
      );
      element.dataset.points = String(data[0].length);
      this.charts.set(base, { element, plot, names });
    }
    if (finals.length) {
      document.getElementById("metric-finals").textContent = `Reported once: ${finals.join(", ")}`;
    }
  }
}

async function followTrainingJob(root) {
  const name = root.dataset.name;
  const base = `/api/v1/training-jobs/${encodeURIComponent(name)}`;
  const charts = new MetricCharts(document.getElementById("metric-charts"));
  const log = document.getElementById("log");
  let offset = 0;
  let active = root.dataset.active === "true";

  const stop = document.getElementById("stop-job");
  if (stop) {
    stop.addEventListener("click", async () => {
      stop.disabled = true;
      const result = document.getElementById("stop-result");
      try {
        const job = await api("POST", `${base}/stop`);
        result.textContent = `Stopping (${job.status})…`;
      } catch (error) {
        result.textContent = error.message;
        stop.disabled = false;
      }
    });
  }

  for (;;) {
    try {
      const job = await api("GET", base);
      document.getElementById("secondary-status").textContent = job.secondary_status;
      charts.update(await api("GET", `${base}/metrics`));
      for (;;) {
        const chunk = await api("GET", `${base}/logs?offset=${offset}`);
        if (chunk.text) log.textContent += chunk.text;
        offset = chunk.next_offset;
        if (!chunk.text) break;
      }
      const stillActive = ["Pending", "InProgress", "Stopping"].includes(job.status);
      if (active && !stillActive) {
        window.location.reload(); // show the final state (status, metrics, reason)
        return;
      }
      active = stillActive;
    } catch (error) {
      log.textContent += `\n[console] ${error.message}\n`;
    }
    if (!active) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// -- a tuning job: objective by trial with the running best, parameters vs objective --
function scatterOptions(title, xLabel, yLabel, element, extra = []) {
  return {
    title,
    width: chartWidth(element, 320),
    height: 220,
    scales: { x: { time: false } },
    axes: [{ label: xLabel }, { label: yLabel }],
    series: [
      { label: xLabel },
      { label: yLabel, stroke: "#1f5fbf", width: 0, points: { show: true, size: 7, fill: "#1f5fbf" } },
      ...extra,
    ],
  };
}

function figure(container, label, key) {
  let element = container.querySelector(`[data-key="${key}"]`);
  if (element) return { element, fresh: false };
  element = document.createElement("figure");
  element.className = "chart metric";
  element.dataset.key = key;
  element.setAttribute("role", "img");
  element.setAttribute("aria-label", label);
  container.appendChild(element);
  return { element, fresh: true };
}

function byX(xs, ys) {
  const order = xs.map((x, i) => i).sort((a, b) => xs[a] - xs[b]);
  return [order.map((i) => xs[i]), order.map((i) => ys[i])];
}

class TuningCharts {
  constructor(root) {
    this.root = root;
    this.plots = new Map();
    this.minimize = root.dataset.direction === "minimize";
  }

  draw(key, container, label, options, data) {
    const known = this.plots.get(key);
    if (known) {
      known.plot.setData(data);
    } else {
      const { element } = figure(container, label, key);
      this.plots.set(key, { element, plot: new uPlot(options(element), data, element) });
    }
    this.plots.get(key).element.dataset.points = String(data[0].length);
  }

  update(trials) {
    const scored = trials.filter((t) => t.objective_value !== null).sort((a, b) => a.number - b.number);
    const numbers = scored.map((t) => t.number);
    const values = scored.map((t) => t.objective_value);
    let best = null;
    const running = values.map((v) => {
      best = best === null ? v : this.minimize ? Math.min(best, v) : Math.max(best, v);
      return best;
    });
    const metric = this.root.dataset.metric;
    this.draw(
      "objective",
      document.getElementById("objective-chart"),
      `${metric} by trial, with the best so far`,
      (element) => scatterOptions(metric, "trial", metric, element, [
        { label: "best so far", stroke: "#d9480f", width: 2 },
      ]),
      [numbers, values, running],
    );
    const names = [...new Set(scored.flatMap((t) => Object.keys(t.hyperparameters)))].sort();
    for (const name of names) {
      const points = scored.filter((t) => typeof t.hyperparameters[name] === "number");
      if (points.length < 1) continue;
      const data = byX(points.map((t) => t.hyperparameters[name]), points.map((t) => t.objective_value));
      this.draw(
        `parameter:${name}`,
        document.getElementById("parameter-charts"),
        `${metric} against ${name}`,
        (element) => scatterOptions(name, name, metric, element),
        data,
      );
    }
  }
}

async function followTuningJob(root) {
  const base = `/api/v1/tuning-jobs/${encodeURIComponent(root.dataset.name)}`;
  const charts = new TuningCharts(root);
  let active = root.dataset.active === "true";
  const form = document.getElementById("register-best");
  if (form) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const group = form.elements.model_group.value.trim();
      const result = document.getElementById("register-result");
      try {
        const version = await api(
          "POST",
          `/api/v1/model-groups/${encodeURIComponent(group)}/versions`,
          { training_job: form.dataset.job },
        );
        result.innerHTML = "";
        const link = document.createElement("a");
        link.href = `/models/${encodeURIComponent(version.model_group)}`;
        link.textContent = `${version.model_group} v${version.version}`;
        result.append("Registered as ", link);
      } catch (error) {
        result.textContent = error.message;
      }
    });
  }
  for (;;) {
    try {
      charts.update(await api("GET", `${base}/trials`));
      const job = await api("GET", base);
      const stillActive = ["InProgress", "Stopping"].includes(job.status);
      if (active && !stillActive) {
        window.location.reload();
        return;
      }
      active = stillActive;
    } catch (error) {
      console.warn(error.message);
    }
    if (!active) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// -- sortable tables (click a column's button) -----------------------------------------
function sortable(table) {
  table.querySelectorAll("th[data-sort] button").forEach((button) => {
    button.addEventListener("click", () => {
      const header = button.closest("th");
      const column = [...header.parentNode.children].indexOf(header);
      const numeric = header.dataset.sort === "number";
      const ascending = header.getAttribute("aria-sort") !== "ascending";
      table.querySelectorAll("th[aria-sort]").forEach((th) => th.removeAttribute("aria-sort"));
      header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      const key = (row) => {
        const cell = row.children[column];
        const text = cell.dataset.value ?? cell.textContent.trim();
        if (!numeric) return text;
        const number = parseFloat(text);
        return Number.isNaN(number) ? Infinity : number; // no value: last
      };
      const rows = [...table.tBodies[0].rows].sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        if (x === y) return 0;
        if (numeric && (x === Infinity || y === Infinity)) return x === Infinity ? 1 : -1;
        return (x < y ? -1 : 1) * (ascending ? 1 : -1);
      });
      table.tBodies[0].append(...rows);
    });
  });
}

// -- model versions: approve / reject ---------------------------------------------------
function approvalButtons() {
  document.querySelectorAll("button[data-approval]").forEach((button) => {
    button.addEventListener("click", async () => {
      const result = document.getElementById("approval-result");
      const { group, version, approval } = button.dataset;
      try {
        await api("PATCH", `/api/v1/model-groups/${encodeURIComponent(group)}/versions/${version}`, {
          approval_status: approval,
        });
        window.location.reload();
      } catch (error) {
        result.textContent = error.message;
      }
    });
  });
}

// -- monitoring: baseline vs current distributions, model quality over time, run now ---
function drawDrift(element) {
  const { edges, baseline, current } = JSON.parse(element.dataset.histogram);
  const centers = baseline.map((_, i) => (edges[i] + edges[i + 1]) / 2);
  const options = {
    width: chartWidth(element, 220),
    height: 90,
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false } },
    axes: [{ show: false }, { show: false }],
    series: [
      {},
      { label: "baseline", stroke: "#5b6475", fill: "rgba(91,100,117,.25)", paths: uPlot.paths.stepped({ align: 1 }) },
      { label: "current", stroke: "#d9480f", width: 2, paths: uPlot.paths.stepped({ align: 1 }) },
    ],
  };
  new uPlot(options, [centers, baseline, current], element);
  element.dataset.points = String(centers.length);
}

function drawQuality(element) {
  const rows = JSON.parse(element.dataset.quality);
  const names = Object.keys(rows[0]).filter((k) => k !== "number");
  const data = [rows.map((r) => r.number), ...names.map((n) => rows.map((r) => r[n] ?? null))];
  new uPlot(
    {
      title: "model quality by execution",
      width: chartWidth(element, 320),
      height: 220,
      scales: { x: { time: false } },
      series: [{ label: "execution" }, ...names.map((n, i) => ({
        label: n, stroke: PALETTE[i % PALETTE.length], width: 2, points: { show: true },
      }))],
    },
    data,
    element,
  );
  element.dataset.points = String(rows.length);
}

function runNowButton() {
  const button = document.getElementById("run-now");
  if (!button) return;
  button.addEventListener("click", async () => {
    const result = document.getElementById("run-result");
    const base = `/api/v1/monitoring-schedules/${encodeURIComponent(button.dataset.schedule)}`;
    button.disabled = true;
    try {
      let execution = await api("POST", `${base}/executions`, {});
      while (!["Completed", "CompletedWithViolations", "Failed"].includes(execution.status)) {
        result.textContent = `Execution #${execution.number}: ${execution.status}…`;
        await new Promise((resolve) => setTimeout(resolve, 500));
        execution = await api("GET", `${base}/executions/${execution.number}`);
      }
      window.location.search = `?execution=${execution.number}`;
    } catch (error) {
      result.textContent = error.message;
      button.disabled = false;
    }
  });
}

// -- an endpoint: live invocations/s and latency, try it, delete ------------------------
function percentileMs(before, after, q) {
  // Cumulative buckets [[le, count]...] of two readings: the q-quantile of what came between.
  const deltas = after.map(([le, count], i) => [le, count - (before[i] ? before[i][1] : 0)]);
  const total = deltas.length ? deltas[deltas.length - 1][1] : 0;
  if (total <= 0) return null;
  const found = deltas.find(([, count]) => count >= q * total);
  return found && Number.isFinite(found[0]) ? found[0] * 1000 : null;
}

async function followEndpoint(root) {
  const name = encodeURIComponent(root.dataset.name);
  const tryIt = document.getElementById("try-it");
  if (tryIt) {
    tryIt.addEventListener("submit", async (event) => {
      event.preventDefault();
      const out = document.getElementById("try-answer");
      try {
        const answer = await api("POST", `/endpoints/${name}/try`, {
          body: tryIt.elements.body.value,
          content_type: tryIt.elements.content_type.value,
        });
        out.textContent = `HTTP ${answer.status} (${answer.content_type}, ${answer.ms} ms` +
          `${answer.variant ? `, variant ${answer.variant}` : ""})\n${answer.body}`;
      } catch (error) {
        out.textContent = error.message;
      }
    });
  }
  const remove = document.getElementById("delete-endpoint");
  if (remove) {
    remove.addEventListener("click", async () => {
      if (!window.confirm(`Delete endpoint ${root.dataset.name}?`)) return;
      try {
        await fetch(`/api/v1/endpoints/${name}`, { method: "DELETE" }).then((r) => {
          if (!r.ok) throw new Error(`HTTP ${r.status}`);
        });
        window.location.href = "/endpoints";
      } catch (error) {
        document.getElementById("delete-result").textContent = error.message;
      }
    });
  }
  if (root.dataset.live !== "true") return;
  const element = document.getElementById("live-chart");
  const summary = document.getElementById("live-summary");
  const series = [[], [], [], []]; // time, invocations/s, model p50 ms, model p95 ms
  let plot = null;
  let previous = null;
  for (;;) {
    try {
      const reading = { at: Date.now() / 1000, ...(await api("GET", `/endpoints/${name}/live`)) };
      if (previous) {
        const seconds = Math.max(reading.at - previous.at, 0.001);
        const rate = (reading.invocations - previous.invocations) / seconds;
        const model = [previous.latency_buckets.model, reading.latency_buckets.model];
        series[0].push(reading.at);
        series[1].push(rate);
        series[2].push(percentileMs(...model, 0.5));
        series[3].push(percentileMs(...model, 0.95));
        for (const column of series) if (column.length > 150) column.shift();
        if (!plot) {
          plot = new uPlot({
            title: "traffic",
            width: chartWidth(element, 320),
            height: 220,
            scales: { ms: {} },
            series: [
              {},
              { label: "invocations/s", stroke: "#1f5fbf", width: 2 },
              { label: "model p50 (ms)", stroke: "#2b8a3e", scale: "ms", spanGaps: true },
              { label: "model p95 (ms)", stroke: "#d9480f", scale: "ms", spanGaps: true },
            ],
            axes: [{}, { label: "per second" }, { scale: "ms", side: 1, label: "ms" }],
          }, series, element);
        } else {
          plot.setData(series);
        }
        element.dataset.points = String(series[0].length);
        const errors = Object.entries(reading.errors).map(([k, v]) => `${k} ${v}`).join(", ");
        summary.textContent = `${reading.invocations} invocations so far, ${rate.toFixed(1)}/s now; ` +
          `errors: ${errors || "none"}`;
      }
      previous = reading;
    } catch (error) {
      summary.textContent = error.message;
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// -- comparing training jobs: one chart per metric, a curve per job ----------------------
async function compareJobs(root) {
  const names = JSON.parse(root.dataset.names);
  const container = document.getElementById("compare-charts");
  const byMetric = {};
  for (const name of names) {
    const points = await api("GET", `/api/v1/training-jobs/${encodeURIComponent(name)}/metrics`);
    for (const point of points) {
      byMetric[point.name] = byMetric[point.name] || {};
      (byMetric[point.name][name] = byMetric[point.name][name] || []).push([point.step, point.value]);
    }
  }
  for (const metric of Object.keys(byMetric).sort()) {
    const series = byMetric[metric];
    if (Object.values(series).every((points) => points.length < 2)) continue;
    const jobs = names.filter((n) => series[n]);
    const data = alignSeries(Object.fromEntries(jobs.map((n) => [n, series[n]])));
    const { element } = figure(container, `${metric} by step for ${jobs.join(", ")}`, metric);
    element.dataset.metric = metric;
    new uPlot({
      title: metric,
      width: chartWidth(element, 320),
      height: 220,
      scales: { x: { time: false } },
      series: [{ label: "step" }, ...jobs.map((n, i) => ({
        label: n, stroke: PALETTE[i % PALETTE.length], width: 2, spanGaps: true,
      }))],
    }, data, element);
    element.dataset.points = String(data[0].length);
    element.dataset.series = String(jobs.length);
  }
}

function compareChoice() {
  const button = document.getElementById("compare-chosen");
  if (!button) return;
  button.addEventListener("click", () => {
    const names = [...document.querySelectorAll("input[name=compare]:checked")].map((i) => i.value);
    if (names.length) window.location.href = `/training-jobs/compare?names=${names.map(encodeURIComponent).join(",")}`;
  });
}

// -- uploading a dataset, with progress ---------------------------------------------------
function uploadForm() {
  const form = document.getElementById("upload-dataset");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const file = form.elements.file.files[0];
    const bar = document.getElementById("upload-progress");
    const result = document.getElementById("upload-result");
    const request = new XMLHttpRequest();
    request.open("POST", `/api/v1/uploads?filename=${encodeURIComponent(file.name)}`);
    request.setRequestHeader("Content-Type", "application/octet-stream");
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = e.loaded / e.total;
    });
    request.addEventListener("load", async () => {
      let answer = {};
      try { answer = JSON.parse(request.responseText); } catch { /* not JSON */ }
      if (request.status >= 300) {
        result.textContent = answer.error ? answer.error.message : `HTTP ${request.status}`;
        return;
      }
      bar.value = 1;
      result.textContent = "Uploaded; reading it into a dataset…";
      const body = { name: form.elements.name.value.trim(), source: answer.source };
      if (form.elements.label.value.trim()) body.label = form.elements.label.value.trim();
      try {
        const created = await api("POST", "/api/v1/datasets", body);
        window.location.href = `/datasets/${encodeURIComponent(created.dataset || body.name)}`;
      } catch (error) {
        result.textContent = error.message;
      }
    });
    request.addEventListener("error", () => { result.textContent = "the upload failed"; });
    request.send(file);
  });
}

function weightsForm(root) {
  const form = document.getElementById("update-weights");
  if (!form) return;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const result = document.getElementById("update-result");
    const name = encodeURIComponent(root.dataset.name);
    try {
      const current = await api("GET", `/api/v1/endpoints/${name}`);
      const variants = current.variants.map((v) => ({
        ...v, initial_weight: Number(form.elements[v.name].value),
      }));
      let endpoint = await api("PUT", `/api/v1/endpoints/${name}`, {
        variants, data_capture: current.data_capture,
      });
      while (endpoint.status === "Updating") {
        result.textContent = "Updating (blue/green)…";
        await new Promise((resolve) => setTimeout(resolve, 500));
        endpoint = await api("GET", `/api/v1/endpoints/${name}`);
      }
      window.location.reload();
    } catch (error) {
      result.textContent = error.message;
    }
  });
}

// -- deploying a model version to a new endpoint ------------------------------------------
function deployForms() {
  document.querySelectorAll("form.deploy").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const result = document.getElementById("approval-result");
      const name = form.elements.endpoint.value.trim();
      try {
        let endpoint = await api("POST", "/api/v1/endpoints", {
          name,
          variants: [{ model_group: form.dataset.group, model_version: Number(form.dataset.version) }],
          data_capture: { enabled: form.elements.capture.checked },
        });
        while (endpoint.status === "Creating") {
          result.textContent = `Deploying ${name}…`;
          await new Promise((resolve) => setTimeout(resolve, 500));
          endpoint = await api("GET", `/api/v1/endpoints/${encodeURIComponent(name)}`);
        }
        window.location.href = `/endpoints/${encodeURIComponent(name)}`;
      } catch (error) {
        result.textContent = error.message;
      }
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll(".chart.histogram").forEach(drawHistogram);
  const job = document.getElementById("training-job");
  if (job) followTrainingJob(job);
  const search = document.getElementById("tuning-job");
  if (search) followTuningJob(search);
  document.querySelectorAll("table.sortable").forEach(sortable);
  approvalButtons();
  deployForms();
  document.querySelectorAll(".chart.drift").forEach(drawDrift);
  const quality = document.getElementById("quality-chart");
  if (quality) drawQuality(quality);
  runNowButton();
  const endpoint = document.getElementById("endpoint");
  if (endpoint) {
    weightsForm(endpoint);
    followEndpoint(endpoint);
  }
  const compare = document.getElementById("compare");
  if (compare) compareJobs(compare);
  uploadForm();
  compareChoice();
});
