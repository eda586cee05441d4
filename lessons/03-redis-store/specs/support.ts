/**
 * What the lesson-03 specs share: the items, a "browser" that keeps its session cookie while it talks
 * to any server, and server processes reused across a file's tests. Not a spec itself (Jest runs
 * *.spec.ts only).
 */
import type { ServerProcess, StartOptions, useServerProcesses } from '../../../kit/spec/processes';
import { recordTodo } from '../../../kit/todo';

export const LESSON = '03-redis-store';
export const macbook = { name: 'MacBook Pro', price: 2500 };
export const iphone = { name: 'iPhone 15', price: 1200 };

/** Process tasks start real servers, each taking a moment: they get more than Jest’s default 5 s. */
export const PROCESS_TIMEOUT_MS = 30_000;

export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON body, checked by the assertions.
  body: any;
  /** How long the request took, from sending it to the end of the body. */
  ms: number;
}

type Method = 'GET' | 'POST' | 'DELETE';

/**
 * A browser: it keeps the session cookie a server sets and sends it to whichever server it talks to,
 * as a browser behind a load balancer does (one site, many servers).
 */
export class Shopper {
  private cookie: string | undefined;

  get(server: { url: string }, path: string, timeoutMs?: number): Promise<Answer> {
    return this.send(server, 'GET', path, undefined, timeoutMs);
  }

  post(server: { url: string }, path: string, body?: object, timeoutMs?: number): Promise<Answer> {
    return this.send(server, 'POST', path, body, timeoutMs);
  }

  delete(server: { url: string }, path: string, timeoutMs?: number): Promise<Answer> {
    return this.send(server, 'DELETE', path, undefined, timeoutMs);
  }

  /** The session id inside the signed cookie `connect.sid=s%3A<id>.<signature>`. */
  sessionId(): string {
    const value = decodeURIComponent(this.cookie?.split('=')[1] ?? '');
    const match = /^s:([^.]+)\./.exec(value);
    if (!match)
      throw new Error(`This visitor has no signed session cookie (cookie: ${this.cookie ?? 'none'}).`);
    return match[1];
  }

  hasCookie(): boolean {
    return this.cookie !== undefined;
  }

  private async send(
    server: { url: string },
    method: Method,
    path: string,
    body: object | undefined,
    timeoutMs = 5_000,
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.cookie) headers.cookie = this.cookie;
    if (body) headers['content-type'] = 'application/json';
    const started = performance.now();
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${server.url}${path}`, {
        method,
        headers,
        body: body ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (error) {
      throw new Error(`${method} ${path} on ${server.url}: ${failure(error, timeoutMs)}`);
    }
    const ms = performance.now() - started;
    const sessionCookie = res.headers.getSetCookie().find((cookie) => cookie.startsWith('connect.sid='));
    if (sessionCookie) this.cookie = sessionCookie.split(';')[0];
    const answer = { status: res.status, headers: res.headers, body: parse(text), ms };
    noteUnfinishedStep(answer);
    return answer;
  }
}

function failure(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && error.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : '';
  return `no answer (${cause || String(error)})`;
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * An unfinished step inside a server answers 501 with its "what to do next" in the body (kit/http.ts).
 * Remember it without failing here: if the task fails, the spec helper names that step; a task that
 * does not depend on the step (a 501 is "not served" as much as a 503 is) can still pass.
 */
function noteUnfinishedStep(answer: Answer): void {
  const message = answer.body?.message;
  if (answer.status === 501 && typeof message === 'string' && message.startsWith('Not implemented yet')) {
    recordTodo(message);
  }
}

/**
 * Fails with the server's own last words if it has exited, or exits within `withinMs` (a refused
 * request is often the first sign of a crash): the exit is the bug to report, not the failed request.
 */
export async function failIfExited(server: ServerProcess, withinMs = 0): Promise<void> {
  const exit = await server.exitWithin(withinMs);
  if (exit) {
    throw new Error(
      `The server process exited (code ${exit.code}, signal ${exit.signal}). It said:\n    ${lastWords(server).join('\n    ')}`,
    );
  }
}

/** The lines of a process's output that name an error (stack frames left out), else its last lines. */
function lastWords(server: ServerProcess): string[] {
  const lines = server.output().trim().split('\n');
  const errors = lines.filter((line) => /error/i.test(line) && !/^\s+at /.test(line));
  return errors.length > 0 ? errors.slice(0, 4) : lines.slice(-6);
}

/**
 * One server process shared by a file's tests: started when a test first needs it, started again when
 * a test stopped it. A start that failed fails the same way, at once, for the file's later tests: the
 * code under test does not change during a run (and an unfinished step names the same README step).
 */
export function sharedServer(servers: ReturnType<typeof useServerProcesses>, options: () => StartOptions) {
  let current: ServerProcess | undefined;
  let stopped = false;
  let failure: unknown;

  const start = async (): Promise<ServerProcess> => {
    if (failure) throw failure;
    try {
      const server = await servers.start({ ...options(), port: current?.port });
      current = server;
      stopped = false;
      void server.exited.then(() => {
        if (current === server) stopped = true;
      });
      return server;
    } catch (error) {
      failure = error;
      throw error;
    }
  };

  return {
    /** The running server, started if there is none. */
    async get(): Promise<ServerProcess> {
      return current && !stopped ? current : start();
    },
    /** A new process on the port of the previous one: the same server, restarted. */
    async restart(): Promise<ServerProcess> {
      if (current && !stopped) await current.kill('SIGKILL');
      return start();
    },
  };
}
