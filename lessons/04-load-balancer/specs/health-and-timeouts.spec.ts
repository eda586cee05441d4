/**
 * Lesson 04, Steps 5–6 — health checks and timeouts. Run: npm test lessons/04
 *
 * The balancer is yours (src/balancer.ts), in this process, with short intervals (tens of ms). The
 * servers behind it are instruments in this process (specs/support.ts): they count the requests and
 * health checks they get, answer /health with 200, 500 or nothing, stop listening (a killed server's
 * port refuses connections) and listen again. One more is a real process that is stopped (SIGSTOP)
 * with its queue of connections full: connecting to it never completes. Every wait is bounded and
 * waits for a real event (a state the balancer reports, a count), never a fixed sleep.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { Visitor } from '../../../kit/spec/browser';
import { throwIfNotImplemented } from '../../../kit/spec/processes';
import { macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { pollUntil } from '../../../kit/spec/wait';
import { BALANCER_HEALTH_PATH, type BalancerOptions, markResult } from '../src/balancer';
import { LESSON, probeServer, type RunningBalancer, STEP_5, STEP_6, useBalancers } from './support';

const { topic, task } = lesson(LESSON);
const balancers = useBalancers();

/** Short enough to keep the lesson fast, long enough for a busy 2-core machine. */
const FAST = { intervalMs: 40, timeoutMs: 300, fall: 2, rise: 2 };
/** A bound for a state change that takes a few intervals; generous: a bound, not a speed test. */
const BOUND_MS = 8_000;

type State = { target: string; state: 'up' | 'down'; failuresInARow: number; successesInARow: number };

/** The servers' states, from the balancer's GET /_balancer/health (anything but a 200 fails at once). */
async function states(lb: RunningBalancer): Promise<State[]> {
  const answer = await new Visitor().get(lb, BALANCER_HEALTH_PATH);
  throwIfNotImplemented(answer.body);
  if (answer.status !== 200 || !Array.isArray(answer.body?.servers)) {
    throw new Error(
      `GET ${BALANCER_HEALTH_PATH} answered ${answer.status} ${JSON.stringify(answer.body)}: no server states.`,
    );
  }
  return answer.body.servers;
}

/** Waits (bounded) until the balancer reports `target` in `state`; fails saying what it saw. */
async function until(lb: RunningBalancer, target: string, state: 'up' | 'down'): Promise<void> {
  const seen = await pollUntil(
    () => states(lb),
    (list) => list.find((one) => one.target === target)?.state === state,
    BOUND_MS,
    10,
  );
  expect({ [`${target} within ${BOUND_MS} ms`]: seen.last.find((one) => one.target === target) }).toEqual({
    [`${target} within ${BOUND_MS} ms`]: expect.objectContaining({ state }),
  });
}

/** A balancer over `targets` that records what it logs (one line per failed attempt). */
async function loggingBalancer(targets: string[], options: Partial<BalancerOptions> = {}) {
  const lines: string[] = [];
  const lb = await balancers.start({
    targets,
    strategy: 'round-robin',
    log: (line) => lines.push(line),
    ...options,
  });
  return {
    lb,
    lines,
    triedOn: (target: string) => lines.filter((line) => line.includes(`→ ${target}:`)).length,
  };
}

async function getMany(lb: RunningBalancer, count: number) {
  const answers = [];
  for (let i = 0; i < count; i++) answers.push(await new Visitor().get(lb, '/cart'));
  return answers;
}

topic('health checks', () => {
  task(
    'down after `fall` failures in a row, up after `rise` successes in a row (markResult, checked in process)',
    {
      points: 2,
      step: STEP_5,
      severity: 'critical',
      hint:
        'Count results in a row: a success ends a run of failures and the reverse. Down when the failures ' +
        'reach fall; up again when the successes reach rise.',
    },
    () => {
      const rules = { intervalMs: 1000, timeoutMs: 100, fall: 3, rise: 2, path: '/health' };
      const server = { target: 'http://127.0.0.1:1', up: true, failuresInARow: 0, successesInARow: 0 };
      const after = (results: boolean[]) => {
        const trace = [];
        for (const ok of results) {
          markResult(server, ok, rules);
          trace.push(server.up ? 'up' : 'down');
        }
        return trace;
      };

      expect({ 'fail, fail, fail': after([false, false, false]) }).toEqual({
        'fail, fail, fail': ['up', 'up', 'down'],
      });
      expect({ 'then ok, fail, ok, ok': after([true, false, true, true]) }).toEqual({
        'then ok, fail, ok, ok': ['down', 'down', 'down', 'up'],
      });
      expect({
        'then flapping: fail, fail, ok, fail, fail, ok': after([false, false, true, false, false, true]),
      }).toEqual({
        'then flapping: fail, fail, ok, fail, fail, ok': ['up', 'up', 'up', 'up', 'up', 'up'],
      });
    },
  );

  task(
    'a server whose /health answers 500 is marked down and gets no more requests; GET /_balancer/health says so',
    {
      points: 3,
      step: STEP_5,
      severity: 'critical',
      hint:
        'checkServer() resolves true only for a 2xx answer. serversToTry() keeps the servers that are up, ' +
        'in the order given.',
      timeout: 25_000,
    },
    async () => {
      const [sick, well] = await Promise.all([probeServer('sick'), probeServer('well')]);
      sick.state.health = '500';
      const { lb } = await loggingBalancer([sick.url, well.url], { health: FAST });

      await until(lb, sick.url, 'down');
      const before = sick.requests();
      const answers = await getMany(lb, 6);
      const report = await new Visitor().get(lb, BALANCER_HEALTH_PATH);

      expect(answers.map((answer) => answer.servedBy)).toEqual(Array(6).fill('well'));
      expect({ 'requests to the server marked down': sick.requests() - before }).toEqual({
        'requests to the server marked down': 0,
      });
      expect(report.status).toBe(200);
      expect(report.body).toEqual({
        checks: 'on',
        servers: [
          expect.objectContaining({ target: sick.url, state: 'down' }),
          expect.objectContaining({ target: well.url, state: 'up' }),
        ],
      });
    },
  );

  task(
    'a killed server is marked down by the checks alone, its turns are not tried; back, it is marked up and used again',
    {
      points: 3,
      step: STEP_5,
      severity: 'critical',
      hint:
        'The checks run every intervalMs on their own clock (startHealthChecks), and each result goes through ' +
        'markResult — the successes too: without them, a server once down is down for good.',
      timeout: 25_000,
    },
    async () => {
      const [victim, survivor] = await Promise.all([probeServer('victim'), probeServer('survivor')]);
      const { lb, triedOn } = await loggingBalancer([victim.url, survivor.url], { health: FAST });

      await victim.stop();
      await until(lb, victim.url, 'down');
      const whileDown = await getMany(lb, 4);
      const attemptsWhileDown = triedOn(victim.url);
      await victim.start();
      await until(lb, victim.url, 'up');
      const afterwards = await getMany(lb, 4);

      expect(whileDown.map((answer) => answer.servedBy)).toEqual(Array(4).fill('survivor'));
      expect({ 'attempts on the server marked down': attemptsWhileDown }).toEqual({
        'attempts on the server marked down': 0,
      });
      expect(afterwards.map((answer) => answer.servedBy)).toContain('victim');
    },
  );

  task(
    'a health check with no answer within timeoutMs is a failure',
    {
      points: 2,
      step: STEP_5,
      hint: 'A server that accepts the check and never answers is not healthy: give every check a time limit.',
      timeout: 25_000,
    },
    async () => {
      const [hung, well] = await Promise.all([probeServer('hung'), probeServer('well')]);
      hung.state.health = 'hangs';
      const { lb } = await loggingBalancer([hung.url, well.url], { health: { ...FAST, timeoutMs: 60 } });

      await until(lb, hung.url, 'down');
    },
  );

  task(
    'servers are checked side by side: a check that hangs holds up no other server’s checks',
    {
      points: 2,
      step: STEP_5,
      hint:
        'Start every server’s check without awaiting the one before it; skip a server whose last check is ' +
        'still under way.',
      timeout: 25_000,
    },
    async () => {
      const [hung, sick] = await Promise.all([probeServer('hung'), probeServer('sick')]);
      hung.state.health = 'hangs';
      sick.state.health = '500';
      const { lb } = await loggingBalancer([hung.url, sick.url], { health: { ...FAST, timeoutMs: 3_000 } });

      await until(lb, sick.url, 'down');

      expect({
        "hung's first check still open when sick was marked down": hung.state.openHealthChecks,
        'checks hung got (one at a time)': hung.state.healthChecks,
      }).toEqual({
        "hung's first check still open when sick was marked down": 1,
        'checks hung got (one at a time)': 1,
      });
    },
  );

  task(
    'checks run on their own clock, off the request path: ten requests, no extra checks',
    {
      points: 2,
      step: STEP_5,
      hint:
        'A visitor’s request never waits for (or starts) a health check: serversToTry() only reads the states ' +
        'the checks left.',
      timeout: 25_000,
    },
    async () => {
      const [one, two] = await Promise.all([probeServer('one'), probeServer('two')]);
      const { lb } = await loggingBalancer([one.url, two.url], { health: { ...FAST, intervalMs: 60_000 } });
      await states(lb); // the checks are running
      const firstRound = await pollUntil(
        async () => one.state.healthChecks + two.state.healthChecks,
        (count) => count >= 2,
        BOUND_MS,
        10,
      );

      const answers = await getMany(lb, 10);

      expect({ 'first round: one check per server, at once': firstRound.last }).toEqual({
        'first round: one check per server, at once': 2,
      });
      expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
      expect({ 'checks after ten requests': one.state.healthChecks + two.state.healthChecks }).toEqual({
        'checks after ten requests': 2,
      });
    },
  );

  task(
    'passive: a server that fails `fall` requests in a row is marked down before any check says so',
    {
      points: 2,
      step: STEP_5,
      hint: 'Every request’s outcome is a result too (the given code passes it to markResult).',
      timeout: 25_000,
    },
    async () => {
      const [victim, survivor] = await Promise.all([probeServer('victim'), probeServer('survivor')]);
      const { lb, triedOn } = await loggingBalancer([victim.url, survivor.url], {
        health: { ...FAST, intervalMs: 60_000 },
      });
      await states(lb); // the checks are running
      await pollUntil(
        async () => victim.state.healthChecks,
        (count) => count >= 1,
        BOUND_MS,
        10,
      );

      await victim.stop();
      const untilDown = await getMany(lb, 4); // victim's two turns: refused twice (fall = 2)
      const down = (await states(lb)).find((one) => one.target === victim.url);
      const later = await getMany(lb, 4);

      expect(untilDown.map((answer) => answer.status)).toEqual([200, 200, 200, 200]);
      expect(down).toMatchObject({ state: 'down' });
      expect(later.map((answer) => answer.servedBy)).toEqual(Array(4).fill('survivor'));
      expect({ 'attempts on the victim': triedOn(victim.url) }).toEqual({ 'attempts on the victim': 2 });
    },
  );

  task(
    'every server marked down: they are tried anyway, and the visitor is served',
    {
      points: 2,
      step: STEP_5,
      hint:
        'When no server is up, serversToTry() returns them all: the checks may be wrong (a broken /health ' +
        'route), and refusing everyone would make sure of an outage.',
      timeout: 25_000,
    },
    async () => {
      const [one, two] = await Promise.all([probeServer('one'), probeServer('two')]);
      one.state.health = '500';
      two.state.health = '500';
      const { lb } = await loggingBalancer([one.url, two.url], { health: FAST });
      await until(lb, one.url, 'down');
      await until(lb, two.url, 'down');

      const answers = await getMany(lb, 2);

      expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
    },
  );
});

/**
 * A timed-out request must be answered within its limit (150 ms) plus this much. The visitor waits no
 * longer than that: waiting longer could not change the verdict, only make a balancer without
 * timeouts (a Step 6 still to do) slower to fail.
 */
const TIMEOUT_ANSWERED_WITHIN_MS = 2_650;

topic('timeouts', () => {
  task(
    'a server that accepts and never answers: 504 JSON within the limit, and the others are still served',
    {
      points: 3,
      step: STEP_6,
      severity: 'critical',
      hint:
        'limitTime(): from the request sent to the answer’s first line, at most responseMs; then destroy the ' +
        'request with a GatewayTimeout (the given code answers 504).',
      timeout: 25_000,
    },
    async () => {
      const [hung, well] = await Promise.all([probeServer('hung', 'hangs'), probeServer('well')]);
      const { lb } = await loggingBalancer([hung.url, well.url], { timeouts: { responseMs: 150 } });

      const timedOut = await new Visitor().get(lb, '/cart', TIMEOUT_ANSWERED_WITHIN_MS);
      const next = await new Visitor().get(lb, '/cart', 5_000);

      expect({ status: timedOut.status, body: timedOut.body }).toEqual({
        status: 504,
        body: { error: 'gateway_timeout', message: expect.any(String) },
      });
      expect({ 'answered within 150 ms + 2.5 s': timedOut.ms < TIMEOUT_ANSWERED_WITHIN_MS }).toEqual({
        'answered within 150 ms + 2.5 s': true,
      });
      expect(next.status).toBe(200);
      expect(next.servedBy).toBe('well');
    },
  );

  task(
    'the limit is for the first line: an answer that has begun is not cut off, one that never begins is',
    {
      points: 1,
      step: STEP_6,
      hint: 'Once the answer’s status and headers are in, stop both timers: a long body is not a hung server.',
      timeout: 25_000,
    },
    async () => {
      const [slow, hung] = await Promise.all([
        probeServer('slow', 'answers slowly'),
        probeServer('hung', 'hangs'),
      ]);
      const { lb } = await loggingBalancer([slow.url, hung.url], { timeouts: { responseMs: 150 } });

      const begun = await new Visitor().get(lb, '/cart', 5_000);
      const never = await new Visitor().get(lb, '/cart', TIMEOUT_ANSWERED_WITHIN_MS);

      expect({ status: begun.status, body: begun.body }).toEqual({
        status: 200,
        body: { servedBy: 'slow', bodyBytes: 0 },
      });
      expect(never.status).toBe(504);
    },
  );

  task(
    'a GET that timed out waiting for its answer is not sent to another server',
    {
      points: 2,
      step: STEP_6,
      hint:
        'The server has the request and may be working on it: resending it doubles the load where it hurts ' +
        '(canRetryTimeout).',
      timeout: 25_000,
    },
    async () => {
      const [hung, well] = await Promise.all([probeServer('hung', 'hangs'), probeServer('well')]);
      const { lb } = await loggingBalancer([hung.url, well.url], { timeouts: { responseMs: 150 } });

      const timedOut = await new Visitor().get(lb, '/cart', TIMEOUT_ANSWERED_WITHIN_MS);

      expect(timedOut.status).toBe(504);
      expect({ 'requests the other server got': well.requests() }).toEqual({
        'requests the other server got': 0,
      });
    },
  );

  task(
    'a server that does not accept the connection in time: the request goes to the next one — a POST too',
    {
      points: 3,
      step: STEP_6,
      hint:
        'While the socket is connecting, allow connectMs. A request that never got a connection never left ' +
        'the balancer: like a refusal, it is safe to send on (canRetryTimeout, phase "connect").',
      timeout: 25_000,
    },
    async () => {
      const stuck = await stuckServer();
      const well = await probeServer('well');
      const { lb } = await loggingBalancer([stuck.url, well.url], {
        timeouts: { connectMs: 150, responseMs: 10_000 },
      });

      const added = await new Visitor().post(lb, '/cart/items', macbook, TIMEOUT_ANSWERED_WITHIN_MS);

      expect({ status: added.status, servedBy: added.servedBy }).toEqual({ status: 200, servedBy: 'well' });
      expect(well.state.requests.map((request) => request.method)).toEqual(['POST']);
      expect({ 'answered within 150 ms + 2.5 s': added.ms < TIMEOUT_ANSWERED_WITHIN_MS }).toEqual({
        'answered within 150 ms + 2.5 s': true,
      });
    },
  );
});

/**
 * A real process whose port accepts no more connections: it listens with a queue of one, stops itself
 * (SIGSTOP, so it never accepts), and two connections of ours fill the queue. A new connection's SYN
 * is then dropped by the kernel: connecting neither succeeds nor fails. Killed after the file (Linux;
 * other kernels may refuse or reset instead, and the task then fails saying what it got).
 */
async function stuckServer(): Promise<{ url: string }> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1',backlog:1},()=>{console.log(s.address().port);process.kill(process.pid,'SIGSTOP')})",
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  stuck.add(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (data: Buffer) => resolve(Number(String(data).trim())));
    child.once('error', reject);
  });
  // A queue of one holds two connections (Linux: backlog + 1): ours, which complete at once. The next
  // one, the balancer's, is the first whose SYN is dropped.
  await Promise.all(
    [0, 1].map(
      () =>
        new Promise<void>((resolve, reject) => {
          const filler = connect(port, '127.0.0.1');
          fillers.add(filler);
          filler.once('connect', () => resolve());
          filler.once('error', reject);
        }),
    ),
  );
  return { url: `http://127.0.0.1:${port}` };
}
const stuck = new Set<ChildProcess>();
const fillers = new Set<Socket>();
afterAll(() => {
  for (const filler of fillers) filler.destroy();
  for (const child of stuck) child.kill('SIGKILL');
});
