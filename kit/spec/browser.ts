/**
 * A browser for specs that talk to real servers over HTTP. Lessons 03–05 are about a visitor whose
 * cookie reaches whichever server (or balancer) answers; a spec needs exactly that browser, the same
 * in every lesson, so that "the cart survived" always means the same thing.
 *
 *   const shopper = new Visitor();
 *   await shopper.post(server, '/cart/items', macbook);   // keeps the connect.sid it is given
 *   const cart = await shopper.get(otherServer, '/cart'); // …and sends it to any other server
 *
 * An unfinished step inside a server answers 501 with its "Not implemented yet" message: the browser
 * remembers it for the spec helper, so a task that fails names the README step.
 */
import { get } from 'node:http';
import { recordTodo } from '../todo';

export interface Answer {
  status: number;
  /** X-Served-By: which server answered (null: nobody but a balancer). */
  servedBy: string | null;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON body, checked by the assertions.
  body: any;
  /** The Set-Cookie lines of the answer. */
  setCookies: string[];
  /** How long the request took, from sending it to the end of the body. */
  ms: number;
}

const SESSION_COOKIE = 'connect.sid';
const DEFAULT_TIMEOUT_MS = 5_000;

/** One visitor's browser: it keeps every cookie it is given and sends them all back, to any server. */
export class Visitor {
  private readonly cookies = new Map<string, string>();

  get(to: { url: string }, path: string, timeoutMs?: number): Promise<Answer> {
    return this.send(to, 'GET', path, {}, timeoutMs);
  }

  post(to: { url: string }, path: string, item?: object, timeoutMs?: number): Promise<Answer> {
    return this.send(to, 'POST', path, item ? { json: item } : {}, timeoutMs);
  }

  delete(to: { url: string }, path: string, timeoutMs?: number): Promise<Answer> {
    return this.send(to, 'DELETE', path, {}, timeoutMs);
  }

  /** Any request; `raw` is sent as it is, with a JSON content type (bad input). */
  async send(
    to: { url: string },
    method: string,
    path: string,
    body: { json?: object; raw?: string } = {},
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    const payload = body.raw ?? (body.json ? JSON.stringify(body.json) : undefined);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    const answer = await fetchAnswer(to, method, path, { headers, body: payload, timeoutMs });
    for (const cookie of answer.setCookies) {
      const [pair] = cookie.split(';');
      const at = pair.indexOf('=');
      if (at > 0) this.cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    return answer;
  }

  /** The value of one of its cookies. */
  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** Whether any server gave it a cookie. */
  hasCookie(): boolean {
    return this.cookies.size > 0;
  }

  /** Sets a cookie by hand: what a curious (or malicious) visitor can always do. */
  setCookie(name: string, value: string): void {
    this.cookies.set(name, value);
  }

  /** The session id inside the signed cookie `connect.sid=s%3A<id>.<signature>`. */
  sessionId(): string {
    const cookie = this.cookies.get(SESSION_COOKIE);
    const match = /^s:([^.]+)\./.exec(decodeURIComponent(cookie ?? ''));
    if (!match)
      throw new Error(
        `This visitor has no signed session cookie (cookie: ${cookie ? `${SESSION_COOKIE}=${cookie}` : 'none'}).`,
      );
    return match[1];
  }
}

/**
 * One request, exactly as given (no cookie jar: a forged Cookie header goes out as it is), read to the
 * end. A request that gets no answer fails with what happened instead (refused, timed out).
 */
export async function fetchAnswer(
  to: { url: string },
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<Answer> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const started = performance.now();
  let res: Response;
  let text: string;
  try {
    res = await fetch(`${to.url}${path}`, {
      method,
      headers: options.headers,
      body: options.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    text = await res.text();
  } catch (error) {
    throw new Error(`${method} ${path} on ${to.url}: ${noAnswer(error, timeoutMs)}`);
  }
  const answer: Answer = {
    status: res.status,
    servedBy: res.headers.get('x-served-by'),
    headers: res.headers,
    body: parse(text),
    setCookies: res.headers.getSetCookie(),
    ms: performance.now() - started,
  };
  noteUnfinishedStep(answer);
  return answer;
}

function noAnswer(error: unknown, timeoutMs: number): string {
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

export type InFlightAnswer = { status: number | 'cut off'; body: unknown };

/**
 * A GET that is in flight: resolves once the status line and headers are in (a server's GET /slow
 * sends them at once), while the body is still to come — to stop or kill a server mid-answer. Its own
 * connection (no agent), closed after the answer, so no idle keep-alive connection of ours holds a
 * server's drain open. `hangUp()` gives up on it.
 */
export function requestInFlight(
  url: string,
): Promise<{ servedBy: string | undefined; answer: Promise<InFlightAnswer>; hangUp: () => void }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('error', () => {}); // a cut-off answer: seen below as res.complete === false
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      const answer = new Promise<InFlightAnswer>((settle) => {
        res.once('end', () => settle({ status: res.statusCode ?? 0, body: parse(body) }));
        res.once('close', () => {
          if (!res.complete) settle({ status: 'cut off', body });
        });
      });
      const servedBy = res.headers['x-served-by'];
      resolve({
        servedBy: typeof servedBy === 'string' ? servedBy : undefined,
        answer,
        hangUp: () => req.destroy(),
      });
    });
    req.on('error', reject);
  });
}
