/**
 * Lesson 02 — the stories the process tasks of crash.spec.ts check (not a spec file; you do not need
 * to read it to do the lesson, though you may). Every server here is a real OS process running
 * src/server.ts, and dies for real. A process takes about half a second to start, so each story (the
 * arrange + act: start a server, fill a cart, crash it, restart it…) runs once, and several tasks
 * then check what it saw. Every wait is bounded and waits for a real event, never a fixed sleep.
 */
import { type Answer, requestInFlight, Visitor } from '../../../kit/spec/browser';
import {
  type ServerProcess,
  throwIfNotImplemented,
  useServerProcesses,
  within,
} from '../../../kit/spec/processes';
import { iphone, macbook } from '../../../kit/spec/shop';
import { startedOnce } from '../../../kit/spec/wait';
import {
  KEEP_ALIVE_MS,
  keptAliveRequestInFlight,
  knockUntilRefused,
  LESSON,
  needs,
  STEP_1,
  STEP_2,
  STEP_3,
} from './support';

const servers = useServerProcesses();

/** Upper bound for anything a process should do soon (exit, refuse a connection). Generous on purpose. */
export const BOUND_MS = 5_000;
/**
 * A drained server exits within this of its last answer. It takes milliseconds; a server that waits
 * for the answer's kept-alive connection to time out takes KEEP_ALIVE_MS (Node's 5 s) or more.
 */
export const PROMPT_MS = KEEP_ALIVE_MS / 2;
/** How long the request in flight takes: time enough to send SIGTERM and knock while it runs. */
export const IN_FLIGHT_MS = 600;
/** The stuck story: a short drain timeout, and a request that would take far longer. */
export const SHORT_DRAIN_MS = 300;
export const STUCK_MS = 20_000;
/**
 * Narrower bounds where a later event is already late by the task's own rule, so a wrong solution
 * is told so without waiting out BOUND_MS: the startup line is printed before GET /health can answer
 * (by then the process is listening); a refusal after the answer is already too late; a stuck server
 * exits at its drain timeout.
 */
export const STARTUP_LINE_MS = PROMPT_MS;
export const KNOCK_MS = IN_FLIGHT_MS + PROMPT_MS;
export const STUCK_EXIT_MS = SHORT_DRAIN_MS + PROMPT_MS;
/** Node prints this line (and the stack above it) when an error nobody caught ends the process. */
export const UNCAUGHT = /^Node\.js v\d+\.\d+\.\d+$/m;

// ── The stories (arrange + act) ──────────────────────────────────────────────────────────────────

/** Black Friday: a visitor fills a cart on server 3; server 3 crashes; it is restarted on its port. */
export const crashStory = startedOnce(async () => {
  needs(STEP_1, STEP_2);
  const server3 = await startServer('server-3', { ENABLE_CHAOS: '1' });
  const shopper = new Visitor();
  const filled = await fillCart(shopper, server3);

  const crash = await answer(shopper.post(server3, '/crash'));
  throwIfNotImplemented(crash.body);
  const exit = await server3.exitWithin(BOUND_MS);
  const output = server3.output();
  if (!exit) return { filled, crash, exit, output, afterRestart: undefined, addedAgain: undefined };

  const restarted = await startServer('server-3', { ENABLE_CHAOS: '1' }, server3.port);
  const afterRestart = await answer(shopper.get(restarted, '/cart'));
  const addedAgain = await answer(shopper.post(restarted, '/cart/items', macbook));
  return { filled, crash, exit, output, afterRestart, addedAgain };
});

/** The machine kills server 5 (the out-of-memory killer, a pulled plug): SIGKILL, no code of ours runs. */
export const killStory = startedOnce(async () => {
  needs(STEP_1);
  const server5 = await startServer('server-5', { ENABLE_CHAOS: '0' });
  const startupLine = await server5.waitForOutput(
    new RegExp(`^.*\\b${server5.port}\\b.*$`, 'm'),
    STARTUP_LINE_MS,
  );
  const shopper = new Visitor();
  const filled = await fillCart(shopper, server5);

  const exit = await server5.kill('SIGKILL');
  const restarted = await startServer('server-5', { ENABLE_CHAOS: '0' }, server5.port);
  const afterRestart = await answer(shopper.get(restarted, '/cart'));
  return { server5, startupLine: startupLine?.[0], filled, exit, afterRestart, restarted };
});

/** A deploy replaces server 7: SIGTERM while a visitor's request is still being answered. */
export const drainStory = startedOnce(async () => {
  needs(STEP_1, STEP_3);
  const server7 = await startServer('server-7', { ENABLE_CHAOS: '1', DRAIN_TIMEOUT_MS: '10000' });
  // Kept alive, as a browser's or a balancer's connection is: the answer does not close it.
  const inFlight = await keptAliveRequestInFlight(`${server7.url}/slow?ms=${IN_FLIGHT_MS}`);
  try {
    let answered = false;
    const completion = inFlight.answer.finally(() => {
      answered = true;
    });
    let exitedAt: number | undefined;
    const stopping = server7.kill('SIGTERM').then((exit) => {
      exitedAt = performance.now();
      return exit;
    });
    let closedAt: number | undefined;
    void inFlight.connectionClosed.then((at) => {
      closedAt = at;
    });

    const knocked = await knockUntilRefused(server7.port, KNOCK_MS);
    const refusedWhileInFlight = knocked === 'refused' && !answered;
    const completed = await within(completion, BOUND_MS);
    // Later than PROMPT_MS after the answer is too late: no need to wait and see.
    const exit = await within(stopping, PROMPT_MS);
    const answeredAt = completed?.at ?? performance.now();
    return {
      server7,
      knocked,
      refusedWhileInFlight,
      completed,
      exit,
      exitedAfterMs: exitedAt === undefined ? undefined : exitedAt - answeredAt,
      connectionOpen: closedAt === undefined,
    };
  } finally {
    inFlight.hangUp();
  }
});

/** The same deploy, but one request is stuck (a hung call upstream): the drain timeout must win. */
export const stuckStory = startedOnce(async () => {
  needs(STEP_1, STEP_3);
  const server8 = await startServer('server-8', {
    ENABLE_CHAOS: '1',
    DRAIN_TIMEOUT_MS: String(SHORT_DRAIN_MS),
  });
  const upAt = performance.now();
  const stuck = await requestInFlight(`${server8.url}/slow?ms=${STUCK_MS}`);
  // SIGTERM only once the server has been up longer than its drain timeout: a drain timer started
  // with the server (not on SIGTERM) has then already ended it, whatever the machine's speed. The
  // age is the condition here, not a stand-in for one.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, upAt + SHORT_DRAIN_MS - performance.now())));

  const sentAt = performance.now();
  const exit = await within(server8.kill('SIGTERM'), STUCK_EXIT_MS);
  const tookMs = Math.round(performance.now() - sentAt);
  stuck.hangUp();
  return { server8, exit, tookMs };
});

// All of them start at once, as this module is loaded (before the spec file's other imports): their
// processes boot side by side, and while this process is still loading the rest.
for (const story of [crashStory, killStory, drainStory, stuckStory]) story.begin();

// ── Helpers ──────────────────────────────────────────────────────────────────────────────────────

/** src/server.ts as a process; with `port`, a restart of the server that had that port. */
export function startServer(
  serverId: string,
  env: { ENABLE_CHAOS: '1' | '0'; DRAIN_TIMEOUT_MS?: string },
  port?: number,
): Promise<ServerProcess> {
  return servers.start({
    lesson: LESSON,
    entry: 'server.ts',
    // Explicit values: an ENABLE_CHAOS or DRAIN_TIMEOUT_MS exported in your shell changes nothing here.
    env: { SERVER_ID: serverId, DRAIN_TIMEOUT_MS: '10000', ...env },
    port,
    // These processes run beside other tasks: each task checks the output it depends on itself.
    recordTodos: false,
  });
}

/** A visitor puts the MacBook Pro and the iPhone 15 in their cart; returns their session id and cart. */
async function fillCart(shopper: Visitor, server: ServerProcess) {
  const first = await shopper.post(server, '/cart/items', macbook);
  const second = await shopper.post(server, '/cart/items', iphone);
  const cart = await shopper.get(server, '/cart');
  for (const res of [first, second, cart]) {
    if (res.status >= 300)
      throw new Error(`filling a cart on ${server.url} failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { sessionId: sessionIdOf(first), cart: cart.body as unknown };
}

export interface Said {
  status: number | 'no answer';
  body: unknown;
  sessionId?: string;
}

/** A request's answer, or 'no answer' when the connection failed (a process that died too soon). */
export async function answer(call: Promise<Answer>): Promise<Said> {
  try {
    const res = await call;
    return { status: res.status, body: res.body as unknown, sessionId: sessionIdOf(res) };
  } catch (error) {
    return { status: 'no answer', body: error instanceof Error ? error.message : String(error) };
  }
}

/** The session id in a response's Set-Cookie, if it sets one. */
function sessionIdOf(res: Answer): string | undefined {
  return res.setCookies.join(';').match(/connect\.sid=([^;]+)/)?.[1];
}
