/**
 * Lesson 04 — what the specs share: a browser that keeps every cookie it is given (the servers'
 * connect.sid and the balancer's own pin), balancers run in this process on free ports, and the
 * fleet of real server processes behind them, started once and reused across tests.
 * Not a spec itself (Jest runs *.spec.ts only).
 */
import { get } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ServerProcess, StartOptions, useServerProcesses } from '../../../kit/spec/processes';
import { type BalancerOptions, createBalancer } from '../src/balancer';

export const LESSON = '04-load-balancer';
export const STEP_1 = 'Step 1 — take turns (round-robin)';
export const STEP_2 = 'Step 2 — forward the request (http-proxy)';
export const STEP_3 = 'Step 3 — pin each visitor (sticky cookie)';
export const STEP_4 = 'Step 4 — fail over to the next server';

export const macbook = { name: 'MacBook Pro', price: 2500 };
export const iphone = { name: 'iPhone 15', price: 1200 };
export const airpods = { name: 'AirPods', price: 250 };

/** Tasks that wait for real processes to start get more than Jest's default 5 s. */
export const PROCESS_TIMEOUT_MS = 30_000;

export interface Answer {
  status: number;
  /** X-Served-By: which server answered (null: nobody but the balancer). */
  servedBy: string | null;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON body, checked by the assertions.
  body: any;
  setCookies: string[];
}

/** One browser: it keeps every cookie it is given, and sends them back, as a browser does. */
export class Visitor {
  private readonly cookies = new Map<string, string>();

  get(to: { url: string }, path: string): Promise<Answer> {
    return this.send(to, 'GET', path);
  }

  post(to: { url: string }, path: string, item: object): Promise<Answer> {
    return this.send(to, 'POST', path, { json: item });
  }

  /** Any request; `raw` is sent as it is, with a JSON content type (bad input). */
  async send(
    to: { url: string },
    method: string,
    path: string,
    body: { json?: object; raw?: string } = {},
  ): Promise<Answer> {
    const headers: Record<string, string> = {};
    if (this.cookies.size > 0) {
      headers.cookie = [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
    }
    const payload = body.raw ?? (body.json ? JSON.stringify(body.json) : undefined);
    if (payload !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${to.url}${path}`, {
        method,
        headers,
        body: payload,
        signal: AbortSignal.timeout(5_000),
      });
      text = await res.text();
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
      throw new Error(`${method} ${path} through ${to.url} got no answer (${String(error)}${cause}).`);
    }
    const setCookies = res.headers.getSetCookie();
    for (const cookie of setCookies) {
      const [pair] = cookie.split(';');
      const at = pair.indexOf('=');
      if (at > 0) this.cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    return {
      status: res.status,
      servedBy: res.headers.get('x-served-by'),
      headers: res.headers,
      body: parse(text),
      setCookies,
    };
  }

  /** The value of one of its cookies. */
  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  /** Sets a cookie by hand: what a curious (or malicious) visitor can always do. */
  setCookie(name: string, value: string): void {
    this.cookies.set(name, value);
  }
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export interface RunningBalancer {
  url: string;
  port: number;
}

/**
 * Balancers made by the learner's createBalancer, listening on free ports of this process. Each task
 * makes its own (a fresh round-robin starts at the first server); all are closed after the file.
 */
export function useBalancers() {
  const running = new Set<ReturnType<typeof createBalancer>>();

  afterAll(async () => {
    await Promise.all(
      [...running].map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            server.closeAllConnections();
          }),
      ),
    );
  });

  return {
    async start(options: BalancerOptions): Promise<RunningBalancer> {
      const server = createBalancer(options);
      running.add(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      return { url: `http://127.0.0.1:${port}`, port };
    },
  };
}

/**
 * One server of the fleet behind the balancers: a real process, shared by the file's tests. `alive()`
 * gives it running (started, or started again on its port, when a test needs it and it is not);
 * `dead()` gives it dead (killed if it runs: its port then refuses connections). Each test asks for the
 * state it needs, so the tests stay independent, and the processes are started only when one did die.
 */
export function fleetServer(
  servers: ReturnType<typeof useServerProcesses>,
  name: string,
  options: () => StartOptions,
) {
  let current: ServerProcess | undefined;
  let running: Promise<ServerProcess> | undefined;
  let startFailure: unknown;

  const start = (): Promise<ServerProcess> => {
    if (startFailure) return Promise.reject(startFailure);
    const starting = servers
      .start({ ...options(), env: { ...options().env, SERVER_ID: name }, port: current?.port })
      .then((server) => {
        current = server;
        void server.exited.then(() => {
          if (running === starting) running = undefined;
        });
        return server;
      });
    starting.catch((error: unknown) => {
      startFailure = error;
      if (running === starting) running = undefined;
    });
    running = starting;
    return starting;
  };

  return {
    name,
    alive(): Promise<ServerProcess> {
      return running ?? start();
    },
    /** Dead for real: SIGKILL, as the out-of-memory killer would. Resolves once the process is gone. */
    async dead(): Promise<ServerProcess> {
      const server = await (running ?? (current ? Promise.resolve(current) : start()));
      await server.kill('SIGKILL');
      return server;
    },
  };
}

/**
 * A GET that is in flight: resolves once the status line and headers have come back through the
 * balancer (the server's GET /slow sends them at once), while the body is still to come.
 */
export function requestInFlight(
  url: string,
): Promise<{ servedBy: string | undefined; answer: Promise<InFlightAnswer> }> {
  return new Promise((resolve, reject) => {
    const req = get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('error', () => {}); // a cut-off answer: seen below as res.complete === false
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      const answer = new Promise<InFlightAnswer>((settle) => {
        res.once('end', () => settle({ status: res.statusCode ?? 0, body }));
        res.once('close', () => {
          if (!res.complete) settle({ status: 'cut off', body });
        });
      });
      const servedBy = res.headers['x-served-by'];
      resolve({ servedBy: typeof servedBy === 'string' ? servedBy : undefined, answer });
    });
    req.on('error', reject);
  });
}

export type InFlightAnswer = { status: number | 'cut off'; body: string };
