/**
 * Lesson 02 — the crash. Each `task` is one thing the README asks you to build.
 * Run: npm test lessons/02
 *
 * Every server here is a real OS process running src/server.ts, and dies for real. A process takes
 * about half a second to start, so each story below (the arrange + act: start a server, fill a cart,
 * crash it, restart it…) runs once, starting in the background as the file begins, and several tasks
 * then check what it saw. Every wait is bounded and waits for a real event, never a fixed sleep.
 *
 * What cannot be seen from outside a process (what serve() does with options.onShutdown, and the
 * listen error it rejects with) is checked on your serve() inside this process: ./in-process.ts runs
 * it, and those tasks say "checked in process".
 */
// First: ./stories starts the stories' server processes as it loads, while the rest is still loading.
import './stories';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { jsonErrors, notFound } from '../../../kit/http';
import { fetchAnswer, Visitor } from '../../../kit/spec/browser';
import { throwIfNotImplemented } from '../../../kit/spec/processes';
import { iphone, macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { chaosRoutes } from '../src/chaos';
import {
  CLEAN_DRAIN_TIMEOUT_MS,
  cleanDrain,
  failedShutdown,
  HUNG_SHUTDOWN_TIMEOUT_MS,
  hungShutdown,
  inProcessRuns,
  LATE_MS,
  ms,
  ON_SHUTDOWN_MS,
  Run,
  SOON_MS,
  said,
  stuckLong,
  stuckShort,
  takenPort,
} from './in-process';
import {
  answer,
  BOUND_MS,
  crashStory,
  drainStory,
  IN_FLIGHT_MS,
  KNOCK_MS,
  killStory,
  PROMPT_MS,
  SHORT_DRAIN_MS,
  STARTUP_LINE_MS,
  STUCK_EXIT_MS,
  stuckStory,
  UNCAUGHT,
} from './stories';
import { KEEP_ALIVE_MS, LESSON, STEP_1, STEP_2, STEP_3 } from './support';

const { topic, task } = lesson(LESSON);
/** Per task: the stories start real processes, and this machine may be busy. */
const timeout = 20_000;

// The process stories began as ./stories was imported; the in-process runs begin with the file.
beforeAll(() => {
  for (const run of inProcessRuns) run.begin();
});

// ── The tasks (assert) ───────────────────────────────────────────────────────────────────────────

topic('when the server starts', () => {
  task(
    'it listens on PORT and says so in one line: its server id, its port and its pid',
    {
      points: 1,
      step: STEP_1,
      severity: 'blocker',
      timeout,
      hint: 'Print the line once the server listens, before you resolve: an operator needs the pid to send it signals.',
    },
    async () => {
      const { server5, startupLine } = await killStory.get();
      throwIfNotImplemented(server5.output());

      if (!startupLine) {
        throw new Error(
          `server 5 (port ${server5.port}) printed no line naming its port (by ${STARTUP_LINE_MS} ms after it answered GET /health). It printed:\n${server5.output() || '(nothing)'}`,
        );
      }
      const missing = [
        ['its server id (server-5)', /\bserver-5\b/],
        [`its pid (${server5.pid})`, new RegExp(`\\b${server5.pid}\\b`)],
      ].filter(([, pattern]) => !(pattern as RegExp).test(startupLine));
      if (missing.length > 0) {
        throw new Error(
          `server 5's startup line does not name ${missing.map(([what]) => what).join(' or ')}:\n  ${startupLine}`,
        );
      }
    },
  );

  task(
    'on a port that is taken, serve() rejects with the EADDRINUSE error (checked in process: server.ts then exits 1)',
    {
      points: 2,
      step: STEP_1,
      severity: 'critical',
      timeout,
      hint: 'Reject listen() with the error the listen callback receives; server.ts prints it and exits 1.',
    },
    async () => {
      const { run, port, outcome } = await takenPort.get();

      if (outcome.resolved)
        throw new Error(
          `serve() on port ${port}, which another server holds, resolved (with a server that is ${outcome.listening ? '' : 'not '}listening): ` +
            `server.ts would carry on as if it had started, and nobody would answer on that port.${said(run)}`,
        );
      const claimed = run.output.find((line) => new RegExp(`\\b${port}\\b`).test(line));
      if (claimed)
        throw new Error(
          `serve() on port ${port}, which another server holds, printed "${claimed}": the startup line comes once the server listens, not before.`,
        );
      expect(outcome.error).toMatchObject({ code: 'EADDRINUSE' });
    },
  );
});

topic('when the machine kills the process (SIGKILL)', () => {
  task(
    'restarted on the same port, it answers the same cookie with an empty cart',
    {
      points: 2,
      step: STEP_1,
      severity: 'critical',
      timeout,
      hint: 'SIGKILL runs none of your code: whatever was only in memory is gone. Step 1 is all this needs.',
    },
    async () => {
      const { filled, exit, afterRestart } = await killStory.get();

      expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
      expect(filled.cart).toMatchObject({ items: [macbook, iphone], total: 3700 });
      expect(afterRestart.status).toBe(200);
      expect(afterRestart.body).toMatchObject({ items: [], total: 0 });
    },
  );
});

topic('when server 3 crashes on Black Friday (POST /crash)', () => {
  task(
    'POST /crash answers 202 with a JSON message and its serverId before the process goes',
    {
      points: 2,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint: 'Answer first; exit only when the response tells you it has been sent, not inside the handler.',
    },
    async () => {
      const { crash } = await crashStory.get();

      if (crash.status === 'no answer') {
        throw new Error(
          `POST /crash got no answer: the process went before its 202 left (${String(crash.body)}).`,
        );
      }
      if (crash.status !== 202)
        throw new Error(
          `POST /crash answered ${crash.status} ${JSON.stringify(crash.body)}, not 202 Accepted.`,
        );
      const body = (crash.body ?? {}) as { message?: unknown; serverId?: unknown };
      if (typeof body.message !== 'string' || body.serverId !== 'server-3')
        throw new Error(
          `POST /crash answered 202 with ${JSON.stringify(crash.body)}: the JSON body says what is happening (message) and which server (serverId: "server-3").`,
        );
    },
  );

  task(
    'then the process exits with code 1, by process.exit (no uncaught error)',
    {
      points: 2,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint: 'A crash is a failure: exit with CRASH_EXIT_CODE, not 0. A thrown error is caught by express, or, outside it, prints a stack trace that sends someone hunting for a bug.',
    },
    async () => {
      const { exit, output } = await crashStory.get();

      if (!exit) throw new Error(`server 3 was still running ${BOUND_MS} ms after POST /crash answered.`);
      if (UNCAUGHT.test(output)) {
        throw new Error(
          `server 3 died of an uncaught error, not by process.exit(CRASH_EXIT_CODE). It printed:\n${output}`,
        );
      }
      if (exit.code !== 1)
        throw new Error(
          `server 3 exited with ${exit.code === null ? `signal ${exit.signal}` : `code ${exit.code}`} after POST /crash: a crash is a failure, its exit code is CRASH_EXIT_CODE (1).`,
        );
      expect(exit).toEqual({ code: 1, signal: null });
    },
  );

  task(
    'restarted on the same port, it answers the same cookie with an empty cart and a new session',
    {
      points: 3,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint: 'Nothing more to write once POST /crash works: the sessions lived in the memory of the process that died.',
    },
    async () => {
      const { filled, exit, afterRestart, addedAgain } = await crashStory.get();
      if (!exit || !afterRestart || !addedAgain)
        throw new Error('server 3 never exited, so it was never restarted.');

      expect(filled.cart).toMatchObject({ items: [macbook, iphone], total: 3700 });
      expect(afterRestart.status).toBe(200);
      expect(afterRestart.body).toMatchObject({ items: [], total: 0 });
      expect(addedAgain.sessionId).toBeDefined();
      expect(addedAgain.sessionId).not.toBe(filled.sessionId);
    },
  );
});

topic('when crashing is not enabled (ENABLE_CHAOS=0)', () => {
  task(
    'POST /crash and GET /slow are JSON 404s, and the server stays up',
    {
      points: 2,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint: 'Register the chaos routes only when options.enabled; the app already answers unknown routes with 404.',
    },
    async () => {
      const { restarted: server5 } = await killStory.get();

      const visitor = new Visitor();
      const crash = await answer(visitor.post(server5, '/crash'));
      throwIfNotImplemented(crash.body);
      const slow = await answer(visitor.get(server5, '/slow?ms=0'));
      const health = await answer(visitor.get(server5, '/health'));

      for (const [route, said] of [
        ['POST /crash', crash],
        ['GET /slow', slow],
      ] as const) {
        const error = (said.body as { error?: unknown } | undefined)?.error;
        if (said.status !== 404 || error !== 'not_found')
          throw new Error(
            `with ENABLE_CHAOS=0, ${route} answered ${said.status} ${JSON.stringify(said.body)}: a chaos route exists although chaos is off (the app's JSON 404 should answer).`,
          );
      }
      if (health.status !== 200)
        throw new Error(`with ENABLE_CHAOS=0, server 5 no longer answers GET /health after a POST /crash.`);
    },
  );

  task(
    'chaosRoutes({ enabled: false }) adds no route, even with ENABLE_CHAOS=1 in the environment',
    {
      points: 1,
      step: STEP_2,
      timeout,
      hint: 'chaosRoutes decides from options.enabled alone: its caller read the environment (or a config) already.',
    },
    async () => {
      const before = process.env.ENABLE_CHAOS;
      process.env.ENABLE_CHAOS = '1';
      // Inside a run: a POST /crash that does crash records its process.exit instead of ending the specs.
      const run = new Run('chaos off');
      const server = run.inside(() => {
        const app = express();
        app.use(chaosRoutes({ enabled: false, serverId: 'in-process' }));
        app.use(notFound);
        app.use(jsonErrors);
        return app.listen(0, '127.0.0.1');
      });
      try {
        await new Promise((resolve) => server.once('listening', resolve));
        const here = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
        const crash = await fetchAnswer(here, 'POST', '/crash');
        throwIfNotImplemented(crash.body);
        const slow = await fetchAnswer(here, 'GET', '/slow?ms=0');

        if (crash.status !== 404 || slow.status !== 404)
          throw new Error(
            `chaosRoutes({ enabled: false }) answered POST /crash with ${crash.status} and GET /slow with ${slow.status} ` +
              `(ENABLE_CHAOS=1 in the environment): it decided from the environment, not from options.enabled. Both should be 404.`,
          );
      } finally {
        run.end(server);
        if (before === undefined) delete process.env.ENABLE_CHAOS;
        else process.env.ENABLE_CHAOS = before;
      }
    },
  );
});

topic('when a deploy stops the server (SIGTERM)', () => {
  task(
    'the request in flight still completes with 200',
    {
      points: 2,
      step: STEP_3,
      severity: 'critical',
      timeout,
      hint: 'Stop listening, but let open requests finish: exit only once the server has closed, not in the listener.',
    },
    async () => {
      const { server7, completed } = await drainStory.get();
      throwIfNotImplemented(server7.output());

      if (!completed)
        throw new Error(`server 7's request in flight got no answer within ${BOUND_MS} ms of SIGTERM.`);
      if (completed.status === 'cut off')
        throw new Error(
          'the request in flight was cut off mid-answer: server 7 went before it had finished answering it.',
        );
      expect({ status: completed.status, body: completed.body }).toEqual({
        status: 200,
        body: { serverId: 'server-7', tookMs: IN_FLIGHT_MS },
      });
    },
  );

  task(
    'new connections are refused while it drains',
    {
      points: 2,
      step: STEP_3,
      timeout,
      hint: 'Stop listening as soon as SIGTERM arrives, even while requests are still open.',
    },
    async () => {
      const { server7, knocked, refusedWhileInFlight } = await drainStory.get();
      throwIfNotImplemented(server7.output());

      if (knocked !== 'refused')
        throw new Error(`server 7 still accepted new connections ${KNOCK_MS} ms after SIGTERM.`);
      if (!refusedWhileInFlight)
        throw new Error('server 7 refused new connections only once its request in flight was over.');
    },
  );

  task(
    'then it exits with code 0 right after its last answer, though that answer kept its connection alive',
    {
      points: 2,
      step: STEP_3,
      timeout,
      hint: 'The server closes only when every connection has ended; a kept-alive one stays open after its answer unless the drain ends it.',
    },
    async () => {
      const { server7, completed, exit, exitedAfterMs, connectionOpen } = await drainStory.get();
      throwIfNotImplemented(server7.output());
      if (!completed) throw new Error('server 7 never answered its request in flight.');

      if (!exit || exitedAfterMs === undefined || exitedAfterMs > PROMPT_MS) {
        const late =
          exitedAfterMs === undefined
            ? `still running ${PROMPT_MS} ms`
            : `still running ${Math.round(exitedAfterMs)} ms`;
        throw new Error(
          `server 7 was ${late} after its last answer (a drained server exits within milliseconds; the bound is ${PROMPT_MS} ms).` +
            (connectionOpen
              ? ` The connection that answer came on was still open: the answer kept it alive, and the server waits for every connection to end (Node ends an idle kept-alive one only after ${KEEP_ALIVE_MS / 1000} s).`
              : ''),
        );
      }
      expect(exit).toEqual({ code: 0, signal: null });
    },
  );

  task(
    'a stuck request does not keep it alive past the drain timeout: exit code 1, at DRAIN_TIMEOUT_MS and not before',
    {
      points: 2,
      step: STEP_3,
      timeout,
      hint: 'Start a timer of options.drainTimeoutMs when SIGTERM arrives; when it fires, exit with DRAIN_TIMEOUT_EXIT_CODE.',
    },
    async () => {
      const { server8, exit, tookMs } = await stuckStory.get();
      throwIfNotImplemented(server8.output());

      if (!exit) {
        throw new Error(
          `server 8 was still running ${STUCK_EXIT_MS} ms after SIGTERM, with DRAIN_TIMEOUT_MS=${SHORT_DRAIN_MS} and a request stuck.`,
        );
      }
      if (tookMs < SHORT_DRAIN_MS)
        throw new Error(
          `server 8 exited ${tookMs} ms after SIGTERM, before its DRAIN_TIMEOUT_MS=${SHORT_DRAIN_MS}: the request had that long to finish.`,
        );
      if (exit.code !== 1)
        throw new Error(
          `server 8 cut its stuck request off at the drain timeout, and said so with exit code ${exit.code}: a shutdown that cut requests off is not clean, exit with DRAIN_TIMEOUT_EXIT_CODE (1).`,
        );
      expect(exit).toEqual({ code: 1, signal: null });
    },
  );
});

topic('when a deploy stops serve() with an onShutdown (checked in process)', () => {
  task(
    'onShutdown runs once, after the request in flight has been answered',
    {
      points: 2,
      step: STEP_3,
      severity: 'critical',
      timeout,
      hint: 'Call options.onShutdown in the close callback: the server calls it when the last connection has ended.',
    },
    async () => {
      const { run, answer, shutdown } = await cleanDrain.get();

      expect(answer?.status).toBe(200);
      if (shutdown.calls === 0) throw new Error(`onShutdown was never called after SIGTERM.${said(run)}`);
      if (shutdown.requestFinished === false)
        throw new Error(
          `onShutdown ran ${ms(shutdown.calledAtMs)} after SIGTERM, while a request was still being answered: ` +
            `it closes what requests need (lesson 03: the Redis client), so it runs only once they are done.`,
        );
      expect(shutdown.calls).toBe(1);
    },
  );

  task(
    'the exit waits for onShutdown to finish, then it is code 0',
    {
      points: 2,
      step: STEP_3,
      timeout,
      hint: 'onShutdown returns a promise: await it before you exit.',
    },
    async () => {
      const { run, exit, shutdown } = await cleanDrain.get();

      if (!exit) throw new Error(`serve() never called process.exit after SIGTERM.${said(run)}`);
      if (shutdown.doneAtMs === undefined || exit.ms < shutdown.doneAtMs)
        throw new Error(
          `process.exit(${exit.code}) came ${ms(exit.ms)} after SIGTERM, ` +
            (shutdown.calls === 0
              ? 'and onShutdown was never called.'
              : `before onShutdown had finished (it took ${ON_SHUTDOWN_MS} ms): the exit cut it off.`),
        );
      expect(exit.code).toBe(0);
    },
  );

  task(
    'once it has drained, the drain timer is cleared: nothing exits again',
    {
      points: 1,
      step: STEP_3,
      timeout,
      hint: 'Keep the timer you start on SIGTERM, and clear it when the drain is done.',
    },
    async () => {
      const { exits } = await cleanDrain.get();

      if (exits.length === 0) throw new Error('serve() never called process.exit after SIGTERM.');
      const [first, ...later] = exits;
      if (later.length > 0)
        throw new Error(
          `process.exit(${first?.code}) at ${ms(first?.ms)}, then process.exit(${later[0]?.code}) at ${ms(later[0]?.ms)}: ` +
            `the drain timer (drainTimeoutMs ${CLEAN_DRAIN_TIMEOUT_MS}) was still running after a clean drain.`,
        );
    },
  );

  task(
    'when onShutdown fails, it exits with code 1 at once',
    {
      points: 2,
      step: STEP_3,
      timeout,
      hint: 'A failed onShutdown is a shutdown that was not clean: catch it, and exit with DRAIN_TIMEOUT_EXIT_CODE.',
    },
    async () => {
      const { run, exit } = await failedShutdown.get();

      if (!exit)
        throw new Error(
          `serve() had not called process.exit ${SOON_MS} ms after SIGTERM, with an onShutdown that rejected at once` +
            (run.rejections.length > 0
              ? `: its rejection (${String(run.rejections[0])}) escaped serve(), which never caught it.`
              : '.') +
            said(run),
        );
      if (exit.code !== 1)
        throw new Error(
          `onShutdown rejected, and serve() exited with code ${exit.code}: the logs and the orchestrator would see a clean shutdown.`,
        );
    },
  );

  task(
    'the drain timeout is options.drainTimeoutMs, not a number of its own (100 ms, then 700 ms)',
    {
      points: 1,
      step: STEP_3,
      timeout,
      hint: 'Use options.drainTimeoutMs for the timer: each caller (and DRAIN_TIMEOUT_MS) chooses it.',
    },
    async () => {
      for (const { run, exit, drainTimeoutMs } of [await stuckShort.get(), await stuckLong.get()]) {
        if (exit?.beforeSigterm)
          throw new Error(
            `with drainTimeoutMs ${drainTimeoutMs}, serve() exited ${ms(exit.ms)} after it started, before any SIGTERM: the drain timer starts when SIGTERM arrives.`,
          );
        if (!exit)
          throw new Error(
            `with drainTimeoutMs ${drainTimeoutMs} and a request stuck, serve() had not exited ${ms(drainTimeoutMs + LATE_MS)} after SIGTERM: a timer of options.drainTimeoutMs would have fired at ${drainTimeoutMs} ms.${said(run)}`,
          );
        if (exit.ms < drainTimeoutMs - 5)
          throw new Error(
            `with drainTimeoutMs ${drainTimeoutMs}, serve() exited ${ms(exit.ms)} after SIGTERM, before the timeout.`,
          );
        expect({ drainTimeoutMs, code: exit.code }).toEqual({ drainTimeoutMs, code: 1 });
      }
    },
  );

  task(
    'when onShutdown never ends, the drain timeout still ends the process (code 1)',
    {
      points: 1,
      step: STEP_3,
      timeout,
      hint: 'The drain timeout bounds the whole shutdown, onShutdown included: clear it only once onShutdown is done.',
    },
    async () => {
      const { run, exit } = await hungShutdown.get();

      if (!exit)
        throw new Error(
          `serve() had not called process.exit ${ms(HUNG_SHUTDOWN_TIMEOUT_MS + LATE_MS)} after SIGTERM, with drainTimeoutMs ${HUNG_SHUTDOWN_TIMEOUT_MS} and an onShutdown that never ends.${said(run)}`,
        );
      expect(exit.code).toBe(1);
    },
  );
});
