/**
 * Lesson 02 — the crash. Each `task` is one thing the README asks you to build.
 * Run: npm test lessons/02
 *
 * Every server here is a real OS process running src/server.ts, and dies for real. A process takes
 * about half a second to start, so each story below (the arrange + act: start a server, fill a cart,
 * crash it, restart it…) runs once, starting in the background as the file begins, and several tasks
 * then check what it saw. Every wait is bounded and waits for a real event, never a fixed sleep.
 */
import { connect } from 'node:net';
import request, { type Response } from 'supertest';
import { requestInFlight } from '../../../kit/spec/browser';
import { throwIfNotImplemented, useServerProcesses, within } from '../../../kit/spec/processes';
import { iphone, macbook } from '../../../kit/spec/shop';
import { lesson } from '../../../kit/spec/task';
import { startedOnce } from '../../../kit/spec/wait';

const { topic, task } = lesson('02-crash');
const servers = useServerProcesses();

/** Upper bound for anything a process should do soon (exit, refuse a connection). Generous on purpose. */
const BOUND_MS = 5_000;
/** How long the request in flight takes: time enough to send SIGTERM and knock while it runs. */
const IN_FLIGHT_MS = 800;
/** The stuck story: a short drain timeout, and a request that would take far longer. */
const SHORT_DRAIN_MS = 300;
const STUCK_MS = 20_000;
/** Per task: the stories start real processes, and this machine may be busy. */
const timeout = 20_000;

const STEP_1 = 'Step 1 — listen on the port';
const STEP_2 = 'Step 2 — crash on purpose';
const STEP_3 = 'Step 3 — drain on SIGTERM';

// ── The stories (arrange + act) ──────────────────────────────────────────────────────────────────

/** Black Friday: a visitor fills a cart on server 3; server 3 crashes; it is restarted on its port. */
const crashStory = startedOnce(async () => {
  const server3 = await startServer('server-3', { ENABLE_CHAOS: '1' });
  const shopper = request.agent(server3.url);
  const filled = await fillCart(shopper);

  const crash = await answer(shopper.post('/crash'));
  throwIfNotImplemented(crash.body);
  const exit = await server3.exitWithin(BOUND_MS);
  if (!exit) return { filled, crash, exit, afterRestart: undefined, addedAgain: undefined };

  await startServer('server-3', { ENABLE_CHAOS: '1' }, server3.port);
  const afterRestart = await answer(shopper.get('/cart'));
  const addedAgain = await answer(shopper.post('/cart/items').send(macbook));
  return { filled, crash, exit, afterRestart, addedAgain };
});

/** The machine kills server 5 (the out-of-memory killer, a pulled plug): SIGKILL, no code of ours runs. */
const killStory = startedOnce(async () => {
  const server5 = await startServer('server-5', { ENABLE_CHAOS: '0' });
  const startupLine = await server5.waitForOutput(new RegExp(`^.*\\b${server5.port}\\b.*$`, 'm'), BOUND_MS);
  const shopper = request.agent(server5.url);
  const filled = await fillCart(shopper);

  const exit = await server5.kill('SIGKILL');
  const restarted = await startServer('server-5', { ENABLE_CHAOS: '0' }, server5.port);
  const afterRestart = await answer(shopper.get('/cart'));
  return { startupLine, startupOutput: server5.output(), filled, exit, afterRestart, restarted };
});

/** A deploy replaces server 7: SIGTERM while a visitor's request is still being answered. */
const drainStory = startedOnce(async () => {
  const server7 = await startServer('server-7', { ENABLE_CHAOS: '1', DRAIN_TIMEOUT_MS: '10000' });
  const inFlight = await requestInFlight(`${server7.url}/slow?ms=${IN_FLIGHT_MS}`);
  let answered = false;
  const completion = inFlight.answer.finally(() => {
    answered = true;
  });

  const stopping = server7.kill('SIGTERM');
  const knocked = await knockUntilRefused(server7.port, BOUND_MS);
  const refusedWhileInFlight = knocked === 'refused' && !answered;
  const completed = await within(completion, BOUND_MS);
  const exit = await within(stopping, BOUND_MS);
  return { server7, knocked, refusedWhileInFlight, completed, exit };
});

/** The same deploy, but one request is stuck (a hung call upstream): the drain timeout must win. */
const stuckStory = startedOnce(async () => {
  const server8 = await startServer('server-8', {
    ENABLE_CHAOS: '1',
    DRAIN_TIMEOUT_MS: String(SHORT_DRAIN_MS),
  });
  const stuck = await requestInFlight(`${server8.url}/slow?ms=${STUCK_MS}`);

  const sentAt = Date.now();
  const exit = await within(server8.kill('SIGTERM'), BOUND_MS);
  const tookMs = Date.now() - sentAt;
  stuck.hangUp();
  return { server8, exit, tookMs };
});

// All four start at once: their processes boot side by side instead of one after another.
beforeAll(() => {
  for (const story of [crashStory, killStory, drainStory, stuckStory]) story.begin();
});

// ── The tasks (assert) ───────────────────────────────────────────────────────────────────────────

topic('when the server starts', () => {
  task(
    'it listens on PORT and says so in one line of output',
    {
      points: 1,
      step: STEP_1,
      severity: 'blocker',
      timeout,
      hint: 'Resolve listen() from the listen callback, after one console.log naming the server and its port.',
    },
    async () => {
      const { startupLine, startupOutput } = await killStory.get();

      if (!startupLine) {
        throw new Error(
          `server 5 printed no line naming its port. It printed:\n${startupOutput || '(nothing)'}`,
        );
      }
    },
  );
});

topic('when server 3 crashes on Black Friday (POST /crash)', () => {
  task(
    'POST /crash answers 202 with a JSON message before the process goes',
    {
      points: 2,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint: 'Answer first; exit only when the response tells you it has been sent, not inside the handler.',
    },
    async () => {
      const { crash } = await crashStory.get();

      expect(crash.status).toBe(202);
      expect(crash.body).toMatchObject({ message: expect.any(String) });
    },
  );

  task(
    'then the process exits with code 1',
    {
      points: 2,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint: 'A crash is a failure: process.exit(CRASH_EXIT_CODE), not 0, and not a thrown error caught by express.',
    },
    async () => {
      const { exit } = await crashStory.get();

      if (!exit) throw new Error(`server 3 was still running ${BOUND_MS} ms after POST /crash answered.`);
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

topic('when crashing is not enabled (no ENABLE_CHAOS=1)', () => {
  task(
    'POST /crash is a JSON 404 and the server stays up',
    {
      points: 2,
      step: STEP_2,
      severity: 'critical',
      timeout,
      hint: 'Register the crash route only when options.enabled; the app already answers unknown routes with 404.',
    },
    async () => {
      const { restarted: server5 } = await killStory.get();

      const crash = await answer(request(server5.url).post('/crash'));
      throwIfNotImplemented(crash.body);
      const health = await answer(request(server5.url).get('/health'));

      expect(crash.status).toBe(404);
      expect(crash.body).toMatchObject({ error: 'not_found' });
      expect(health.status).toBe(200);
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
      hint: 'server.close() stops new connections but lets open requests finish; exit in its callback, not before.',
    },
    async () => {
      const { server7, completed } = await drainStory.get();
      throwIfNotImplemented(server7.output());

      expect(completed).toEqual({
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
      hint: 'Stop listening as soon as SIGTERM arrives (server.close()), even while requests are still open.',
    },
    async () => {
      const { server7, knocked, refusedWhileInFlight } = await drainStory.get();
      throwIfNotImplemented(server7.output());

      expect(knocked).toBe('refused');
      expect(refusedWhileInFlight).toBe(true);
    },
  );

  task(
    'then the process exits with code 0',
    {
      points: 2,
      step: STEP_3,
      timeout,
      hint: 'A clean shutdown is a success: process.exit(0) once close() has called back (and onShutdown is done).',
    },
    async () => {
      const { server7, exit } = await drainStory.get();
      throwIfNotImplemented(server7.output());

      if (!exit) throw new Error(`server 7 was still running ${BOUND_MS} ms after its last request ended.`);
      expect(exit).toEqual({ code: 0, signal: null });
    },
  );

  task(
    'a stuck request does not keep it alive past the drain timeout (exit code 1)',
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
          `server 8 was still running ${BOUND_MS} ms after SIGTERM, with DRAIN_TIMEOUT_MS=${SHORT_DRAIN_MS}.`,
        );
      }
      expect(exit).toEqual({ code: 1, signal: null });
      expect(tookMs).toBeLessThan(BOUND_MS);
    },
  );
});

// ── Helpers ──────────────────────────────────────────────────────────────────────────────────────

type Browser = ReturnType<typeof request.agent>;

/** src/server.ts as a process; with `port`, a restart of the server that had that port. */
function startServer(
  serverId: string,
  env: { ENABLE_CHAOS: '1' | '0'; DRAIN_TIMEOUT_MS?: string },
  port?: number,
) {
  return servers.start({
    lesson: '02-crash',
    entry: 'server.ts',
    // Explicit values: an ENABLE_CHAOS or DRAIN_TIMEOUT_MS exported in your shell changes nothing here.
    env: { SERVER_ID: serverId, DRAIN_TIMEOUT_MS: '10000', ...env },
    port,
    // These processes run beside other tasks: each task checks the output it depends on itself.
    recordTodos: false,
  });
}

/** A visitor puts the MacBook Pro and the iPhone 15 in their cart; returns their session id and cart. */
async function fillCart(shopper: Browser) {
  const first = await shopper.post('/cart/items').send(macbook).expect(201);
  await shopper.post('/cart/items').send(iphone).expect(201);
  const cart = await shopper.get('/cart').expect(200);
  return { sessionId: sessionIdOf(first), cart: cart.body as unknown };
}

interface Answer {
  status: number | 'no answer';
  body: unknown;
  sessionId?: string;
}

/** A request's answer, or 'no answer' when the connection failed (a process that died too soon). */
async function answer(call: PromiseLike<Response>): Promise<Answer> {
  try {
    const res = await call;
    return { status: res.status, body: res.body as unknown, sessionId: sessionIdOf(res) };
  } catch (error) {
    return { status: 'no answer', body: String(error) };
  }
}

/** The session id in a response's Set-Cookie, if it sets one. */
function sessionIdOf(res: Response): string | undefined {
  const cookies = ([] as string[]).concat(res.headers['set-cookie'] ?? []);
  return cookies.join(';').match(/connect\.sid=([^;]+)/)?.[1];
}

/** Opens TCP connections to the port until one is refused, for at most `ms`; each accepted one is closed at once. */
async function knockUntilRefused(port: number, ms: number): Promise<'refused' | 'still accepting'> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if ((await knock(port)) === 'refused') return 'refused';
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return 'still accepting';
}

function knock(port: number): Promise<'accepted' | 'refused' | 'other'> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'ECONNREFUSED' ? 'refused' : 'other');
    });
  });
}
