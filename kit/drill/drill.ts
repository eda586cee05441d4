/**
 * `npm run drill` — the Black Friday drill (issue 13): 50,000 carts, server #3 crashes, count what is
 * lost; then a rolling restart, and a crowd with heavy-tailed sessions to show sticky routing's hot
 * servers. Real processes: a redis-server, the shop servers, lesson 04's balancer.
 *
 *   npm run drill                          both designs, 50,000 carts, 3 servers
 *   npm run drill -- --carts 5000          smaller (under a minute on a 2-core machine)
 *   npm run drill -- --only sticky         one design: sticky | stateless
 *   npm run drill -- --mine                your lessons 02, 03 and 04 instead of the finished ones
 *   npm run drill -- --json out/bf.json    where the JSON goes (the HTML page goes beside it)
 *   npm run drill -- --servers 4 --concurrency 32 --seed 13
 *
 * Ends with one table; writes the JSON (default .course/drill/black-friday.json) and an HTML page
 * with a chart. Ctrl-C (or SIGTERM) stops every process it started before it exits.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Presets, SingleBar } from 'cli-progress';
import { prepareTarget, ROOT } from '../jest/target';
import { type EmbeddedRedis, findRedisBinary, startEmbeddedRedis } from '../redis/embedded';
import { serverProcesses } from '../spec/processes';
import { DESIGN_LABEL, DESIGNS, type Design } from './fleet';
import { type DrillReport, footnote, html, textTable } from './report';
import { type DesignResult, DrillAborted, type DrillOptions, runDesign } from './run';
import { sessionLengths, summarize } from './sessions';

const USAGE = `usage: npm run drill -- [--carts N] [--servers N] [--only sticky|stateless] [--json FILE] [--mine]
                        [--concurrency N] [--seed N]`;

function readOptions(): { options: DrillOptions; only: Design | undefined; json: string } {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse();
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const whole = (name: string, raw: string, min: number): number => {
    const value = Number(raw);
    if (!/^\d+$/.test(raw) || value < min) fail(`--${name} must be a whole number ≥ ${min}, got "${raw}"`);
    return value;
  };
  const only = values.only as Design | undefined;
  if (only !== undefined && !DESIGNS.includes(only))
    fail(`--only must be sticky or stateless, got "${only}"`);
  return {
    options: {
      carts: whole('carts', values.carts, 1),
      servers: whole('servers', values.servers, 1),
      concurrency: whole('concurrency', values.concurrency, 1),
      mine: values.mine === true,
      seed: whole('seed', values.seed, 0),
    },
    only,
    json: resolve(
      process.env.INIT_CWD ?? process.cwd(),
      values.json ?? join(ROOT, '.course', 'drill', 'black-friday.json'),
    ),
  };
}

function parse() {
  return parseArgs({
    options: {
      carts: { type: 'string', default: '50000' },
      servers: { type: 'string', default: '3' },
      only: { type: 'string' },
      json: { type: 'string' },
      mine: { type: 'boolean' },
      concurrency: { type: 'string', default: '32' },
      seed: { type: 'string', default: '13' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}

function fail(message: string): never {
  console.error(`drill: ${message}\n${USAGE}`);
  process.exit(2);
}

// ── Everything started is stopped: at the end, on an error, on Ctrl-C ────────────────────────────
/** The current design's processes (a fleet is stopped as a whole before the next one starts). */
let processes = serverProcesses();
let redis: EmbeddedRedis | undefined;
let aborted = false;
let bar: SingleBar | undefined;

async function stopEverything(): Promise<void> {
  bar?.stop();
  bar = undefined;
  await processes.stopAll();
  await redis?.stop().catch(() => undefined);
  redis = undefined;
}

function onSignal(signal: NodeJS.Signals): void {
  if (aborted) process.exit(130); // a second Ctrl-C: leave now (the children watch their stdin and die)
  aborted = true;
  console.error(`\ndrill: ${signal}, stopping every process it started…`);
  void stopEverything().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// ── Progress: a bar on a terminal, one line per phase otherwise ──────────────────────────────────
const tty = process.stderr.isTTY === true;

function progress(design: Design, phase: string, done: number, total: number): void {
  if (!tty || aborted) return;
  if (!bar) {
    bar = new SingleBar(
      {
        format: ' {design} · {phase} [{bar}] {value}/{total} · {duration}s',
        stream: process.stderr,
        hideCursor: true,
        clearOnComplete: true,
      },
      Presets.shades_classic,
    );
    bar.start(total, done, { design, phase });
  }
  bar.setTotal(total);
  bar.update(done, { design, phase });
}

function phaseLine(design: Design, phase: string, ms: number, summary: string): void {
  if (aborted) return; // a phase cut short by Ctrl-C has nothing to report
  bar?.stop();
  bar = undefined;
  console.log(`${design.padEnd(9)} ${phase.padEnd(15)} ${(ms / 1000).toFixed(1).padStart(6)} s  ${summary}`);
}

async function main(): Promise<void> {
  const { options, only, json } = readOptions();
  const started = performance.now();
  const loadBefore = loadavg().map((l) => Math.round(l * 100) / 100);
  const designs = only ? [only] : [...DESIGNS];
  console.log(
    `Black Friday drill: ${options.carts} carts, ${options.servers} servers, ${designs.map((d) => DESIGN_LABEL[d]).join(' vs ')} — ${options.mine ? 'YOUR lessons' : 'the finished lessons'} · load ${loadBefore.join(' ')}`,
  );
  prepareTarget();
  const results: DesignResult[] = [];
  try {
    for (const design of designs) {
      if (design === 'stateless' && !redis) redis = await startEmbeddedRedis(findRedisBinary());
      results.push(
        await runDesign(design, options, processes, design === 'stateless' ? redis : undefined, {
          progress: (p) => progress(p.design, p.phase, p.done, p.total),
          phaseDone: (end) => phaseLine(end.design, end.phase, end.ms, end.summary),
          aborted: () => aborted,
        }),
      );
      await processes.stopAll(); // this design's fleet; the next one starts its own
      if (!aborted) processes = serverProcesses();
    }
  } finally {
    if (!aborted) await stopEverything();
  }
  const report: DrillReport = {
    drill: 'black-friday',
    version: 1,
    command: `npm run drill -- ${process.argv.slice(2).join(' ')}`.trim().replace(/ --$/, ''),
    startedAt: new Date().toISOString(),
    options: { ...options, only: only ?? null },
    machine: {
      node: process.version,
      cores: cpus().length,
      loadBefore,
      loadAfter: loadavg().map((l) => Math.round(l * 100) / 100),
    },
    sessionLengths: summarize(sessionLengths(Math.min(options.carts, 2000), options.seed)),
    designs: results,
    wallMs: Math.round(performance.now() - started),
  };
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  const page = `${json.replace(/\.json$/, '')}.html`;
  writeFileSync(page, html(report));
  console.log(`\n${textTable(report)}\n\n${footnote(report)}`);
  console.log(`\nJSON: ${relative(process.cwd(), json)} · chart: ${relative(process.cwd(), page)}`);
}

main().catch(async (error: unknown) => {
  if (error instanceof DrillAborted || aborted) return; // the signal handler is stopping everything
  await stopEverything();
  console.error(`\ndrill stopped: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
