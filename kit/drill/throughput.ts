/**
 * `npm run bench -- --throughput` — what the stateless design costs, side by side in one run (issue
 * 13, part 2). autocannon, `connections` at once, `GET /cart` with a session of one item, against:
 *
 *   memory     lesson 02's server (sessions in its memory)
 *   redis      lesson 03's server (sessions in Redis)
 *   balancer   lesson 04's balancer (round-robin) in front of that one lesson 03 server
 *   no-agent   the same balancer with `new Agent({ keepAlive: false })`: a connection per request
 *   haproxy    HAProxy (`balance roundrobin`, http-keep-alive, one thread) in front of the same server,
 *              when a `haproxy` binary is found (skipped with a note otherwise)
 *
 * Each round measures every target once, in turn, so a change in the machine's load hits all of them;
 * the ratios are per round: Redis / memory, balancer / direct, balancer / HAProxy, keep-alive / none,
 * and p50/p99 latency. `--variants` also measures copies of the balancer with one change each (the
 * proposal for lesson 04), built from the finished lesson with a text patch; lesson 04 is not touched.
 *
 *   npm run bench -- --throughput [--duration 5] [--rounds 2] [--variants]
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { build, type Plugin } from 'esbuild';
import { lessonSrcDir, prepareTarget, ROOT } from '../jest/target';
import { type EmbeddedRedis, findRedisBinary, startEmbeddedRedis } from '../redis/embedded';
import { freePort, serverProcesses, watchParentFile } from '../spec/processes';
import { Crowd, Shopper } from './client';

export interface ThroughputOptions {
  /** Seconds per measurement. */
  duration: number;
  rounds: number;
  connections: number;
  variants: boolean;
}

interface Target {
  name: string;
  what: string;
  url: string;
  cookie: string;
  /** The process whose CPU time is counted: the proxy in front, or the server itself. */
  pid: number;
}

interface Measure {
  reqPerSec: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** CPU time (user + system) of the target's own process per 1,000 requests. */
  cpuMsPer1000: number;
}

/** A text patch of the finished lesson 04: `file` ends the path, `from` must be found in it. */
interface Patch {
  file: string;
  from: string;
  to: string;
}

const NO_AGENT: Patch = {
  file: 'src/balancer.ts',
  from: 'new Agent({ keepAlive: true })',
  to: 'new Agent({ keepAlive: false })',
};

/** One change each, measured on a copy (`--variants`): what could bring the balancer nearer HAProxy. */
const VARIANTS: Array<{ name: string; what: string; patches: Patch[] }> = [
  {
    name: 'no-flush',
    what: 'no early flushHeaders() (plumbing.ts passHeadersOnAtOnce)',
    patches: [
      {
        file: '04-load-balancer/src/plumbing.ts',
        from: 'if (!res.headersSent && !res.destroyed) res.flushHeaders();',
        to: '',
      },
    ],
  },
  {
    name: 'passthrough',
    what: 'the body copy as a PassThrough, not Readable.from (balancer.ts forward)',
    patches: [
      {
        file: 'src/balancer.ts',
        from: 'const buffer = Readable.from(body.length > 0 ? [body] : []);',
        to: "const buffer = new (require('node:stream').PassThrough)(); buffer.end(body);",
      },
    ],
  },
  {
    name: 'no-xfwd',
    what: 'xfwd: false (no X-Forwarded-* headers)',
    patches: [{ file: 'src/balancer.ts', from: '{ agent, xfwd: true }', to: '{ agent, xfwd: false }' }],
  },
];

const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export async function runThroughput(options: ThroughputOptions): Promise<void> {
  const load = () =>
    loadavg()
      .map((l) => l.toFixed(2))
      .join(' ');
  console.log(
    `throughput: autocannon -c ${options.connections}, GET /cart with a one-item session, ${options.duration} s per target, ${options.rounds} rounds · Node ${process.version} · ${cpus().length} cores · load ${load()}`,
  );
  prepareTarget();
  const processes = serverProcesses();
  const scratch = mkdtempSync(join(tmpdir(), 'course-throughput-'));
  let redis: EmbeddedRedis | undefined;
  const stop = async () => {
    for (const child of children) child.kill('SIGKILL');
    await processes.stopAll();
    await redis?.stop().catch(() => undefined);
    rmSync(scratch, { recursive: true, force: true });
  };
  const onSignal = () => void stop().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    redis = await startEmbeddedRedis(findRedisBinary());
    const [memory, redisServer] = await Promise.all([
      processes.start({
        lesson: '02-crash',
        entry: 'server.ts',
        finished: true,
        env: { SERVER_ID: 'memory' },
      }),
      processes.start({
        lesson: '03-redis-store',
        entry: 'server.ts',
        finished: true,
        env: { SERVER_ID: 'redis', REDIS_URL: redis.url },
      }),
    ]);
    const balancerEnv = { TARGETS: redisServer.url, STRATEGY: 'round-robin' };
    const balancer = await processes.start({
      lesson: '04-load-balancer',
      entry: 'lb.ts',
      finished: true,
      env: balancerEnv,
    });
    const noAgent = await startBalancerCopy([NO_AGENT], balancerEnv, scratch);
    const haproxy = await startHaproxy(redisServer.url, scratch);
    const variants = options.variants
      ? await Promise.all(
          VARIANTS.map(async (variant) => ({
            ...variant,
            ...(await startBalancerCopy(variant.patches, balancerEnv, scratch)),
          })),
        )
      : [];

    const memoryCookie = await oneItemSession(memory.url);
    const redisCookie = await oneItemSession(redisServer.url);
    const targets: Target[] = [
      { name: 'memory', what: "lesson 02's server (memory store)", ...memory, cookie: memoryCookie },
      { name: 'redis', what: "lesson 03's server (Redis store)", ...redisServer, cookie: redisCookie },
      { name: 'balancer', what: "lesson 04's balancer → that server", ...balancer, cookie: redisCookie },
      { name: 'no-agent', what: 'the balancer without a keep-alive agent', ...noAgent, cookie: redisCookie },
    ];
    if (haproxy.url) {
      const what = `${haproxy.note.split(' - ')[0]}, 1 thread → that server`;
      targets.push({ name: 'haproxy', what, url: haproxy.url, pid: haproxy.pid, cookie: redisCookie });
    }
    for (const v of variants) {
      targets.push({
        name: v.name,
        what: `balancer, ${v.what}`,
        url: v.url,
        pid: v.pid,
        cookie: redisCookie,
      });
    }
    if (!haproxy.url) console.log(`HAProxy skipped: ${haproxy.note}`);

    const results = new Map<string, Measure[]>(targets.map((target) => [target.name, []]));
    for (const target of targets) await measure(target, 1, options.connections); // warm-up, not kept
    for (let round = 1; round <= options.rounds; round++) {
      for (const target of targets) {
        results.get(target.name)?.push(await measure(target, options.duration, options.connections));
      }
      console.log(`round ${round} done · load ${load()}`);
    }
    console.log(`\n${targetTable(targets, results)}\n\n${ratioLines(results, options.rounds).join('\n')}`);
    console.log(`\nload average at the end: ${load()}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await stop();
  }
}

async function measure(target: Target, duration: number, connections: number): Promise<Measure> {
  const cpuBefore = cpuMs(target.pid);
  const result = await autocannon({
    url: `${target.url}/cart`,
    connections,
    duration,
    headers: { cookie: target.cookie },
  });
  return {
    reqPerSec: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    cpuMsPer1000: Math.round(((cpuMs(target.pid) - cpuBefore) * 1000) / Math.max(1, result.requests.total)),
  };
}

/** utime + stime of a process, in ms (Linux /proc; 0 elsewhere). Clock ticks are 100 a second here. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** A visitor with one item in the cart: the cookie autocannon sends with every GET /cart. */
async function oneItemSession(url: string): Promise<string> {
  const crowd = new Crowd(url, 1);
  const shopper = new Shopper();
  try {
    const reply = await crowd.send(shopper, 'POST', '/cart/items', { name: 'MacBook Pro', price: 2500 });
    if (reply.status !== 201) throw new Error(`POST /cart/items on ${url}: ${reply.status} ${reply.body}`);
    return shopper.cookieHeader();
  } finally {
    crowd.close();
  }
}

function targetTable(targets: Target[], results: Map<string, Measure[]>): string {
  const rows = targets.map((target) => {
    const list = results.get(target.name) ?? [];
    return [
      target.name,
      target.what,
      list.map((m) => Math.round(m.reqPerSec).toLocaleString('en-US')).join(', '),
      list.map((m) => m.p50).join(', '),
      list.map((m) => m.p99).join(', '),
      list.map((m) => m.cpuMsPer1000).join(', '),
      String(list.reduce((sum, m) => sum + m.errors + m.non2xx, 0)),
    ];
  });
  const header = [
    'target',
    'what',
    'req/s (per round)',
    'p50 ms',
    'p99 ms',
    'CPU ms / 1000 req',
    'errors+non-2xx',
  ];
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)));
  return all.map((row) => row.map((cell, c) => cell.padEnd(widths[c] ?? 0)).join('  ')).join('\n');
}

function ratioLines(results: Map<string, Measure[]>, rounds: number): string[] {
  const ratio = (a: string, b: string, key: 'reqPerSec' | 'p50' | 'p99' = 'reqPerSec') => {
    const top = results.get(a);
    const bottom = results.get(b);
    if (!top?.length || !bottom?.length) return undefined;
    const values = Array.from({ length: rounds }, (_, i) => (top[i]?.[key] ?? 0) / (bottom[i]?.[key] || 1));
    const low = Math.min(...values).toFixed(2);
    const high = Math.max(...values).toFixed(2);
    return low === high ? `${low}×` : `${low}–${high}×`;
  };
  const line = (label: string, value: string | undefined, note = 'skipped: no haproxy') =>
    `${label.padEnd(42)} ${value ?? note}`;
  const lines = [
    line('Redis store / memory store (req/s)', ratio('redis', 'memory')),
    line('balancer / direct (req/s)', ratio('balancer', 'redis')),
    line('balancer / HAProxy (req/s)   goal ≥ 0.85', ratio('balancer', 'haproxy')),
    line('HAProxy / direct (req/s)', ratio('haproxy', 'redis')),
    line('keep-alive agent / no agent (req/s)', ratio('balancer', 'no-agent')),
    line('p50 balancer / HAProxy', ratio('balancer', 'haproxy', 'p50')),
    line('p99 balancer / HAProxy   goal ≤ 1.5', ratio('balancer', 'haproxy', 'p99')),
  ];
  for (const variant of VARIANTS) {
    if (!results.get(variant.name)?.length) continue;
    lines.push(line(`${variant.name} / balancer (req/s)`, ratio(variant.name, 'balancer')));
    lines.push(line(`${variant.name} / HAProxy (req/s)`, ratio(variant.name, 'haproxy')));
  }
  return lines;
}

// ── A patched copy of the finished balancer, as a process of its own ─────────────────────────────

async function startBalancerCopy(
  patches: Patch[],
  env: Record<string, string>,
  scratch: string,
): Promise<{ url: string; pid: number }> {
  const entry = join(lessonSrcDir('04-load-balancer', 'solutions'), 'lb.ts');
  const applied = new Set<Patch>();
  const patching: Plugin = {
    name: 'patch-lesson-04',
    setup(on) {
      on.onLoad({ filter: /04-load-balancer[\\/]src[\\/](balancer|plumbing)\.ts$/ }, (args) => {
        let text = readFileSync(args.path, 'utf8');
        for (const patch of patches) {
          if (!args.path.replaceAll('\\', '/').endsWith(patch.file) || !text.includes(patch.from)) continue;
          text = text.replace(patch.from, patch.to);
          applied.add(patch);
        }
        return { contents: text, loader: 'ts' };
      });
    },
  };
  const file = join(scratch, `balancer-${Math.random().toString(36).slice(2)}.js`);
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    packages: 'external',
    format: 'cjs',
    target: 'node20',
    outfile: file,
    absWorkingDir: ROOT,
    logLevel: 'silent',
    plugins: [patching],
  });
  const missing = patches.filter((patch) => !applied.has(patch));
  if (missing.length)
    throw new Error(`lesson 04 changed: patch not applied: ${missing.map((p) => p.from).join(', ')}`);
  const port = await freePort();
  // The bundle sits in a temporary folder: its packages are found through NODE_PATH.
  const child = spawn(process.execPath, ['--require', watchParentFile(), file], {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port), NODE_PATH: join(ROOT, 'node_modules') },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  children.add(child);
  child.once('close', () => children.delete(child));
  const url = `http://127.0.0.1:${port}`;
  await until(
    () => answers(`${url}/health`),
    10_000,
    `the balancer copy (${patches.map((p) => p.to).join(', ')})`,
  );
  return { url, pid: child.pid ?? -1 };
}

// ── HAProxy ──────────────────────────────────────────────────────────────────────────────────────

function haproxyBinary(): string | undefined {
  for (const candidate of ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy']) {
    if (existsSync(candidate)) return candidate;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v haproxy'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

async function startHaproxy(
  backend: string,
  scratch: string,
): Promise<{ url?: string; pid: number; note: string }> {
  const binary = haproxyBinary();
  if (!binary) return { pid: -1, note: 'no haproxy binary (apt-get install haproxy)' };
  const port = await freePort();
  const server = new URL(backend);
  const dir = join(scratch, 'haproxy');
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'haproxy.cfg');
  writeFileSync(
    config,
    [
      'global',
      '  nbthread 1',
      '  maxconn 4096',
      'defaults',
      '  mode http',
      '  option http-keep-alive',
      '  timeout connect 3s',
      '  timeout client 30s',
      '  timeout server 30s',
      'frontend shop',
      `  bind 127.0.0.1:${port}`,
      '  default_backend servers',
      'backend servers',
      '  balance roundrobin',
      `  server s1 ${server.hostname}:${server.port}`,
      '',
    ].join('\n'),
  );
  const child = spawn(binary, ['-db', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  children.add(child);
  let output = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.once('close', () => children.delete(child));
  const version = execFileSync(binary, ['-v'], { encoding: 'utf8' }).split('\n')[0] ?? '';
  const url = `http://127.0.0.1:${port}`;
  try {
    await until(() => answers(`${url}/health`), 10_000, 'haproxy');
  } catch (error) {
    return { pid: -1, note: `haproxy did not start: ${output.trim() || String(error)}` };
  }
  return { url, pid: child.pid ?? -1, note: version };
}

// ── Waiting ──────────────────────────────────────────────────────────────────────────────────────

async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

async function until(condition: () => Promise<boolean>, withinMs: number, what: string): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what} did not answer GET /health within ${withinMs} ms`);
}
