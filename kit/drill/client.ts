/**
 * The drill's crowd: many visitors, each with a cookie jar, over ONE keep-alive agent with a bounded
 * number of sockets. A visitor of kit/spec/browser.ts (fetch, one answer parsed per request) is the
 * right tool for a spec's few requests; 200,000 requests want less per request: node:http with
 * kept-alive connections, the body parsed only where the drill looks at it (a cart read back).
 */
import { Agent, request } from 'node:http';

export interface Reply {
  /** The HTTP status; 0 when there was no answer (refused, reset, timed out). */
  status: number;
  /** X-Served-By: which server answered ('' when none did). */
  servedBy: string;
  body: string;
  /** Why there was no answer, when status is 0. */
  error?: string;
}

/** One visitor: the cookies it was given, sent back on every request. */
export class Shopper {
  private readonly jar = new Map<string, string>();
  private header = '';

  cookieHeader(): string {
    return this.header;
  }

  keep(setCookies: string[] | undefined): void {
    if (!setCookies?.length) return;
    for (const line of setCookies) {
      const pair = line.split(';', 1)[0] ?? '';
      const at = pair.indexOf('=');
      if (at > 0) this.jar.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    this.header = [...this.jar].map(([name, value]) => `${name}=${value}`).join('; ');
  }
}

/** A crowd's connection to one front door (the balancer): kept-alive sockets, at most `sockets`. */
export class Crowd {
  readonly agent: Agent;
  private readonly host: string;
  private readonly port: number;

  constructor(
    url: string,
    sockets: number,
    private readonly timeoutMs = 10_000,
  ) {
    const { hostname, port } = new URL(url);
    this.host = hostname;
    this.port = Number(port);
    this.agent = new Agent({ keepAlive: true, maxSockets: sockets, scheduling: 'lifo' });
  }

  send(shopper: Shopper, method: 'GET' | 'POST', path: string, json?: object): Promise<Reply> {
    return new Promise((resolve) => {
      const payload = json ? JSON.stringify(json) : undefined;
      const headers: Record<string, string | number> = {};
      const cookie = shopper.cookieHeader();
      if (cookie) headers.cookie = cookie;
      if (payload !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(payload);
      }
      let settled = false;
      const settle = (reply: Reply) => {
        if (settled) return;
        settled = true;
        resolve(reply);
      };
      const req = request(
        { host: this.host, port: this.port, method, path, headers, agent: this.agent },
        (res) => {
          shopper.keep(res.headers['set-cookie']);
          const served = res.headers['x-served-by'];
          let body = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            body += chunk;
          });
          res.on('end', () =>
            settle({ status: res.statusCode ?? 0, servedBy: typeof served === 'string' ? served : '', body }),
          );
          res.on('error', (error) => settle({ status: 0, servedBy: '', body, error: error.message }));
          res.on('close', () => {
            if (!res.complete) settle({ status: 0, servedBy: '', body, error: 'answer cut off' });
          });
        },
      );
      req.setTimeout(this.timeoutMs, () => req.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (error: NodeJS.ErrnoException) =>
        settle({ status: 0, servedBy: '', body: '', error: error.code ?? error.message }),
      );
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Runs `work` on every item, at most `limit` at a time; stops taking new items once `stop()` is true. */
export async function inParallel<T>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop()) {
      const index = next++;
      await work(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
