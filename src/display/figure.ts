/**
 * Plotly figures as plain data: what plotly.js's newPlot takes and what Jupyter's
 * application/vnd.plotly.v1+json carries. Builders return these so they can be tested in
 * node and displayed in a notebook without a Plotly dependency on the kernel side.
 */

/** One Plotly trace; only the attributes the builders set are typed. */
export interface Trace {
  type: "bar" | "scatter";
  name?: string;
  x?: Array<number | string>;
  y?: Array<number | string>;
  /** Bar start for horizontal timeline bars (bars run from base to base + x). */
  base?: number[];
  orientation?: "h" | "v";
  mode?: "lines" | "markers" | "lines+markers" | "text" | "markers+text" | "lines+markers+text";
  text?: string[] | string;
  textposition?: "auto" | "inside" | "outside" | "none" | "top center";
  hovertext?: string[];
  hovertemplate?: string;
  hoverinfo?: string;
  marker?: { color?: string | string[]; size?: number; symbol?: string };
  line?: { color?: string; dash?: "solid" | "dash" | "dot"; width?: number; shape?: "linear" };
  legendgroup?: string;
  showlegend?: boolean;
  width?: number | number[];
  xaxis?: string;
  yaxis?: string;
}

export interface Axis {
  title?: { text: string };
  type?: "linear" | "log" | "category";
  range?: [number, number];
  rangemode?: "tozero" | "normal";
  autorange?: boolean | "reversed";
  tickformat?: string;
  ticksuffix?: string;
  dtick?: number;
  zeroline?: boolean;
  automargin?: boolean;
  categoryorder?: "array" | "trace";
  categoryarray?: string[];
}

export interface Annotation {
  text: string;
  x?: number | string;
  y?: number | string;
  xref?: "paper" | "x";
  yref?: "paper" | "y";
  showarrow?: boolean;
  font?: { size?: number; color?: string };
  xanchor?: "left" | "center" | "right";
  yanchor?: "top" | "middle" | "bottom";
}

export interface Layout {
  title?: { text: string };
  xaxis?: Axis;
  yaxis?: Axis;
  barmode?: "group" | "overlay" | "stack";
  height?: number;
  width?: number;
  margin?: { l?: number; r?: number; t?: number; b?: number };
  annotations?: Annotation[];
  legend?: {
    orientation?: "h" | "v";
    x?: number;
    y?: number;
    xanchor?: "left" | "center" | "right";
    yanchor?: "top" | "middle" | "bottom";
    traceorder?: "normal" | "grouped";
  };
  showlegend?: boolean;
  hovermode?: "closest" | "x" | "y" | false;
  template?: string;
}

export interface PlotConfig {
  responsive?: boolean;
  displaylogo?: boolean;
  displayModeBar?: boolean;
}

/** A figure plus the one-line text a reader sees where HTML cannot render. */
export interface Figure {
  data: Trace[];
  layout: Layout;
  config: PlotConfig;
  /** text/plain of the displayed output: the numbers the figure shows, in words. */
  summary: string;
}

/** Colours used for the same thing in every figure, so runs read alike across plots. */
export const COLORS = {
  sequential: "#7f7f7f",
  concurrent: "#1f77b4",
  ideal: "#2ca02c",
  failed: "#d62728",
  accent: "#ff7f0e",
} as const;

export const DEFAULT_CONFIG: PlotConfig = { responsive: true, displaylogo: false };
