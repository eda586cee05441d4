/**
 * What the drill prints and writes: one table (design × carts lost, % lost, rolling-restart losses,
 * failed requests, imbalance, wall time), and a small self-contained HTML page (inline SVG, no CDN)
 * with a chart of the same figures.
 */

import type { DesignResult, DrillOptions } from './run';
import type { LengthSummary } from './sessions';

export interface DrillReport {
  drill: 'black-friday';
  version: 1;
  command: string;
  startedAt: string;
  options: DrillOptions & { only: string | null };
  machine: { node: string; cores: number; loadBefore: number[]; loadAfter: number[] };
  sessionLengths: LengthSummary;
  designs: DesignResult[];
  wallMs: number;
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function tableRows(report: DrillReport): string[][] {
  return report.designs.map((d) => [
    d.label,
    `${d.readBack.lost} of ${d.readBack.read}`,
    `${d.readBack.lostPercent} %`,
    `${d.rolling.lostItems} of ${d.rolling.itemsAcknowledged} items`,
    `${d.fill.failedRequests + d.readBack.failedRequests + d.rolling.failedRequests + d.imbalance.failedRequests} (${d.rolling.failedRequests} in the restart)`,
    `${d.imbalance.requestsMaxOverMean} / ${d.imbalance.concurrentMaxOverMean}`,
    seconds(d.wallMs),
  ]);
}

export const HEADER = [
  'design',
  'carts lost',
  '% lost',
  'rolling restart: lost',
  'failed requests',
  'imbalance max/mean (requests / sessions)',
  'wall time',
];

export function markdownTable(report: DrillReport): string {
  const rows = tableRows(report);
  return [
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map(() => '---').join(' | ')} |`,
    ...rows.map((row) => `| ${row.join(' | ')} |`),
  ].join('\n');
}

/** The table for a terminal: columns padded to their widest cell. */
export function textTable(report: DrillReport): string {
  const rows = [HEADER, ...tableRows(report)];
  const widths = HEADER.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const line = (row: string[]) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  return [line(HEADER), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n');
}

export function footnote(report: DrillReport): string {
  const s = report.sessionLengths;
  return [
    `${report.options.carts} carts, ${report.options.servers} servers, ${report.options.concurrency} requests at once, seed ${report.options.seed}; ${report.options.mine ? 'your lessons' : 'the finished lessons'}.`,
    `Crash: ${report.designs[0]?.crash.server ?? 'server #3'} SIGKILLed and restarted. Rolling restart: SIGTERM, restart, /health, next, while ${report.designs[0]?.rolling.visitors ?? 0} visitors keep adding.`,
    `Imbalance crowd: ${s.sessions} sessions, ${s.distribution}; median ${s.median}, mean ${s.mean}, p99 ${s.p99}, max ${s.max} requests; the longest 1 % make ${Math.round(s.top1PercentShare * 100)} % of the requests.`,
    `Node ${report.machine.node}, ${report.machine.cores} cores, load average ${report.machine.loadBefore.map((l) => l.toFixed(2)).join(' ')} before, ${report.machine.loadAfter.map((l) => l.toFixed(2)).join(' ')} after; ${seconds(report.wallMs)} in all.`,
  ].join('\n');
}

// ── HTML ─────────────────────────────────────────────────────────────────────────────────────────

const COLORS: Record<string, string> = { sticky: '#d9480f', stateless: '#2b8a3e' };

interface Panel {
  title: string;
  unit: string;
  value: (d: DesignResult) => number;
  /** A reference line (imbalance 1 = perfectly even). */
  reference?: number;
}

const PANELS: Panel[] = [
  { title: 'Carts lost after the crash', unit: '%', value: (d) => d.readBack.lostPercent },
  { title: 'Items lost in the rolling restart', unit: '%', value: (d) => d.rolling.lostItemsPercent },
  { title: 'Failed requests in the rolling restart', unit: '', value: (d) => d.rolling.failedRequests },
  {
    title: 'Imbalance, requests (max/mean)',
    unit: '×',
    value: (d) => d.imbalance.requestsMaxOverMean,
    reference: 1,
  },
  {
    title: 'Imbalance, concurrent sessions (max/mean)',
    unit: '×',
    value: (d) => d.imbalance.concurrentMaxOverMean,
    reference: 1,
  },
  { title: 'Wall time', unit: 's', value: (d) => d.wallMs / 1000 },
];

function panelSvg(panel: Panel, designs: DesignResult[]): string {
  const width = 300;
  const height = 170;
  const top = 34;
  const bottom = 140;
  const values = designs.map(panel.value);
  const max = Math.max(panel.reference ?? 0, ...values) * 1.15 || 1;
  const y = (v: number) => bottom - ((bottom - top) * v) / max;
  const barWidth = 70;
  const gap = (width - designs.length * barWidth) / (designs.length + 1);
  const bars = designs
    .map((d, i) => {
      const v = values[i] ?? 0;
      const x = gap + i * (barWidth + gap);
      const label = `${Number.isInteger(v) ? v : v.toFixed(2)}${panel.unit ? ` ${panel.unit}` : ''}`;
      return [
        `<rect x="${x}" y="${y(v)}" width="${barWidth}" height="${Math.max(0, bottom - y(v))}" fill="${COLORS[d.design] ?? '#555'}"><title>${escapeHtml(d.label)}: ${label}</title></rect>`,
        `<text x="${x + barWidth / 2}" y="${y(v) - 5}" text-anchor="middle" font-size="12">${escapeHtml(label)}</text>`,
        `<text x="${x + barWidth / 2}" y="${bottom + 16}" text-anchor="middle" font-size="11">${escapeHtml(d.design)}</text>`,
      ].join('');
    })
    .join('');
  const reference =
    panel.reference !== undefined
      ? `<line x1="0" x2="${width}" y1="${y(panel.reference)}" y2="${y(panel.reference)}" stroke="#888" stroke-dasharray="4 3"/>`
      : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(panel.title)}"><text x="4" y="16" font-size="13" font-weight="bold">${escapeHtml(panel.title)}</text><line x1="0" x2="${width}" y1="${bottom}" y2="${bottom}" stroke="#333"/>${reference}${bars}</svg>`;
}

export function html(report: DrillReport): string {
  const rows = tableRows(report)
    .map((row) => `<tr>${row.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>The Black Friday drill — ${report.options.carts} carts</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem; max-width: 70rem; color: #222; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; }
th { background: #f3f3f3; }
.charts { display: flex; flex-wrap: wrap; gap: 1rem; }
.charts svg { border: 1px solid #eee; background: #fff; }
pre { background: #f7f7f7; padding: .6rem; white-space: pre-wrap; }
</style>
</head>
<body>
<h1>The Black Friday drill</h1>
<p><code>${escapeHtml(report.command)}</code> · ${escapeHtml(report.startedAt)}</p>
<table>
<tr>${HEADER.map((cell) => `<th>${escapeHtml(cell)}</th>`).join('')}</tr>
${rows}
</table>
<div class="charts">
${PANELS.map((panel) => panelSvg(panel, report.designs)).join('\n')}
</div>
<pre>${escapeHtml(footnote(report))}</pre>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] ?? c);
}
