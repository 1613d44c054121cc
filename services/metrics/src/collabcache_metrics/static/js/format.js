// Number and time formatting shared by the readouts, the charts' axes and the tables.

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export const isNumber = (value) => typeof value === "number" && Number.isFinite(value);

export function percent(fraction, digits = 1) {
  return isNumber(fraction) ? `${(fraction * 100).toFixed(digits)}%` : "—";
}

export function milliseconds(value) {
  if (!isNumber(value)) return "—";
  if (value >= 1000) return `${(value / 1000).toFixed(2)} s`;
  if (value >= 100) return `${value.toFixed(0)} ms`;
  if (value >= 10) return `${value.toFixed(1)} ms`;
  return `${value.toFixed(2)} ms`;
}

export function rate(perSecond) {
  if (!isNumber(perSecond)) return "—";
  return perSecond >= 100 ? perSecond.toFixed(0) : perSecond.toFixed(1);
}

export function count(value) {
  return isNumber(value) ? Math.round(value).toLocaleString("en-US") : "—";
}

export function bytes(value) {
  if (!isNumber(value)) return "—";
  let unit = 0;
  let scaled = value;
  while (scaled >= 1024 && unit < BYTE_UNITS.length - 1) {
    scaled /= 1024;
    unit += 1;
  }
  return `${scaled.toFixed(unit === 0 ? 0 : 1)} ${BYTE_UNITS[unit]}`;
}

// "18:40:01" (or "18:40:01.234" with milliseconds) in the browser's time zone.
export function clockTime(epochMs, withMilliseconds = false) {
  const date = new Date(epochMs);
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  const hms = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return withMilliseconds ? `${hms}.${pad(date.getMilliseconds(), 3)}` : hms;
}
