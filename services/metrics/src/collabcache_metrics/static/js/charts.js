// TimeChart: one uPlot time-series chart in a <figure>, with an empty-state overlay.
//
// The figure carries data-state ("empty" or "live") and data-points (the number of plotted,
// non-null values) so the page's state can be read without looking at pixels.

import { pointCount } from "./history.js";

/* global uPlot -- loaded by a classic <script> (static/vendor/uPlot.iife.min.js) */

export const PALETTE = ["#2563eb", "#f59e0b", "#dc2626", "#16a34a", "#9333ea", "#0891b2"];
const AXIS_COLOR = "#64748b";
const GRID_COLOR = "#e2e8f0";

// From zero to a little above the largest value, so lines never touch the top.
const fromZero = (_plot, _min, max) => [0, max > 0 ? max * 1.15 : 1];

export class TimeChart {
  // series: [{label, color?}]; format: value -> text (axis, legend); yRange: uPlot range;
  // emptyText: shown while no value is plotted; fill: shade the area under the first series.
  constructor(figure, { series, format, yRange = fromZero, emptyText, fill = false, height = 190 }) {
    this.figure = figure;
    this.body = figure.querySelector(".chart-body");
    this.format = format;
    this.yRange = yRange;
    this.fill = fill;
    this.height = height;
    this.series = series;
    this.plot = null;
    this.overlay = this.makeOverlay(emptyText);
    this.data = [[], ...series.map(() => [])];
    this.build();
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
    this.showState(pointCount(data));
  }

  makeOverlay(text) {
    const overlay = document.createElement("div");
    overlay.className = "chart-empty";
    overlay.textContent = text;
    this.body.append(overlay);
    return overlay;
  }

  showState(points) {
    this.figure.dataset.points = String(points);
    this.figure.dataset.state = points > 0 ? "live" : "empty";
    this.overlay.hidden = points > 0;
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
      scales: { x: { time: true }, y: { range: this.yRange } },
      series: [
        {},
        ...this.series.map((spec, index) => {
          const color = spec.color ?? PALETTE[index % PALETTE.length];
          return {
            label: spec.label,
            stroke: color,
            width: 2,
            fill: this.fill && index === 0 ? `${color}1f` : undefined,
            value: valueText,
          };
        }),
      ],
      axes: [
        { stroke: AXIS_COLOR, grid: { stroke: GRID_COLOR }, ticks: { stroke: GRID_COLOR } },
        {
          stroke: AXIS_COLOR,
          grid: { stroke: GRID_COLOR },
          ticks: { stroke: GRID_COLOR },
          size: 70,
          values: (_plot, splits) => splits.map((value) => this.format(value)),
        },
      ],
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
    };
  }
}

const seriesKey = (series) => series.map((spec) => spec.label).join("\n");
