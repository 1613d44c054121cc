// The live dashboard: draws the last 10 minutes the service keeps (/history) when it opens,
// then polls /stats every 2 s, keeps 10 minutes of history, renders everything.

import { takeTokenFromUrl, unauthorizedMessage, withToken } from "./auth.js";
import { TimeChart } from "./charts.js";
import { clockTime } from "./format.js";
import { chartedEndpoints, History, RETENTION_SECONDS } from "./history.js";
import { renderReadouts, renderRecentActivity, renderTopEndpoints } from "./panels.js";

const STATS_URL = "/stats";
const HISTORY_URL = "/history";
const POLL_INTERVAL_MS = 2000;
const REQUEST_TIMEOUT_MS = 5000;
const NO_TRAFFIC = "No traffic yet";

const trimmed = (value, digits) => Number(value.toFixed(digits));
const percentAxis = (value) => `${trimmed(value, 1)}%`;
const msAxis = (value) => `${trimmed(value, 2)} ms`;
const rpsAxis = (value) => `${trimmed(value, 2)}/s`;
const MIB = 1024 * 1024;
const mebibytes = (value) => `${trimmed(value / MIB, 2)} MiB`;
// Memory ticks at round numbers of MiB (1, 2, 5, 10, 20, 50 ... MiB), not of bytes.
const MIB_INCREMENTS = [0.25, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000].map(
  (steps) => steps * MIB,
);

function createCharts() {
  const figure = (id) => document.getElementById(id);
  return {
    hitRate: new TimeChart(figure("chart-hit-rate"), {
      series: [{ label: "hit rate", color: "#16a34a" }],
      format: percentAxis,
      yRange: [0, 100],
      fill: true,
      emptyText: NO_TRAFFIC,
    }),
    latency: new TimeChart(figure("chart-latency"), {
      series: [{ label: "p50" }, { label: "p95" }, { label: "p99" }],
      format: msAxis,
      emptyText: NO_TRAFFIC,
    }),
    endpointRps: new TimeChart(figure("chart-endpoint-rps"), {
      series: [],
      format: rpsAxis,
      emptyText: NO_TRAFFIC,
      height: 220,
    }),
    redisMemory: new TimeChart(figure("chart-redis-memory"), {
      series: [{ label: "used memory", color: "#dc2626" }],
      format: mebibytes,
      yIncrements: MIB_INCREMENTS,
      fill: true,
      emptyText: "Waiting for the first snapshot…",
    }),
    invalidationLag: new TimeChart(figure("chart-invalidation-lag"), {
      series: [{ label: "p50", color: "#0891b2" }, { label: "p99", color: "#9333ea" }],
      format: msAxis,
      emptyText: "No invalidations yet",
    }),
  };
}

function renderCharts(charts, history, stats) {
  charts.hitRate.update(history.columns("hitRatePercent"));
  charts.latency.update(history.columns("latencyP50", "latencyP95", "latencyP99"));
  const endpoints = chartedEndpoints(stats);
  charts.endpointRps.update(
    history.endpointColumns(endpoints),
    endpoints.map((endpoint) => ({ label: endpoint })),
  );
  charts.redisMemory.update(history.columns("redisUsedMemory"));
  charts.invalidationLag.update(history.columns("invalidationLagP50", "invalidationLagP99"));
}

// The connection state: the pill in the top bar and the error banner.
class Status {
  constructor() {
    this.pill = document.getElementById("status-pill");
    this.lastUpdate = document.getElementById("last-update");
    this.banner = document.getElementById("error-banner");
    this.lastSuccessMs = null;
  }

  succeeded(stats) {
    this.lastSuccessMs = Date.now();
    const hasTraffic = (stats.windows?.["1m"]?.overall?.requests ?? 0) > 0;
    this.setPill(hasTraffic ? "live" : "waiting", hasTraffic ? "live" : "waiting for traffic");
    this.lastUpdate.textContent = `updated ${clockTime(this.lastSuccessMs)}`;
    this.banner.hidden = true;
  }

  failed(reason, pill = "no data") {
    this.setPill("error", pill);
    const since = this.lastSuccessMs
      ? `The charts show data up to ${clockTime(this.lastSuccessMs)}.`
      : "No data received yet.";
    this.banner.textContent =
      `Cannot load ${STATS_URL}: ${reason}. ` +
      `Retrying every ${POLL_INTERVAL_MS / 1000} s. ${since}`;
    this.banner.hidden = false;
  }

  setPill(state, text) {
    this.pill.dataset.status = state;
    this.pill.className = `pill pill-${state}`;
    this.pill.textContent = text;
  }
}

// The service answered 401: the token is missing or wrong (see auth.js).
class TokenError extends Error {}

// The JSON document at `url`, asked for with the token (auth.js) when there is one.
async function fetchJson(url) {
  let response;
  try {
    response = await fetch(url, {
      cache: "no-store",
      headers: withToken({ Accept: "application/json" }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new Error(error.name === "TimeoutError" ? "no answer within 5 s" : "unreachable");
  }
  if (response.status === 401) throw new TokenError(unauthorizedMessage());
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  try {
    return await response.json();
  } catch {
    throw new Error("the answer is not JSON");
  }
}

// A promise's outcome as a value, {value} or {error}: never an unhandled rejection.
const settle = (promise) => promise.then((value) => ({ value }), (error) => ({ error }));

// The recent past, put before the live samples; without it (an older service, an error) the
// charts start from the first poll as before.
function addPast(dashboard, outcome) {
  const points = outcome.value?.points;
  if (!Array.isArray(points)) return;
  try {
    dashboard.history.addPast(points);
  } catch (error) {
    console.warn("cannot read the /history document", error);
  }
}

function render(dashboard, stats) {
  dashboard.history.add(stats);
  renderReadouts(stats);
  renderCharts(dashboard.charts, dashboard.history, stats);
  renderTopEndpoints(stats.top_endpoints ?? []);
  renderRecentActivity(stats.recent_activity ?? []);
}

// One /stats answer (`request`, settled) rendered, or its failure shown.
async function pollOnce(dashboard, request) {
  const { value: stats, error } = await request;
  if (error) {
    const pill = error instanceof TokenError ? "token needed" : "no data";
    dashboard.status.failed(error.message, pill);
    return;
  }
  try {
    render(dashboard, stats);
    dashboard.status.succeeded(stats);
  } catch (error) {
    console.error("cannot render the /stats document", error, stats);
    dashboard.status.failed("unexpected document");
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// The first paint has the past and the present: /history and the first /stats are asked for
// together, and drawn together.
async function pollForever(dashboard) {
  const past = settle(fetchJson(HISTORY_URL));
  const first = settle(fetchJson(STATS_URL));
  addPast(dashboard, await past);
  for (let request = first; ; request = settle(fetchJson(STATS_URL))) {
    const started = performance.now();
    await pollOnce(dashboard, request);
    await sleep(Math.max(0, POLL_INTERVAL_MS - (performance.now() - started)));
  }
}

takeTokenFromUrl();
const dashboard = {
  history: new History(RETENTION_SECONDS),
  charts: createCharts(),
  status: new Status(),
};
window.collabcacheDashboard = dashboard; // for a look from the browser's developer tools
pollForever(dashboard);
