/**
 * Lesson 07 — the client, in this process, and the server's start. One small Sentinel set (a primary
 * and one Sentinel: nothing here fails over) for the file, started only once Step 1 is done.
 *
 * What a client's options are cannot be seen from outside a process: the Step 1 tasks call your
 * sentinelOptions() and read what it returns, then connect your connectSentinel() to the Sentinel.
 * The Step 2 task hands your cartConnection() a stand-in client that records what it is asked (the
 * real thing, replicas cut off and a primary SIGKILLed, is in acknowledged.spec.ts). The Step 3 tasks
 * call your findPrimary() here, then start real servers on a bad configuration and time their exit.
 * Run: npm test lessons/07
 */
import type { RedisSentinelOptions } from 'redis';
import { PROCESS_TIMEOUT_MS, useServerProcesses } from '../../../kit/spec/processes';
import { lesson } from '../../../kit/spec/task';
import { NotImplementedError } from '../../../kit/todo';
import { NotReplicatedError, type SentinelConfig, StartupError } from '../src/config';
import { cartConnection, connectSentinel, findPrimary, sentinelOptions } from '../src/sentinel';
import { assert, deadPorts, MASTER_NAME, nextStep, shopOptions, useSentinelSet } from './support';

const { topic, task } = lesson('07-redis-ha');
const servers = useServerProcesses();
const ha = useSentinelSet({ replicas: 0, sentinels: 1 }, () => nextStep() !== 1);
const timeout = PROCESS_TIMEOUT_MS;

const config = (sentinels: SentinelConfig['sentinels'], masterName = MASTER_NAME): SentinelConfig => ({
  serverId: 'web-7',
  sentinels,
  masterName,
});
const placeholder = config([
  { host: '127.0.0.1', port: 26379 },
  { host: '127.0.0.1', port: 26380 },
  { host: '127.0.0.1', port: 26381 },
]);

type NodeOptions = NonNullable<RedisSentinelOptions['nodeClientOptions']>;
type Strategy = (retries: number, cause: Error) => number | false | Error;

/** The reconnect strategy of one kind of connection, or a message saying what is wrong with it. */
function strategyOf(options: NodeOptions | undefined, which: string): Strategy {
  const strategy = (options?.socket as { reconnectStrategy?: unknown } | undefined)?.reconnectStrategy;
  assert(
    typeof strategy === 'function',
    `${which}.socket.reconnectStrategy is ${JSON.stringify(strategy)}: without a function of your own, node-redis ` +
      'retries at its default pace (or not at all, for a value) — use lesson 05’s reconnectDelay.',
  );
  return strategy as Strategy;
}

// ── Step 1: a client that asks the Sentinels ───────────────────────────────────────────────────

topic('when your sentinelOptions() runs (in process: options cannot be seen from outside)', () => {
  task(
    'it names the Sentinels and the primary’s name from the configuration — never an address of a primary',
    {
      points: 2,
      step: 'Step 1',
      severity: 'blocker',
      hint: 'The client asks the Sentinels (all of them) for the primary by name.',
    },
    () => {
      const options = sentinelOptions(placeholder);
      expect(options.name).toBe(MASTER_NAME);
      expect(options.sentinelRootNodes).toEqual(placeholder.sentinels);
      const url = (options.nodeClientOptions as { url?: string } | undefined)?.url;
      assert(
        url === undefined,
        `nodeClientOptions.url is ${url}: the Sentinels say where the primary is, not a URL.`,
      );
    },
  );

  task(
    'every connection it opens (to the primary and to the Sentinels) fails fast: no offline queue',
    { points: 2, step: 'Step 1', hint: 'disableOfflineQueue, on both kinds of connection.' },
    () => {
      const options = sentinelOptions(placeholder);
      for (const [which, node] of [
        ['nodeClientOptions', options.nodeClientOptions],
        ['sentinelClientOptions', options.sentinelClientOptions],
      ] as const) {
        assert(
          node?.disableOfflineQueue === true,
          `${which}.disableOfflineQueue is ${node?.disableOfflineQueue}: while a connection is down its commands ` +
            'would queue until it is back (a request that hangs), instead of failing at once.',
        );
      }
    },
  );

  task(
    'its connections to the primary carry the server’s name (CLIENT LIST tells whose they are)',
    { points: 1, step: 'Step 1', hint: 'The name option of the node clients: the server id.' },
    () => {
      expect(sentinelOptions(placeholder).nodeClientOptions?.name).toBe('web-7');
    },
  );

  task(
    'every connection reconnects with lesson 05’s backoff: growing, capped at 1 s, jittered, never giving up',
    {
      points: 2,
      step: 'Step 1',
      hint: 'Lesson 05’s reconnectDelay, wrapped: node-redis passes (retries, cause).',
    },
    () => {
      const options = sentinelOptions(placeholder);
      for (const [which, node] of [
        ['nodeClientOptions', options.nodeClientOptions],
        ['sentinelClientOptions', options.sentinelClientOptions],
      ] as const) {
        const strategy = strategyOf(node, which);
        const cause = new Error('connection refused');
        const delays = (retries: number) => Array.from({ length: 40 }, () => strategy(retries, cause));
        for (const retries of [0, 1, 3, 10, 30, 100]) {
          const all = delays(retries);
          const wrong = all.find(
            (delay) => typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0,
          );
          assert(
            wrong === undefined,
            `${which}: reconnectStrategy(${retries}) gave ${String(wrong)}: it must always give a wait in ms (never ` +
              'false or an error: a server that gave up stays without Redis until someone restarts it).',
          );
          const longest = Math.max(...(all as number[]));
          assert(
            longest <= 1_000,
            `${which}: reconnectStrategy(${retries}) waited up to ${longest} ms: uncapped, a server that lost ` +
              'Redis for a while would wait minutes before trying again.',
          );
        }
        const early = delays(0) as number[];
        const late = delays(10) as number[];
        const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
        assert(
          mean(early) < mean(late),
          `${which}: reconnectStrategy waits ${mean(early).toFixed(0)} ms on average at the first retry and ` +
            `${mean(late).toFixed(0)} ms at the tenth: it must back off (start short, grow).`,
        );
        assert(
          new Set(late).size > 5,
          `${which}: reconnectStrategy(10) gave ${new Set(late).size} different waits in 40 calls: without ` +
            'jitter, every server that lost Redis at the same instant knocks again at the same instant.',
        );
      }
    },
  );
});

topic('when your connectSentinel() connects (in process, to a real Sentinel)', () => {
  task(
    'it connects through the Sentinel to the primary it names, with an error listener',
    {
      points: 2,
      step: 'Step 1',
      severity: 'critical',
      timeout,
      hint: 'createSentinel with your options, an error listener, then connect().',
    },
    async () => {
      sentinelOptions(placeholder); // an unfinished Step 1 fails here, before any Redis starts
      const set = await ha.get();
      const client = await connectSentinel(config(set.sentinels));
      try {
        const primary = await set.primary();
        expect(client.getMasterNode()).toEqual(primary);
        assert(
          client.listenerCount('error') > 0,
          'The client has no "error" listener: the first error it reports (a Sentinel of the list that is ' +
            'down, say) would be thrown — and kill the server process.',
        );
        await client.set('lesson-07:probe', '1');
        expect(await set.command(primary, 'GET', 'lesson-07:probe')).toBe('$1\r\n1\r\n');
      } finally {
        await client.close().catch(() => undefined);
      }
    },
  );
});

// ── Step 2: acknowledged writes (a stand-in client, in process) ────────────────────────────────

/** A stand-in for the Sentinel client: it records what it is asked, and answers WAIT with `replicas`. */
function standIn(replicas: number) {
  const said: string[] = [];
  const waitReply = async (args: unknown[]) => {
    said.push(`WAIT ${args.join(' ')} on the lease`);
    return replicas;
  };
  const lease = {
    wait: (...args: unknown[]) => waitReply(args),
    WAIT: (...args: unknown[]) => waitReply(args),
    sendCommand: (...args: unknown[]) => {
      const command = args.find(Array.isArray) as unknown[] | undefined;
      if (String(command?.[0]).toUpperCase() === 'WAIT') return waitReply(command?.slice(1) ?? []);
      said.push(`${command?.join(' ')} on the lease`);
      return Promise.resolve('OK');
    },
  };
  const shared = (name: string) => () => {
    said.push(`${name} on the shared client (not the connection the change was made on)`);
    return Promise.resolve(replicas);
  };
  const client = {
    async use(fn: (connection: unknown) => Promise<unknown>) {
      said.push('lease taken');
      try {
        return await fn(lease);
      } finally {
        said.push('lease given back');
      }
    },
    async acquire() {
      said.push('lease taken');
      return { ...lease, release: () => said.push('lease given back') };
    },
    wait: shared('WAIT'),
    WAIT: shared('WAIT'),
    sendCommand: shared('a command'),
    duplicate() {
      said.push('a new client (duplicate): one client per process, not per change');
      return client;
    },
    async connect() {
      return client;
    },
    async close() {},
    async destroy() {},
  };
  const work = async (connection: unknown) => {
    said.push(connection === lease ? 'the cart change on the lease' : 'the cart change on something else');
    return 'the cart';
  };
  return { client: client as never, said, work };
}

topic('when your cartConnection() runs a cart change (in process, on a stand-in client)', () => {
  task(
    'after the change, on the same connection, it waits (WAIT 1, WAIT_TIMEOUT_MS) for one replica, then answers',
    {
      points: 3,
      step: 'Step 2',
      severity: 'critical',
      hint: 'Lend a connection, run the work on it, then WAIT on that same connection.',
    },
    async () => {
      const { client, said, work } = standIn(1);
      const result = await cartConnection(client, 250)(work);
      expect(result).toBe('the cart');
      expect(said).toEqual([
        'lease taken',
        'the cart change on the lease',
        'WAIT 1 250 on the lease',
        'lease given back',
      ]);
    },
  );

  task(
    'no replica confirmed: it throws a NotReplicatedError (503), so the visitor is never told "saved"',
    { points: 2, step: 'Step 2', hint: 'WAIT answers how many replicas have the change: 0 is a failure.' },
    async () => {
      const { client, work } = standIn(0);
      const outcome = await cartConnection(
        client,
        250,
      )(work).then(
        (value) => ({ value }),
        (error: unknown) => ({ error }),
      );
      assert(
        'error' in outcome,
        `WAIT answered 0 replicas, yet the change was answered as saved (${JSON.stringify(outcome)}): it lives on ` +
          'the primary only, and dies with it.',
      );
      assert(
        outcome.error instanceof NotReplicatedError,
        `It threw ${String(outcome.error)}: throw a NotReplicatedError (./config.ts), which the route answers ` +
          '503 — any other error is a 500, "a bug", where the truth is "not saved for sure, retry".',
      );
    },
  );
});

// ── Step 3: refuse a bad configuration at startup ──────────────────────────────────────────────

/** What findPrimary did: the node, or the error, and how long it took. */
type Found = { node: SentinelConfig['sentinels'][number]; ms: number } | { error: StartupError; ms: number };

async function tryFind(sentinelConfig: SentinelConfig, withinMs: number): Promise<Found> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `findPrimary(…, ${withinMs}) had not settled after ${withinMs + 3_000} ms: bound each Sentinel's answer.`,
          ),
        ),
      withinMs + 3_000,
    );
  });
  try {
    const node = await Promise.race([findPrimary(sentinelConfig, withinMs), bound]);
    return { node, ms: performance.now() - started };
  } catch (error) {
    if (error instanceof StartupError) return { error, ms: performance.now() - started };
    if (
      error instanceof NotImplementedError ||
      !(error instanceof Error) ||
      /had not settled/.test(error.message)
    )
      throw error;
    throw new Error(
      `findPrimary threw a ${error.name} (${error.message}), not a StartupError: ./server.ts prints a ` +
        'StartupError as its one line, anything else as a stack trace.',
    );
  } finally {
    clearTimeout(timer);
  }
}

function oneLine(message: string, mustName: string, what: string): void {
  assert(
    message.trim() !== '' && !message.trim().includes('\n'),
    `${what}: the message must be ONE line, got:\n${message}`,
  );
  assert(
    message.includes(mustName),
    `${what}: the message must name ${mustName} (the setting to fix), got: ${message}`,
  );
}

topic('when your findPrimary() asks the Sentinels (in process)', () => {
  task(
    'it gives the primary the Sentinels name, even when the first Sentinel of the list is down',
    { points: 2, step: 'Step 3', timeout, hint: 'Ask each Sentinel, skip those that do not answer.' },
    async () => {
      await tryFind(placeholder, 1); // an unfinished step fails here, at once
      const set = await ha.get();
      const [dead] = await deadPorts(1);
      const found = await tryFind(config([dead, ...set.sentinels]), 1_000);
      assert('node' in found, `It threw: ${'error' in found ? String(found.error) : ''}`);
      expect(found.node).toEqual(await set.primary());
    },
  );

  task(
    'no Sentinel answers: a StartupError, in one line naming REDIS_SENTINELS, within its bound',
    { points: 2, step: 'Step 3', timeout, hint: 'A bound per Sentinel, then one clear line.' },
    async () => {
      const found = await tryFind(config(await deadPorts(3)), 800);
      assert(
        'error' in found,
        `It found ${JSON.stringify('node' in found ? found.node : undefined)} on three dead ports.`,
      );
      assert(
        found.ms < 800 + 1_500,
        `It took ${found.ms.toFixed(0)} ms, with a bound of 800 ms per Sentinel.`,
      );
      oneLine(found.error.message, 'REDIS_SENTINELS', 'No Sentinel answered');
    },
  );

  task(
    'the Sentinels know no such name: a StartupError, in one line naming REDIS_MASTER_NAME',
    {
      points: 2,
      step: 'Step 3',
      timeout,
      hint: 'A Sentinel answers a name it does not know with a nil reply.',
    },
    async () => {
      await tryFind(placeholder, 1);
      const set = await ha.get();
      const found = await tryFind(config(set.sentinels, 'mymaster'), 1_000);
      assert(
        'error' in found,
        `It found ${JSON.stringify('node' in found ? found.node : undefined)} for a name no Sentinel watches.`,
      );
      oneLine(found.error.message, 'REDIS_MASTER_NAME', 'A wrong name');
      assert(
        !found.error.message.includes('REDIS_SENTINELS='),
        `A wrong name must not read like unreachable Sentinels (they answered): ${found.error.message}`,
      );
    },
  );
});

topic('when a server starts on a bad configuration (real processes)', () => {
  const refused = async (sentinels: SentinelConfig['sentinels'], masterName: string) => {
    const options = shopOptions('web-bad', sentinels, { REDIS_MASTER_NAME: masterName });
    const started = performance.now();
    const run = await servers.runToExit({ ...options, withinMs: 12_000 });
    return { ...run, ms: performance.now() - started };
  };
  const expectOneLine = (run: Awaited<ReturnType<typeof refused>>, mustName: string) => {
    assert(run.exit, `The server was still running after 12 s:\n${run.output}`);
    assert(
      run.exit.code !== 0 && run.exit.code !== null,
      `The server exited with code ${run.exit.code}: a refused start must exit non-zero.`,
    );
    const lines = run.output
      .trim()
      .split('\n')
      .filter((line) => line.trim());
    assert(
      lines.length === 1 && lines[0]?.includes(mustName),
      `A refused start must say why in ONE line naming ${mustName}; it printed:\n${run.output}`,
    );
  };

  task(
    'no Sentinel reachable: it exits 1 within seconds, with one line naming REDIS_SENTINELS',
    {
      points: 2,
      step: 'Step 3',
      timeout,
      hint: 'The given server prints your StartupError’s message and exits 1.',
    },
    async () => {
      await tryFind(placeholder, 1);
      expectOneLine(await refused(await deadPorts(3), MASTER_NAME), 'REDIS_SENTINELS');
    },
  );

  task(
    'a wrong master name: it exits 1 with one line naming REDIS_MASTER_NAME',
    {
      points: 2,
      step: 'Step 3',
      timeout,
      hint: 'Tell "nobody answered" from "they answered: no such name".',
    },
    async () => {
      await tryFind(placeholder, 1);
      const set = await ha.get();
      expectOneLine(await refused(set.sentinels, 'mymaster'), 'REDIS_MASTER_NAME');
    },
  );
});
