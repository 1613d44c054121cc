// The live dashboard: polls /stats every 2 s, keeps 10 minutes of history, renders everything.

import { takeTokenFromUrl, unauthorizedMessage, withToken } from "./auth.js";
import { TimeChart } from "./charts.js";
import { clockTime } from "./format.js";
import { chartedEndpoints, History, RETENTION_SECONDS } from "./history.js";
import { renderReadouts, renderRecentActivity, renderTopEndpoints } from "./panels.js";

const STATS_URL = "/stats";
const POLL_INTERVAL_MS = 2000;
const REQUEST_TIMEOUT_MS = 5000;
const WAITING_FOR_TRAFFIC = "Waiting for traffic…";

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
      emptyText: WAITING_FOR_TRAFFIC,
    }),
    latency: new TimeChart(figure("chart-latency"), {
      series: [{ label: "p50" }, { label: "p95" }, { label: "p99" }],
      format: msAxis,
      emptyText: WAITING_FOR_TRAFFIC,
    }),
    endpointRps: new TimeChart(figure("chart-endpoint-rps"), {
      series: [],
      format: rpsAxis,
      emptyText: WAITING_FOR_TRAFFIC,
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
      emptyText: "No invalidations in the last minute",
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

async function fetchStats() {
  let response;
  try {
    response = await fetch(STATS_URL, {
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

function render(dashboard, stats) {
  dashboard.history.add(stats);
  renderReadouts(stats);
  renderCharts(dashboard.charts, dashboard.history, stats);
  renderTopEndpoints(stats.top_endpoints ?? []);
  renderRecentActivity(stats.recent_activity ?? []);
}

async function pollOnce(dashboard) {
  let stats;
  try {
    stats = await fetchStats();
  } catch (error) {
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

async function pollForever(dashboard) {
  for (;;) {
    const started = performance.now();
    await pollOnce(dashboard);
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
