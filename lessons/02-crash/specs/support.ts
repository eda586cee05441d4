/**
 * Lesson 02 — what the specs share (not a spec file). You do not need to read this to do the lesson.
 */
import { Agent, get } from 'node:http';
import { connect } from 'node:net';
import { stepNumber, unfinishedSteps } from '../../../kit/course/unfinished';
import { lessonSrcDir } from '../../../kit/jest/target';
import { NotImplementedError } from '../../../kit/todo';

export const LESSON = '02-crash';
export const STEP_1 = 'Step 1 — listen on the port';
export const STEP_2 = 'Step 2 — crash on purpose';
export const STEP_3 = 'Step 3 — drain on SIGTERM';

/** Node's default `server.keepAliveTimeout`: how long it keeps an idle kept-alive connection open. */
export const KEEP_ALIVE_MS = 5_000;

/**
 * Fails at once, as the code would, when a step a story needs still has a todo() in the lesson's src:
 * the story would only start processes to watch them stop at that todo(). (A static read, as the spec
 * helper's: the code does not change during a run.)
 */
export function needs(...steps: string[]): void {
  const wanted = new Set(steps.map(stepNumber));
  const unfinished = unfinishedSteps(lessonSrcDir(LESSON)).find((todo) => wanted.has(todo.step));
  if (unfinished)
    throw new NotImplementedError(
      { lesson: LESSON, file: unfinished.file, step: unfinished.title },
      { record: false },
    );
}

export type Settled = { status: number | 'cut off'; body: unknown; at: number };

/**
 * A GET in flight on a kept-alive connection, as a browser or a balancer sends it (no
 * `Connection: close`): resolves once the status line and headers are in (GET /slow sends them at
 * once), while the body is still to come. `answer` settles when the body is in (or the connection was
 * cut); `connectionClosed` when the server has closed the connection, which it then keeps open for
 * the next request unless it ends it. Times are `performance.now()`.
 */
export function keptAliveRequestInFlight(url: string): Promise<{
  answer: Promise<Settled>;
  connectionClosed: Promise<number>;
  hangUp: () => void;
}> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  return new Promise((resolve, reject) => {
    const req = get(url, { agent }, (res) => {
      const socket = res.socket;
      const connectionClosed = new Promise<number>((closed) => {
        if (socket.destroyed) closed(performance.now());
        else socket.once('close', () => closed(performance.now()));
      });
      let body = '';
      res.setEncoding('utf8');
      res.on('error', () => {}); // a cut-off answer: seen below as res.complete === false
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      const answer = new Promise<Settled>((settle) => {
        res.once('end', () =>
          settle({ status: res.statusCode ?? 0, body: parse(body), at: performance.now() }),
        );
        res.once('close', () => {
          if (!res.complete) settle({ status: 'cut off', body, at: performance.now() });
        });
      });
      resolve({
        answer,
        connectionClosed,
        hangUp: () => {
          req.destroy();
          agent.destroy();
        },
      });
    });
    req.on('error', (error) => {
      agent.destroy();
      reject(error);
    });
  });
}

/** Opens TCP connections to the port until one is refused, for at most `ms`; each accepted one is closed at once. */
export async function knockUntilRefused(port: number, ms: number): Promise<'refused' | 'still accepting'> {
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

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
