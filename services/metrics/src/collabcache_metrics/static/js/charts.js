// TimeChart: one uPlot time-series chart in a <figure>, with an empty-state overlay.
//
// The figure carries data-state ("loading", "empty" or "live"), data-points (the number of
// plotted, non-null values) and data-time-ticks (the time axis' labels) so the page's state can
// be read without looking at pixels.

import { clockTime } from "./format.js";
import { pointCount } from "./history.js";

/* global uPlot -- loaded by a classic <script> (static/vendor/uPlot.iife.min.js) */

export const PALETTE = ["#2563eb", "#f59e0b", "#dc2626", "#16a34a", "#9333ea", "#0891b2"];
const AXIS_COLOR = "#64748b";
const Y_AXIS_WIDTH = 84;
const GRID_COLOR = "#e2e8f0";

const MIN_SPAN_SECONDS = 60;
const LOADING_TEXT = "Loading…";

// From zero to a little above the largest value, so lines never touch the top.
const fromZero = (_plot, _min, max) => [0, max > 0 ? max * 1.15 : 1];

// From the oldest sample to the newest, at least a minute wide, so that a young or empty chart
// still has real times on its axis. Read from the data itself: given one sample (or none), uPlot
// would pass a range of a whole day (or of nothing) and tick it at midnights ("00:00:00").
const recentTimes = (times) => {
  const end = times.at(-1) ?? Date.now() / 1000;
  return [Math.min(times[0] ?? end, end - MIN_SPAN_SECONDS), end];
};

// A value with a gap on both sides (the one Redis memory sample of a page just opened, a lone
// minute of traffic) is part of no line: uPlot is asked to draw it as a dot.
const lonePoints = (plot, seriesIndex, shown) => {
  if (shown) return null; // every point is drawn already
  const values = plot.data[seriesIndex];
  const lone = [];
  values.forEach((value, i) => {
    if (value != null && values[i - 1] == null && values[i + 1] == null) lone.push(i);
  });
  return lone.length > 0 ? lone : null;
};

export class TimeChart {
  // series: [{label, color?}]; format: value -> text (axis, legend); yRange: uPlot range;
  // yIncrements: the steps between y ticks uPlot may choose from (its default: decimal steps);
  // emptyText: shown while no value is plotted; fill: shade the area under the first series.
  constructor(
    figure,
    { series, format, yRange = fromZero, yIncrements, emptyText, fill = false, height = 190 },
  ) {
    this.figure = figure;
    this.body = figure.querySelector(".chart-body");
    this.format = format;
    this.yRange = yRange;
    this.yIncrements = yIncrements;
    this.fill = fill;
    this.height = height;
    this.series = series;
    this.plot = null;
    this.emptyText = emptyText;
    this.overlay = this.makeOverlay();
    this.data = [[], ...series.map(() => [])];
    this.build();
    this.figure.dataset.state = "loading"; // until the first update
    this.overlay.textContent = LOADING_TEXT;
    new ResizeObserver(() => this.fitWidth()).observe(this.body);
  }

  // New values; a different `series` list (e.g. other top endpoints) rebuilds the chart.
  update(data, series = this.series) {
    this.data = data;
    if (seriesKey(series) !== seriesKey(this.series)) {
      this.series = series;
      this.build();
    } else {
      this.plot.setData(data);
    }
    this.showLatestInLegend();
    this.showState(pointCount(data));
  }

  // The overlay covers the plotting area only (uPlot's bbox is in canvas pixels).
  coverPlottingArea(plot) {
    const { left, top, width, height } = plot.bbox;
    const css = (pixels) => `${pixels / uPlot.pxRatio}px`;
    Object.assign(this.overlay.style, {
      left: css(left),
      top: css(top),
      width: css(width),
      height: css(height),
    });
  }

  // The legend shows the values under the cursor; without a cursor, the newest ones.
  showLatestInLegend(plot = this.plot) {
    const newest = this.data[0].length - 1;
    if (newest >= 0 && !(plot.cursor.left >= 0)) plot.setLegend({ idx: newest });
  }

  makeOverlay() {
    const overlay = document.createElement("div");
    overlay.className = "chart-empty";
    this.body.append(overlay);
    return overlay;
  }

  showState(points) {
    this.figure.dataset.points = String(points);
    this.figure.dataset.state = points > 0 ? "live" : "empty";
    this.overlay.textContent = this.emptyText;
    this.overlay.hidden = points > 0;
  }

  // The time axis' labels, as drawn.
  timeTicks(splits) {
    const labels = splits.map((seconds) => clockTime(seconds * 1000));
    this.figure.dataset.timeTicks = labels.join(" ");
    return labels;
  }

  build() {
    this.plot?.destroy();
    this.plot = new uPlot(this.options(), this.data, this.body);
    this.showState(pointCount(this.data));
  }

  fitWidth() {
    const width = Math.floor(this.body.clientWidth);
    if (this.plot && width > 0 && width !== this.plot.width) {
      this.plot.setSize({ width, height: this.height });
    }
  }

  options() {
    const valueText = (_plot, value) => (value == null ? "—" : this.format(value));
    return {
      width: Math.max(Math.floor(this.body.clientWidth), 200),
      height: this.height,
      scales: {
        x: { time: true, range: () => recentTimes(this.data[0]) },
        y: { range: this.yRange },
      },
      series: [
        { label: "time", value: "{HH}:{mm}:{ss}" },
        ...this.series.map((spec, index) => {
          const color = spec.color ?? PALETTE[index % PALETTE.length];
          return {
            label: spec.label,
            stroke: color,
            width: 2,
            fill: this.fill && index === 0 ? `${color}1f` : undefined,
            points: { filter: lonePoints },
            value: valueText,
          };
        }),
      ],
      axes: [
        {
          stroke: AXIS_COLOR,
          grid: { stroke: GRID_COLOR },
          ticks: { stroke: GRID_COLOR },
          size: 32,
          space: 70,
          values: (_plot, splits) => this.timeTicks(splits),
        },
        {
          stroke: AXIS_COLOR,
          grid: { stroke: GRID_COLOR },
          ticks: { stroke: GRID_COLOR },
          size: Y_AXIS_WIDTH,
          ...(this.yIncrements && { incrs: this.yIncrements }),
          values: (_plot, splits) => splits.map((value) => this.format(value)),
        },
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      hooks: {
        ready: [(plot) => this.showLatestInLegend(plot), (plot) => this.coverPlottingArea(plot)],
        setSize: [(plot) => this.coverPlottingArea(plot)],
      },
    };
  }
}

const seriesKey = (series) => series.map((spec) => spec.label).join("\n");
