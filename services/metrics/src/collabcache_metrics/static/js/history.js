// Time series: the recent past the service keeps (/history, read once when the page opens),
// then one sample per /stats poll.
//
// /stats only describes "now" (rolling windows); each poll adds one sample per series here, and
// samples older than the retention are dropped. /history gives the same figures for the last ten
// minutes (each point: the minute ending at its time, as /stats' 1m window had it), so the charts
// start full rather than from a single dot. A value that has no meaning (a hit rate with no
// requests, a lag with no invalidations) is stored as null so charts show a gap, not a zero.

import { isNumber } from "./format.js";

export const RETENTION_SECONDS = 10 * 60;
export const TOP_ENDPOINT_SERIES = 5;

const orNull = (value) => (isNumber(value) ? value : null);

// One poll's worth of chart values, read from a /stats document.
function sampleOf(stats, atSeconds) {
  const overall = stats.windows?.["1m"]?.overall ?? {};
  const hasRequests = (overall.requests ?? 0) > 0;
  const latency = overall.latency_ms ?? {};
  const invalidation = stats.invalidation ?? {};
  const hasInvalidations = (invalidation.count_1m ?? 0) > 0;
  const lag = invalidation.lag_ms ?? {};
  const endpointRps = new Map();
  for (const [endpoint, figures] of Object.entries(stats.windows?.["1m"]?.endpoints ?? {})) {
    endpointRps.set(endpoint, orNull(figures?.requests_per_second) ?? 0);
  }
  return {
    at: atSeconds,
    hitRatePercent: hasRequests ? orNull(overall.hit_rate * 100) : null,
    latencyP50: hasRequests ? orNull(latency.p50) : null,
    latencyP95: hasRequests ? orNull(latency.p95) : null,
    latencyP99: hasRequests ? orNull(latency.p99) : null,
    redisUsedMemory: orNull(stats.redis?.used_memory),
    invalidationLagP50: hasInvalidations ? orNull(lag.p50) : null,
    invalidationLagP99: hasInvalidations ? orNull(lag.p99) : null,
    endpointRps,
  };
}

// One /history point's chart values (the service keeps no history of Redis memory).
function pastSampleOf(point) {
  const hasRequests = (point.requests ?? 0) > 0;
  const latency = point.latency_ms ?? {};
  const hasInvalidations = (point.invalidations ?? 0) > 0;
  const lag = point.invalidation_lag_ms ?? {};
  const endpointRps = new Map();
  for (const [endpoint, perSecond] of Object.entries(point.endpoints ?? {})) {
    endpointRps.set(endpoint, orNull(perSecond) ?? 0);
  }
  return {
    at: point.at_ms / 1000,
    hitRatePercent: hasRequests ? orNull(point.hit_rate * 100) : null,
    latencyP50: hasRequests ? orNull(latency.p50) : null,
    latencyP95: hasRequests ? orNull(latency.p95) : null,
    latencyP99: hasRequests ? orNull(latency.p99) : null,
    redisUsedMemory: null,
    invalidationLagP50: hasInvalidations ? orNull(lag.p50) : null,
    invalidationLagP99: hasInvalidations ? orNull(lag.p99) : null,
    endpointRps,
  };
}

// Seconds since the epoch the snapshot describes: its generated_at, else the time it arrived.
function snapshotTime(stats) {
  const parsed = Date.parse(stats.generated_at ?? "");
  return (Number.isNaN(parsed) ? Date.now() : parsed) / 1000;
}

export class History {
  constructor(retentionSeconds = RETENTION_SECONDS) {
    this.retentionSeconds = retentionSeconds;
    this.samples = [];
  }

  // Adds the snapshot's sample, in place of any sample of the same time or later (the last
  // /history point describes the same minute as the /stats read with it).
  add(stats) {
    const at = snapshotTime(stats);
    while (this.samples.length && this.samples.at(-1).at >= at) this.samples.pop();
    this.samples.push(sampleOf(stats, at));
    this.dropOlderThan(at - this.retentionSeconds);
  }

  // Puts the points of a /history document before the samples already here.
  addPast(points) {
    const first = this.samples[0]?.at ?? Infinity;
    const past = points
      .filter((point) => isNumber(point?.at_ms) && point.at_ms / 1000 < first)
      .map(pastSampleOf)
      .sort((a, b) => a.at - b.at);
    this.samples.unshift(...past);
    const newest = this.samples.at(-1);
    if (newest) this.dropOlderThan(newest.at - this.retentionSeconds);
  }

  dropOlderThan(oldest) {
    while (this.samples.length && this.samples[0].at < oldest) this.samples.shift();
  }

  times() {
    return this.samples.map((sample) => sample.at);
  }

  // uPlot's data layout: [times, series 1 values, series 2 values, ...].
  columns(...fields) {
    return [this.times(), ...fields.map((field) => this.samples.map((sample) => sample[field]))];
  }

  endpointColumns(endpoints) {
    const perEndpoint = endpoints.map((endpoint) =>
      this.samples.map((sample) => sample.endpointRps.get(endpoint) ?? 0),
    );
    return [this.times(), ...perEndpoint];
  }
}

// The endpoints worth a series: the 5-minute top list first, then the busiest of the last minute.
export function chartedEndpoints(stats, limit = TOP_ENDPOINT_SERIES) {
  const names = (stats.top_endpoints ?? []).map((row) => row.endpoint).filter(Boolean);
  const lastMinute = Object.entries(stats.windows?.["1m"]?.endpoints ?? {})
    .sort(([, a], [, b]) => (b?.requests_per_second ?? 0) - (a?.requests_per_second ?? 0))
    .map(([endpoint]) => endpoint);
  return [...new Set([...names, ...lastMinute])].slice(0, limit);
}

// How many non-null values the given columns hold (the x column excluded).
export function pointCount(data) {
  return data.slice(1).reduce((total, column) => total + column.filter(isNumber).length, 0);
}
