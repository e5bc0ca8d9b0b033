// Pictures of a simulation: a terminal chart (plain Unicode, fits 100 columns) and an SVG
// written by hand. Both plot what the steps recorded: demand as the daemon read it and the
// replica count after each decision.
import type { Step, TracePoint } from './model';

export interface ChartSet {
  /** short id, e.g. "A" */
  id: string;
  /** what distinguishes the set, e.g. "max_inst=40, scale_down_delay=600" */
  name: string;
  steps: readonly Step[];
  /** one line under the legend entry (the SVG), e.g. the summary numbers */
  note?: string;
}

export interface ChartInput {
  title: string;
  trace: readonly TracePoint[];
  /** seconds: the time axis runs from 0 to here */
  end: number;
  sets: readonly ChartSet[];
  footnote?: string;
}

// ---------------------------------------------------------------- numbers and times

/** "45s", "3m05s", "2h07m": durations for people. */
export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${Number.isInteger(seconds) || seconds >= 10 ? s : seconds.toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}

/** Tick label on a time axis: seconds on short axes, h:mm on longer ones. */
export function timeLabel(seconds: number, axisEnd: number): string {
  if (axisEnd <= 600) return `${Math.round(seconds)}s`;
  const minutes = Math.round(seconds / 60);
  return `${Math.floor(minutes / 60)}:${pad(minutes % 60)}`;
}

export function timeAxisUnit(axisEnd: number): string {
  return axisEnd <= 600 ? 'seconds' : 'h:mm';
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/** The smallest round time step giving at most `count` intervals over [0, end]. */
export function timeStep(end: number, count: number): number {
  for (const step of TIME_STEPS) if (end / step <= count) return step;
  return Math.ceil(end / count / 86400) * 86400;
}

/** 1, 2, 5 × 10^k at or above `value` (and at least 1). */
export function niceCeil(value: number): number {
  if (value <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const m of [1, 2, 5, 10]) if (m * magnitude >= value) return m * magnitude;
  return 10 * magnitude;
}

/** A 1, 2, 5 × 10^k step (at least 1) giving at most 5 intervals up to `max`. */
export function tickStep(max: number): number {
  for (let magnitude = 1; ; magnitude *= 10) {
    for (const m of [1, 2, 5]) if (max / (m * magnitude) <= 5) return m * magnitude;
  }
}

function formatCount(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(1);
}

/**
 * The highest value of a step series in each of `count` equal buckets over [0, end]; a value
 * holds from its step's time until the next step.
 */
export function bucketMax(steps: readonly Step[], pick: (s: Step) => number, end: number, count: number): number[] {
  const out: number[] = [];
  const width = end / count;
  let j = 0;
  for (let i = 0; i < count; i++) {
    const from = i * width;
    const to = (i + 1) * width;
    while (j + 1 < steps.length && steps[j + 1]!.t <= from) j++;
    const first = steps[j];
    if (first === undefined || first.t >= to) {
      out.push(0);
      continue;
    }
    let max = pick(first);
    for (let k = j + 1; k < steps.length && steps[k]!.t < to; k++) max = Math.max(max, pick(steps[k]!));
    out.push(max);
  }
  return out;
}

function seriesMax(sets: readonly ChartSet[]): number {
  let max = 0;
  for (const set of sets) for (const s of set.steps) max = Math.max(max, s.demand, s.replicas);
  return max;
}

// ---------------------------------------------------------------- terminal

const EIGHTHS = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/**
 * Per label set, replicas and demand as bar areas (eighth blocks), each on a scale shared by
 * all sets so they compare at a glance; one column is the highest value in its time slice.
 */
export function terminalChart(input: ChartInput, width = 100): string[] {
  const labelWidth = 7;
  const plotWidth = Math.max(20, width - labelWidth - 2);
  const end = Math.max(input.end, 1);
  const replicaMax = niceCeil(Math.max(0, ...input.sets.flatMap((s) => s.steps.map((p) => p.replicas))));
  const demandMax = niceCeil(Math.max(0, ...input.sets.flatMap((s) => s.steps.map((p) => p.demand))));
  const lines: string[] = [`one column = ${formatDuration(end / plotWidth)}, the highest value in it`];
  for (const set of input.sets) {
    lines.push('');
    lines.push(`${set.id}  ${set.name}`);
    lines.push(' replicas');
    lines.push(
      ...areaRows(
        bucketMax(set.steps, (s) => s.replicas, end, plotWidth),
        replicaMax,
        6,
        labelWidth,
      ),
    );
    lines.push(' demand (analyses due or assigned)');
    lines.push(
      ...areaRows(
        bucketMax(set.steps, (s) => s.demand, end, plotWidth),
        demandMax,
        4,
        labelWidth,
      ),
    );
    lines.push(`${'0'.padStart(labelWidth - 1)} └${'─'.repeat(plotWidth)}`);
  }
  lines.push(timeAxisLine(end, labelWidth + 1, plotWidth));
  return lines;
}

function areaRows(values: readonly number[], ymax: number, height: number, labelWidth: number): string[] {
  const rows: string[] = [];
  for (let r = height - 1; r >= 0; r--) {
    const cells = values.map((v) => {
      const level = (v / ymax) * height - r;
      if (level >= 1) return '█';
      if (level <= 0) return ' ';
      const eighth = Math.round(level * 8);
      return EIGHTHS[eighth === 0 && r === 0 ? 1 : eighth]!;
    });
    const label =
      r === height - 1
        ? formatCount(ymax)
        : r === Math.floor(height / 2) - 1
          ? formatCount(ymax * ((r + 1) / height))
          : '';
    rows.push(`${label.padStart(labelWidth - 1)} ┤${cells.join('')}`.trimEnd());
  }
  return rows;
}

function timeAxisLine(end: number, indent: number, plotWidth: number): string {
  const step = timeStep(end, Math.floor(plotWidth / 10));
  const chars = Array<string>(indent + plotWidth + 1).fill(' ');
  const unit = `(${timeAxisUnit(end)})`;
  for (let i = 0; i < unit.length && i < indent - 1; i++) chars[i] = unit[i]!;
  let free = indent;
  for (let t = 0; t <= end + 1e-9; t += step) {
    const text = timeLabel(t, end);
    const centred = indent + Math.round((t / end) * plotWidth) - (t === 0 ? 0 : Math.floor(text.length / 2));
    const at = Math.min(centred, chars.length - text.length);
    if (at < free) continue;
    for (let i = 0; i < text.length; i++) chars[at + i] = text[i]!;
    free = at + text.length + 1;
  }
  return chars.join('').trimEnd();
}

// ---------------------------------------------------------------- SVG

const COLORS = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000'];
const DASHES = ['', '7 3', '2 3', '10 3 2 3'];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const n1 = (v: number): string => String(Math.round(v * 10) / 10);

interface Panel {
  top: number;
  height: number;
  title: string;
  yTitle: string;
  ymax: number;
}

/** A stand-alone SVG: arrivals, demand and replicas over time, a legend naming each label set. */
export function svgChart(input: ChartInput): string {
  const width = 1000;
  const left = 78;
  const right = 24;
  const plotW = width - left - right;
  const end = Math.max(input.end, 1);
  const x = (t: number): number => left + (Math.min(t, end) / end) * plotW;

  const arrivalBucket = timeStep(end, 200);
  const arrivalRates = arrivalsPerMinute(input.trace, end, arrivalBucket);
  const countMax = niceCeil(seriesMax(input.sets));
  const panels: Panel[] = [];
  let top = 64;
  for (const [title, yTitle, height, ymax] of [
    [
      `Arrivals (analysis requests per minute, in ${formatDuration(arrivalBucket)} bins)`,
      'requests / min',
      110,
      niceCeil(Math.max(...arrivalRates, 0)),
    ],
    ['Demand the daemon reads (analyses due or assigned to an online replica)', 'analyses', 180, countMax],
    [
      'Replicas (the count set on the Swarm service)',
      'replicas',
      180,
      niceCeil(Math.max(0, ...input.sets.flatMap((s) => s.steps.map((p) => p.replicas)))),
    ],
  ] as const) {
    panels.push({ top, height, title, yTitle, ymax });
    top += height + 62;
  }
  const legendTop = top - 10;
  const legendLine = 40;
  const height = legendTop + input.sets.length * legendLine + (input.footnote ? 28 : 8);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<title>${escapeXml(input.title)}</title>`);
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${left}" y="30" font-size="17" font-weight="600" fill="#222">${escapeXml(input.title)}</text>`);

  const tStep = timeStep(end, 12);
  const lastArrival = input.trace.length > 0 ? input.trace[input.trace.length - 1]!.t : 0;
  for (const [i, p] of panels.entries()) {
    const y = (v: number): number => p.top + p.height - (Math.min(v, p.ymax) / p.ymax) * p.height;
    out.push(
      `<text x="${left}" y="${p.top - 8}" font-size="13" font-weight="600" fill="#222">${escapeXml(p.title)}</text>`,
    );
    out.push(`<rect x="${left}" y="${p.top}" width="${plotW}" height="${p.height}" fill="#fafafa" stroke="#999"/>`);
    const yStep = tickStep(p.ymax);
    for (let k = 0; k * yStep <= p.ymax + 1e-9; k++) {
      const v = k * yStep;
      out.push(`<line x1="${left}" x2="${left + plotW}" y1="${n1(y(v))}" y2="${n1(y(v))}" stroke="#e3e3e3"/>`);
      out.push(`<text x="${left - 6}" y="${n1(y(v) + 4)}" text-anchor="end" fill="#444">${formatCount(v)}</text>`);
    }
    for (let t = 0; t <= end + 1e-9; t += tStep) {
      out.push(`<line x1="${n1(x(t))}" x2="${n1(x(t))}" y1="${p.top}" y2="${p.top + p.height}" stroke="#e3e3e3"/>`);
      out.push(
        `<text x="${n1(x(t))}" y="${p.top + p.height + 15}" text-anchor="middle" fill="#444">${timeLabel(t, end)}</text>`,
      );
    }
    const cy = p.top + p.height / 2;
    out.push(
      `<text x="18" y="${n1(cy)}" transform="rotate(-90 18 ${n1(cy)})" text-anchor="middle" fill="#444">${escapeXml(p.yTitle)}</text>`,
    );
    if (end - lastArrival > end * 0.01) {
      out.push(
        `<line x1="${n1(x(lastArrival))}" x2="${n1(x(lastArrival))}" y1="${p.top}" y2="${p.top + p.height}" stroke="#666" stroke-dasharray="4 4"/>`,
      );
      const nearRight = x(lastArrival) > left + plotW - 90;
      if (i === 0)
        out.push(
          `<text x="${n1(x(lastArrival) + (nearRight ? -4 : 4))}" y="${p.top + 14}"${nearRight ? ' text-anchor="end"' : ''} fill="#555">end of trace</text>`,
        );
    }
    if (i === 0) {
      const bw = (arrivalBucket / end) * plotW;
      const bars = arrivalRates
        .map((rate, b) =>
          rate > 0
            ? `M${n1(x(b * arrivalBucket))},${n1(y(0))}V${n1(y(rate))}h${n1(Math.max(bw - 0.6, 0.4))}V${n1(y(0))}z`
            : '',
        )
        .join('');
      out.push(`<path d="${bars}" fill="#9a9a9a"/>`);
    } else {
      const buckets = Math.floor(plotW / 2);
      for (const [s, set] of input.sets.entries()) {
        const values = bucketMax(set.steps, i === 1 ? (st) => st.demand : (st) => st.replicas, end, buckets);
        out.push(
          `<path d="${stepPath(values, left, plotW / buckets, y)}" fill="none" stroke="${color(s)}" stroke-width="${i === 1 ? 1.6 : 2.2}"${dash(s)} stroke-linejoin="round" opacity="0.9"/>`,
        );
      }
    }
  }
  out.push(
    `<text x="${left + plotW / 2}" y="${panels[2]!.top + panels[2]!.height + 34}" text-anchor="middle" fill="#222">time since the start of the trace (${timeAxisUnit(end)})</text>`,
  );

  for (const [s, set] of input.sets.entries()) {
    const ly = legendTop + s * legendLine + 14;
    out.push(
      `<line x1="${left}" x2="${left + 36}" y1="${ly - 4}" y2="${ly - 4}" stroke="${color(s)}" stroke-width="3"${dash(s)}/>`,
    );
    out.push(
      `<text x="${left + 46}" y="${ly}" font-size="13" fill="#222"><tspan font-weight="600">${escapeXml(set.id)}</tspan>  ${escapeXml(set.name)}</text>`,
    );
    if (set.note) out.push(`<text x="${left + 46}" y="${ly + 16}" fill="#555">${escapeXml(set.note)}</text>`);
  }
  if (input.footnote) out.push(`<text x="${left}" y="${height - 12}" fill="#666">${escapeXml(input.footnote)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

function color(i: number): string {
  return COLORS[i % COLORS.length]!;
}

function dash(i: number): string {
  const d = DASHES[i % DASHES.length]!;
  return d === '' ? '' : ` stroke-dasharray="${d}"`;
}

function stepPath(values: readonly number[], x0: number, dx: number, y: (v: number) => number): string {
  const parts: string[] = [];
  let previous: number | undefined;
  for (const [i, v] of values.entries()) {
    const x = x0 + i * dx;
    if (previous === undefined) parts.push(`M${n1(x)},${n1(y(v))}`);
    else if (v !== previous) parts.push(`H${n1(x)}V${n1(y(v))}`);
    previous = v;
  }
  parts.push(`H${n1(x0 + values.length * dx)}`);
  return parts.join('');
}

function arrivalsPerMinute(trace: readonly TracePoint[], end: number, bucket: number): number[] {
  const counts = Array<number>(Math.ceil(end / bucket)).fill(0);
  for (const p of trace) {
    const b = Math.floor(p.t / bucket);
    if (b < counts.length) counts[b]! += p.arrivals;
  }
  return counts.map((c) => c / (bucket / 60));
}
