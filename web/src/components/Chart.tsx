// ECharts on a canvas, with the parts of the library the dashboards use
// registered once (keeps the bundle small). Charts are images to assistive
// technology: each carries a text summary, and every chart sits beside a
// table or list with the same numbers.

import { BarChart, LineChart, ScatterChart } from "echarts/charts";
import {
  DataZoomComponent,
  GridComponent,
  LegendComponent,
  MarkLineComponent,
  TooltipComponent,
} from "echarts/components";
import * as echarts from "echarts/core";
import { CanvasRenderer } from "echarts/renderers";
import { useEffect, useRef } from "react";

echarts.use([
  BarChart,
  LineChart,
  ScatterChart,
  GridComponent,
  LegendComponent,
  TooltipComponent,
  DataZoomComponent,
  MarkLineComponent,
  CanvasRenderer,
]);

export type ChartOption = echarts.EChartsCoreOption;

interface ChartProps {
  option: ChartOption;
  summary: string;
  height?: number;
}

export function Chart({ option, summary, height = 280 }: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts | null>(null);

  useEffect(() => {
    if (!host.current) return;
    const instance = echarts.init(host.current, undefined, { renderer: "canvas" });
    chart.current = instance;
    const resize = () => instance.resize();
    const observer = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(resize);
    observer?.observe(host.current);
    window.addEventListener("resize", resize);
    return () => {
      observer?.disconnect();
      window.removeEventListener("resize", resize);
      instance.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    chart.current?.setOption({ animation: false, ...option }, { notMerge: true });
  }, [option]);

  return (
    <div
      className="chart"
      ref={host}
      role="img"
      aria-label={summary}
      style={{ height }}
      data-testid="chart"
    />
  );
}

export const PALETTE = [
  "#0f5c4d",
  "#e07a1f",
  "#3b6fb6",
  "#b83b5e",
  "#6a8d2f",
  "#7b4fa3",
  "#c9a227",
  "#5c6770",
];
