/**
 * Lesson 02 — your serve() inside the spec's own process (not a spec file; you do not need to read it
 * to do the lesson). `options.onShutdown` is given by the program that calls serve() (lesson 03 closes
 * its Redis client there); src/server.ts passes none, so what serve() does with it cannot be seen from
 * outside a process. The runs below call your serve() here, on a small app of their own, and watch:
 *
 * - each run's SIGTERM listener is taken off the process as serve() adds it, and called by the spec
 *   ("the signal arrives") — a real SIGTERM never reaches it, and one run's signal is its own;
 * - process.exit(code) is recorded instead of ending the process (a real exit would end the specs),
 *   and so is console output; both are told apart per run (AsyncLocalStorage: whatever a run's code
 *   schedules — timers, server callbacks — belongs to that run), so runs can go side by side.
 *
 * Because a recorded exit returns instead of ending the process, code after a process.exit() keeps
 * running here: the specs look at the FIRST exit of a run, as a real process would.
 */
import { AsyncLocalStorage, createHook } from 'node:async_hooks';
import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { createServer } from 'node:net';
import { format } from 'node:util';
import express from 'express';
import { requestInFlight } from '../../../kit/spec/browser';
import { freePort, within } from '../../../kit/spec/processes';
import { startedOnce } from '../../../kit/spec/wait';
import type { ServeOptions } from '../src/options';
import { serve } from '../src/serve';
import { slow } from '../src/slow';
import { needs, STEP_1, STEP_3 } from './support';

export interface RecordedExit {
  code: number | undefined;
  /** Milliseconds after the SIGTERM (or after the run began, before any SIGTERM). */
  ms: number;
  /** It came before the spec sent any SIGTERM. */
  beforeSigterm: boolean;
}

/** One server run by serve() in this process. */
export class Run {
  readonly exits: RecordedExit[] = [];
  readonly output: string[] = [];
  readonly sigtermListeners: Array<(signal: NodeJS.Signals) => void> = [];
  /** Errors that escaped the server's listeners as rejected promises (nothing in serve() caught them). */
  readonly rejections: unknown[] = [];
  /** Timers and immediates the run's code scheduled: cleared when the run ends (see end()). */
  readonly timers = new Set<NodeJS.Timeout | NodeJS.Immediate>();
  private readonly began = performance.now();
  private sigtermAt: number | undefined;
  private wake: Array<() => void> = [];

  constructor(readonly name: string) {
    install();
  }

  /** Milliseconds since the SIGTERM (since the run began, before one). */
  now(): number {
    return performance.now() - (this.sigtermAt ?? this.began);
  }

  record(code: number | undefined): void {
    this.exits.push({ code, ms: this.now(), beforeSigterm: this.sigtermAt === undefined });
    for (const wake of this.wake.splice(0)) wake();
  }

  /** The first exit, once there is one, for at most `ms`; undefined if there was none by then. */
  async firstExit(ms: number): Promise<RecordedExit | undefined> {
    if (this.exits[0]) return this.exits[0];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.exits[0];
  }

  /** "The signal arrives": calls the SIGTERM listeners serve() added, as Node would, inside this run. */
  sigterm(): void {
    if (this.sigtermListeners.length === 0)
      throw new Error('serve() added no SIGTERM listener to the process, so a deploy would kill it at once.');
    this.sigtermAt = performance.now();
    context.run(this, () => {
      for (const listener of this.sigtermListeners) listener.call(process, 'SIGTERM');
    });
  }

  /** Runs `body` inside this run (its exits and output are recorded here). */
  inside<T>(body: () => T): T {
    return context.run(this, body);
  }

  /**
   * The run is over: whatever serve() left open is closed, and every timer its code still has pending
   * (a drain timer nobody cleared) is cleared, so that nothing of this run fires after the spec file.
   */
  end(server?: Server): void {
    if (server) this.inside(() => shutDown(server));
    for (const timer of this.timers) {
      clearTimeout(timer as NodeJS.Timeout);
      clearImmediate(timer as NodeJS.Immediate);
    }
    this.timers.clear();
  }
}

const context = new AsyncLocalStorage<Run>();
let installed = false;

/**
 * process.exit and console.log/error record into the current run; outside any run they behave as
 * usual. Installed once per spec file by assignment (not jest.spyOn, which Jest restores when the file
 * ends) and left in place. Timers and immediates scheduled inside a run are remembered (async_hooks),
 * so Run.end() can clear what a wrong solution left pending.
 */
function install(): void {
  if (installed) return;
  installed = true;
  const realExit = process.exit.bind(process);
  process.exit = ((code?: number | string | null) => {
    const run = context.getStore();
    if (!run) return realExit(code);
    run.record(code === undefined || code === null ? undefined : Number(code));
    return undefined as never;
  }) as typeof process.exit;
  for (const method of ['log', 'error', 'warn', 'info'] as const) {
    const real = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      const run = context.getStore();
      if (run) run.output.push(format(...args));
      else real(...args);
    };
  }
  createHook({
    init(_id, type, _trigger, resource) {
      if (type !== 'Timeout' && type !== 'Immediate') return;
      context.getStore()?.timers.add(resource as NodeJS.Timeout | NodeJS.Immediate);
    },
  }).enable();
}

let queue: Promise<unknown> = Promise.resolve();

/**
 * Calls `start` (your serve()) inside `run`, one at a time: the SIGTERM listeners it adds to the
 * process are taken off again and kept in `run.sigtermListeners`.
 */
export function serveInside(run: Run, start: () => Promise<Server>): Promise<Server> {
  const result = queue.then(() =>
    context.run(run, async () => {
      const before = new Set(process.rawListeners('SIGTERM'));
      try {
        const settled = await within(
          startCapturing(start).then(
            (server) => ({ server }),
            (error: unknown) => ({ error }),
          ),
          SOON_MS,
        );
        if (!settled)
          throw new Error(`serve() had neither resolved nor rejected ${SOON_MS} ms after it was called.`);
        if ('error' in settled) throw settled.error;
        // A listener of the server that returns a promise (an async close callback) and rejects: the
        // error comes here, to the run, instead of ending the specs as an unhandled rejection.
        Object.assign(settled.server, {
          [EventEmitter.captureRejectionSymbol]: (error: unknown) => run.rejections.push(error),
        });
        return settled.server;
      } finally {
        for (const raw of process.rawListeners('SIGTERM')) {
          if (before.has(raw)) continue;
          process.removeListener('SIGTERM', raw as (...args: unknown[]) => void);
          const listener = (raw as { listener?: (signal: NodeJS.Signals) => void }).listener ?? raw;
          run.sigtermListeners.push(listener as (signal: NodeJS.Signals) => void);
        }
      }
    }),
  );
  queue = result.catch(() => undefined);
  return result;
}

/**
 * Calls start() with EventEmitter.captureRejections on while it runs synchronously: the server that
 * serve() creates (app.listen does, at once) routes a rejection of its listeners' promises to
 * Symbol.for('nodejs.rejection'), which serveInside() points at the run.
 */
function startCapturing(start: () => Promise<Server>): Promise<Server> {
  const before = EventEmitter.captureRejections;
  EventEmitter.captureRejections = true;
  try {
    return start();
  } finally {
    EventEmitter.captureRejections = before;
  }
}

// ── The runs (arrange + act of the in-process tasks in crash.spec.ts) ───────────────────────────

/** Upper bound for anything that should happen soon. Generous on purpose: the machine may be busy. */
export const SOON_MS = 2_000;
/** The clean drain: a request answered REQUEST_MS after the SIGTERM, an onShutdown that takes ON_SHUTDOWN_MS. */
export const REQUEST_MS = 100;
export const ON_SHUTDOWN_MS = 50;
/** Its drain timeout: far more than the drain takes, so that a timer left running shows. */
export const CLEAN_DRAIN_TIMEOUT_MS = 600;
/**
 * The drain timeouts of the runs that must end with it. Two stuck requests, with timeouts far enough
 * apart that no one number of milliseconds passes for both: 100 ms and 700 ms, each seen at most
 * LATE_MS late.
 */
export const SHORT_DRAIN_TIMEOUT_MS = 100;
export const LONG_DRAIN_TIMEOUT_MS = 700;
export const HUNG_SHUTDOWN_TIMEOUT_MS = 150;
/** A timer of N ms fires after N ms: how much later it may be seen here, on a busy machine. */
export const LATE_MS = 550;

/**
 * A deploy: one request in flight, an onShutdown that takes a little while. The request is held by
 * the spec, not by a timer: its answer is sent REQUEST_MS after the SIGTERM (never before it, however
 * busy the machine), so an onShutdown called any earlier sees it unfinished.
 */
export const cleanDrain = startedOnce(async () => {
  needs(STEP_1, STEP_3);
  const run = new Run('clean drain');
  const held = heldRequest();
  const shutdown = {
    calls: 0,
    calledAtMs: undefined as number | undefined,
    requestFinished: undefined as boolean | undefined,
    doneAtMs: undefined as number | undefined,
  };
  const { server, url } = await serveHere(run, {
    app: held.app,
    drainTimeoutMs: CLEAN_DRAIN_TIMEOUT_MS,
    onShutdown: async () => {
      shutdown.calls++;
      shutdown.calledAtMs = run.now();
      shutdown.requestFinished = held.finished;
      // Stands for closing a Redis client: work that takes a moment, that the exit must wait for.
      await new Promise((resolve) => setTimeout(resolve, ON_SHUTDOWN_MS));
      shutdown.doneAtMs = run.now();
    },
  });
  try {
    const inFlight = await requestInFlight(`${url}/held`);
    run.sigterm();
    held.releaseAfterSigterm();
    const answer = await within(inFlight.answer, SOON_MS);
    const exit = await run.firstExit(SOON_MS);
    // A drain timer left running fires at CLEAN_DRAIN_TIMEOUT_MS: watch until well after that.
    await new Promise((resolve) =>
      setTimeout(resolve, Math.max(0, CLEAN_DRAIN_TIMEOUT_MS + 200 - run.now())),
    );
    return { run, answer, exit, exits: [...run.exits], shutdown };
  } finally {
    held.releaseAfterSigterm();
    run.end(server);
  }
});

/** A deploy whose onShutdown fails (the Redis client would not close). */
export const failedShutdown = startedOnce(async () => {
  needs(STEP_1, STEP_3);
  const run = new Run('failed onShutdown');
  const { server } = await serveHere(run, {
    app: slowApp(),
    drainTimeoutMs: 5_000,
    onShutdown: async () => {
      throw new Error('the Redis client would not close');
    },
  });
  try {
    run.sigterm();
    const exit = await run.firstExit(SOON_MS);
    return { run, exit };
  } finally {
    run.end(server);
  }
});

/** A deploy whose onShutdown never ends. */
export const hungShutdown = startedOnce(async () => {
  needs(STEP_1, STEP_3);
  const run = new Run('hung onShutdown');
  const { server } = await serveHere(run, {
    app: slowApp(),
    drainTimeoutMs: HUNG_SHUTDOWN_TIMEOUT_MS,
    onShutdown: () => new Promise<void>(() => {}),
  });
  try {
    run.sigterm();
    const exit = await run.firstExit(HUNG_SHUTDOWN_TIMEOUT_MS + LATE_MS);
    return { run, exit };
  } finally {
    run.end(server);
  }
});

/** A deploy with a request stuck, and a drain timeout of `drainTimeoutMs`. */
function stuckRequest(drainTimeoutMs: number) {
  return startedOnce(async () => {
    needs(STEP_1, STEP_3);
    const run = new Run(`stuck request, drainTimeoutMs ${drainTimeoutMs}`);
    const { server, url } = await serveHere(run, { app: slowApp(), drainTimeoutMs });
    const stuck = await requestInFlight(`${url}/slow?ms=20000`);
    try {
      run.sigterm();
      const exit = await run.firstExit(drainTimeoutMs + LATE_MS);
      return { run, exit, drainTimeoutMs };
    } finally {
      stuck.hangUp();
      run.end(server);
    }
  });
}
export const stuckShort = stuckRequest(SHORT_DRAIN_TIMEOUT_MS);
export const stuckLong = stuckRequest(LONG_DRAIN_TIMEOUT_MS);

/** Someone else already listens on the port serve() is given. */
export const takenPort = startedOnce(async () => {
  needs(STEP_1);
  const squatter = createServer();
  await new Promise<void>((resolve, reject) => {
    squatter.once('error', reject);
    squatter.listen(0, resolve); // every address, as serve() listens
  });
  const address = squatter.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const run = new Run('taken port');
  try {
    const outcome = await serveInside(run, () =>
      serve({ app: express(), port, serverId: 'in-process-taken', drainTimeoutMs: 1_000 }),
    ).then(
      (server) => {
        run.end(server);
        return { resolved: true as const, listening: server.listening };
      },
      (error: unknown) => ({ resolved: false as const, error }),
    );
    return { run, port, outcome };
  } finally {
    run.end();
    squatter.close();
  }
});

/** Every run, to begin side by side as the spec file begins. */
export const inProcessRuns = [takenPort, cleanDrain, failedShutdown, hungShutdown, stuckShort, stuckLong];

// ── Helpers ──────────────────────────────────────────────────────────────────────────────────────

/** Your serve() on a free port, inside `run`. */
async function serveHere(
  run: Run,
  options: Pick<ServeOptions, 'app' | 'drainTimeoutMs' | 'onShutdown'>,
): Promise<{ server: Server; url: string }> {
  const port = await freePort();
  const server = await serveInside(run, () => serve({ ...options, port, serverId: `in-process-${port}` }));
  return { server, url: `http://127.0.0.1:${port}` };
}

/**
 * GET /held: its status line and headers go out at once (the request is in flight), its body only
 * REQUEST_MS after releaseAfterSigterm(); `finished` is true once that answer has been sent. The timer
 * is started inside the request's handler (through a promise made there), so what the answer sets off
 * in serve() belongs to the run, as everything else its server does.
 */
function heldRequest() {
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const held = {
    finished: false,
    app: express(),
    releaseAfterSigterm: () => release(),
  };
  held.app.get('/held', (_req, res) => {
    res.once('finish', () => {
      held.finished = true;
    });
    res.status(200).type('application/json');
    res.flushHeaders();
    void released.then(() => {
      const timer = setTimeout(() => res.end(JSON.stringify({ heldMs: REQUEST_MS })), REQUEST_MS);
      res.once('close', () => clearTimeout(timer));
    });
  });
  return held;
}

/** The given GET /slow: a request that is stuck as long as ?ms= says. */
function slowApp() {
  const app = express();
  app.get('/slow', slow('in-process'));
  return app;
}

/**
 * Whatever serve() left open, closed (its own shutdown may have done it already). Called inside the
 * run: what the server does then (its close callback) belongs to the run.
 */
function shutDown(server: Server): void {
  server.closeAllConnections();
  server.close(() => {});
}

export function ms(value: number | undefined): string {
  return value === undefined ? '?' : `${Math.round(value)} ms`;
}

/** What the run printed, for a failure message. */
export function said(run: Run): string {
  return run.output.length ? ` It printed:\n  ${run.output.join('\n  ')}` : '';
}
