// The readouts, the top-endpoint table and the recent-activity list, rendered from one snapshot.
// Text from the server is always set with textContent, never parsed as HTML.

import * as fmt from "./format.js";

const ACTIVITY_ROWS = 20;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setReadout(id, value, detail) {
  const card = document.getElementById(id);
  card.querySelector(".value").textContent = value;
  card.querySelector(".detail").textContent = detail;
}

export function renderReadouts(stats) {
  const windows = stats.windows ?? {};
  const lastMinute = windows["1m"]?.overall ?? {};
  const hasTraffic = (lastMinute.requests ?? 0) > 0;
  const otherRates = ["5m", "1h"]
    .filter((name) => (windows[name]?.overall?.requests ?? 0) > 0)
    .map((name) => `${name} ${fmt.percent(windows[name].overall.hit_rate)}`);

  setReadout(
    "readout-hit-rate",
    hasTraffic ? fmt.percent(lastMinute.hit_rate) : "—",
    hasTraffic
      ? otherRates.join(" · ") || `${fmt.count(lastMinute.hits)} hits`
      : "waiting for traffic",
  );
  setReadout(
    "readout-rps",
    fmt.rate(lastMinute.requests_per_second ?? 0),
    `${fmt.count(lastMinute.requests ?? 0)} requests in 1m`,
  );
  const latency = lastMinute.latency_ms ?? {};
  setReadout(
    "readout-latency",
    hasTraffic ? fmt.milliseconds(latency.p95) : "—",
    hasTraffic ? `p50 ${fmt.milliseconds(latency.p50)} · p99 ${fmt.milliseconds(latency.p99)}` : "",
  );

  const redis = stats.redis ?? {};
  setReadout(
    "readout-redis",
    fmt.bytes(redis.used_memory),
    `${fmt.count(redis.keys)} keys · ${fmt.count(redis.evicted_keys)} evicted`,
  );

  const invalidation = stats.invalidation ?? {};
  const lag = invalidation.lag_ms ?? {};
  setReadout(
    "readout-invalidation",
    fmt.rate(invalidation.per_second ?? 0),
    (invalidation.count_1m ?? 0) > 0
      ? `lag p50 ${fmt.milliseconds(lag.p50)} · p99 ${fmt.milliseconds(lag.p99)}`
      : "none in the last minute",
  );

  const streams = stats.streams ?? {};
  const cacheEvents = streams.cache_events ?? {};
  setReadout(
    "readout-streams",
    fmt.isNumber(cacheEvents.lag) ? fmt.count(cacheEvents.lag) : "—",
    `pending ${fmt.count(cacheEvents.pending)} · domain lag ${fmt.count(streams.domain_events?.lag)}`,
  );
}

export function renderTopEndpoints(rows) {
  const body = document.querySelector("#top-endpoints tbody");
  body.replaceChildren(
    ...rows.map((row) => {
      const tr = element("tr");
      tr.append(
        element("td", "endpoint", row.endpoint),
        element("td", "num", fmt.count(row.requests)),
        element("td", "num", fmt.percent(row.hit_rate)),
        element("td", "num", fmt.milliseconds(row.p95_ms)),
      );
      return tr;
    }),
  );
  document.getElementById("top-endpoints").hidden = rows.length === 0;
  document.getElementById("top-endpoints-empty").hidden = rows.length > 0;
}

export function renderRecentActivity(events) {
  const list = document.getElementById("recent-activity");
  list.replaceChildren(
    ...events.slice(0, ACTIVITY_ROWS).map((event) => {
      const outcome = String(event.outcome ?? "").toLowerCase();
      const what = element("span", "what");
      what.append(
        element("span", "endpoint", event.endpoint ?? ""),
        element("span", "family muted", event.family ?? ""),
      );
      const item = element("li");
      item.append(
        element("time", "at", fmt.clockTime(event.at_ms, true)),
        element("span", `outcome outcome-${outcome}`, outcome.toUpperCase() || "?"),
        what,
        element("span", "latency", fmt.milliseconds(event.latency_ms)),
      );
      return item;
    }),
  );
  list.hidden = events.length === 0;
  document.getElementById("recent-activity-empty").hidden = events.length > 0;
}
