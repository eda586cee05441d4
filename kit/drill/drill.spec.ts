/**
 * The Black Friday drill, small (a few hundred carts), checked on every `npm run verify`: it runs as
 * `npm run drill` does, one process per design side by side, and the assertions read the drill's own
 * JSON. The expected losses are derived from the routing the drill recorded, never a fixed number:
 * under sticky routing a cart lives on the server that answered its adds, so the crash loses exactly
 * the carts filled on the crashed server; with sessions in Redis it loses none.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../jest/target';
import type { DrillReport } from './report';
import type { DesignResult } from './run';

const CARTS = 240;
const SERVERS = 3;
const dir = mkdtempSync(join(tmpdir(), 'course-drill-spec-'));
const children = new Set<ChildProcess>();

/** A design's result, and what the drill printed (its phase lines: why a figure is what it is). */
interface Drilled {
  result: DesignResult;
  output: string;
}

function drill(only: 'sticky' | 'stateless'): Promise<Drilled> {
  const json = join(dir, `${only}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'kit/drill/drill.ts',
        '--carts',
        String(CARTS),
        '--servers',
        String(SERVERS),
        '--only',
        only,
        '--json',
        json,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.add(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once('close', (code) => {
      children.delete(child);
      if (code !== 0) return reject(new Error(`npm run drill -- --only ${only} exited ${code}:\n${output}`));
      const report = JSON.parse(readFileSync(json, 'utf8')) as DrillReport;
      const [result] = report.designs;
      if (!result) return reject(new Error(`no design in ${json}`));
      resolve({ result, output });
    });
  });
}

let sticky: Promise<Drilled>;
let stateless: Promise<Drilled>;

/** Runs the assertions on the design's result; one that fails carries the drill's own lines. */
async function expectOf(design: Promise<Drilled>, check: (result: DesignResult) => void): Promise<void> {
  const { result, output } = await design;
  try {
    check(result);
  } catch (error) {
    if (error instanceof Error) error.message += `\n\nWhat the drill printed:\n${output}`;
    throw error;
  }
}

beforeAll(() => {
  // Side by side: most of a design's time is spent waiting for server processes to start.
  sticky = drill('sticky');
  stateless = drill('stateless');
  sticky.catch(() => undefined);
  stateless.catch(() => undefined);
});

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const timeout = 40_000;

describe(`the Black Friday drill (${CARTS} carts, ${SERVERS} servers)`, () => {
  test(
    'sticky + memory sessions: the crash loses the carts filled on the crashed server, and only those',
    () =>
      expectOf(sticky, ({ fill, readBack, crash }) => {
        expect(fill.filled).toBeGreaterThan(CARTS * 0.95);
        // The routing: sticky pins each new visitor round-robin, so each server holds about a third.
        const share = fill.filled / SERVERS;
        expect(readBack.onCrashedServer).toBeGreaterThanOrEqual(Math.floor(share) - 2);
        expect(readBack.onCrashedServer).toBeLessThanOrEqual(Math.ceil(share) + 2);
        // Lost: the crashed server's carts (a cart whose read-back request failed counts as lost too,
        // and so does one the balancer moved to another server while it was filled: it is split).
        expect(readBack.lost).toBeGreaterThanOrEqual(readBack.onCrashedServer);
        expect(readBack.lost).toBeLessThanOrEqual(
          readBack.onCrashedServer + readBack.failedRequests + fill.moved,
        );
        const lostElsewhere = readBack.lost - (readBack.lostFrom[crash.server] ?? 0);
        expect(lostElsewhere).toBeLessThanOrEqual(readBack.failedRequests + fill.moved);
      }),
    timeout,
  );

  test(
    'round-robin + Redis sessions: the crash and the rolling restart lose nothing',
    () =>
      expectOf(stateless, ({ fill, readBack, rolling }) => {
        expect(fill.filled).toBe(CARTS);
        expect(readBack.lost).toBe(0);
        expect(rolling.itemsAcknowledged).toBeGreaterThan(0);
        expect(rolling.lostItems).toBe(0);
      }),
    timeout,
  );

  test(
    'the rolling restart loses items under sticky + memory sessions',
    () =>
      expectOf(sticky, ({ rolling }) => {
        expect(rolling.restarts.map((restart) => restart.exit)).toEqual(Array(SERVERS).fill('code 0'));
        expect(rolling.lostItems).toBeGreaterThan(0);
      }),
    timeout,
  );

  test(
    'heavy-tailed sessions: requests pile up on some servers under sticky, spread evenly under round-robin',
    async () => {
      const { result: roundRobin } = await stateless;
      await expectOf(sticky, ({ imbalance }) => {
        // Round-robin gives each server every third request: max/mean is 1, give or take a request.
        expect(roundRobin.imbalance.requestsMaxOverMean).toBeLessThan(1.05);
        expect(imbalance.requestsMaxOverMean).toBeGreaterThan(roundRobin.imbalance.requestsMaxOverMean);
      });
    },
    timeout,
  );
});
