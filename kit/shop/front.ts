/**
 * The shop front: what answers at the shop's URL (bound to 127.0.0.1 only).
 *
 *   /shop/…      the shop's own: the page (index.html, app.js, style.css) and its control API
 *   /            a redirect to /shop/
 *   anything else   handed, as it is, to lesson 04's createBalancer() (an http.Server built in this
 *                process, never listening by itself): it picks a server process and proxies the
 *                request there. Every cart request of the page is such a routed request.
 *
 * The control API (JSON in, JSON out, every error a JSON { error, message }):
 *
 *   GET  /shop/api/state                     servers, sessions, the Black Friday run
 *   POST /shop/api/servers/<id>/crash        the server's own POST /crash; answers once it has exited
 *   POST /shop/api/servers/<id>/restart      a new process on the same port
 *   POST /shop/api/black-friday              the crowd run; answers with its numbers
 *
 * It exists only in this process (the lesson servers never have it) and refuses anything else: an
 * unknown path or command (404), another method (405), a POST that is not `application/json` (415:
 * a cross-site form cannot send one without a preflight, which is never allowed) or carries a body
 * other than {} (400), another Origin (403), or a Host that is not this machine's loopback name
 * (403: a DNS-rebinding page would send its own).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ShopCommandError } from './fleet';

export interface PageAssets {
  html: string;
  js: string;
  css: string;
}

export interface FrontOptions {
  assets: PageAssets;
  state(): Promise<unknown>;
  crash(id: string): Promise<unknown>;
  restart(id: string): Promise<unknown>;
  blackFriday(): Promise<unknown>;
  /** Hands a request to the balancer. */
  route(req: IncomingMessage, res: ServerResponse): void;
}

const MAX_COMMAND_BODY = 1024;

const PAGE_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
};

const COMMANDS = [
  'GET /shop/api/state',
  'POST /shop/api/servers/<id>/crash',
  'POST /shop/api/servers/<id>/restart',
  'POST /shop/api/black-friday',
];

export function shopFront(options: FrontOptions): (req: IncomingMessage, res: ServerResponse) => void {
  const assets: Record<string, { type: string; body: string }> = {
    '/shop/': { type: 'text/html; charset=utf-8', body: options.assets.html },
    '/shop/app.js': { type: 'text/javascript; charset=utf-8', body: options.assets.js },
    '/shop/style.css': { type: 'text/css; charset=utf-8', body: options.assets.css },
  };

  async function shop(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    if (!isLoopbackHost(req)) {
      return fail(
        res,
        403,
        'forbidden_host',
        'The shop answers only to 127.0.0.1 or localhost on its own port.',
      );
    }
    const method = req.method ?? 'GET';
    if (path === '/shop') return redirect(res, '/shop/');

    const asset = assets[path];
    if (asset) {
      if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, 'GET, HEAD');
      res.writeHead(200, { 'Content-Type': asset.type, ...PAGE_HEADERS, ...COMMON_HEADERS });
      res.end(method === 'HEAD' ? undefined : asset.body);
      return;
    }

    if (path === '/shop/api/state') {
      if (method !== 'GET' && method !== 'HEAD') return notAllowed(res, 'GET, HEAD');
      return send(res, 200, await options.state());
    }

    const command = commandOf(path);
    if (!command) {
      return fail(
        res,
        404,
        'unknown_command',
        `No such thing here: ${method} ${path}. The shop's commands: ${COMMANDS.join(', ')}.`,
      );
    }
    if (method !== 'POST') return notAllowed(res, 'POST');
    const refusal = await refuseCommandRequest(req);
    if (refusal) return fail(res, refusal.status, refusal.code, refusal.message);
    try {
      const result =
        command.name === 'black-friday'
          ? await options.blackFriday()
          : command.name === 'crash'
            ? await options.crash(command.server)
            : await options.restart(command.server);
      send(res, 200, result);
    } catch (error) {
      if (error instanceof ShopCommandError) return fail(res, error.status, error.code, error.message);
      fail(res, 500, 'command_failed', error instanceof Error ? error.message.split('\n')[0] : String(error));
    }
  }

  return (req, res) => {
    const raw = req.url ?? '/';
    // The raw path, not a normalised one: "/shop/../cart" is the shop's (and unknown), never a file.
    const path = raw.split('?')[0];
    if (path === '/shop' || path.startsWith('/shop/')) {
      shop(req, res, path).catch((error: unknown) => {
        if (!res.headersSent)
          fail(res, 500, 'internal_error', error instanceof Error ? error.message : String(error));
        else res.destroy();
      });
      return;
    }
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) return redirect(res, '/shop/');
    options.route(req, res);
  };
}

type Command = { name: 'crash' | 'restart'; server: string } | { name: 'black-friday' };

function commandOf(path: string): Command | undefined {
  if (path === '/shop/api/black-friday') return { name: 'black-friday' };
  const match = /^\/shop\/api\/servers\/([^/]+)\/(crash|restart)$/.exec(path);
  if (!match) return undefined;
  let server: string;
  try {
    server = decodeURIComponent(match[1]);
  } catch {
    server = match[1];
  }
  return { name: match[2] as 'crash' | 'restart', server };
}

async function refuseCommandRequest(
  req: IncomingMessage,
): Promise<{ status: number; code: string; message: string } | undefined> {
  const origin = req.headers.origin;
  if (origin !== undefined && origin !== `http://${req.headers.host}`) {
    return {
      status: 403,
      code: 'forbidden_origin',
      message: `Commands come from the shop's own page, not from ${origin}.`,
    };
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    return {
      status: 403,
      code: 'forbidden_origin',
      message: `Commands come from the shop's own page (Sec-Fetch-Site: ${site}).`,
    };
  }
  const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    return {
      status: 415,
      code: 'unsupported_media_type',
      message: 'Send commands as JSON: Content-Type: application/json, with {} (or no body).',
    };
  }
  let body: string;
  try {
    body = await readBody(req, MAX_COMMAND_BODY);
  } catch {
    return {
      status: 413,
      code: 'payload_too_large',
      message: `A command's body is {} at most (${MAX_COMMAND_BODY} bytes).`,
    };
  }
  if (body.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return { status: 400, code: 'invalid_json', message: 'The request body is not valid JSON.' };
  }
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    Array.isArray(parsed) ||
    Object.keys(parsed).length > 0
  ) {
    return {
      status: 400,
      code: 'unexpected_body',
      message: "The shop's commands take no parameters: send {} or nothing.",
    };
  }
  return undefined;
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        chunks.length = 0;
        reject(new Error('too large'));
      } else chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** Host: 127.0.0.1:<port> or localhost:<port> (this server's port): the only names the shop has. */
function isLoopbackHost(req: IncomingMessage): boolean {
  const port = req.socket.localPort;
  return req.headers.host === `127.0.0.1:${port}` || req.headers.host === `localhost:${port}`;
}

const COMMON_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' };

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...COMMON_HEADERS });
  res.end(JSON.stringify(body));
}

function fail(res: ServerResponse, status: number, error: string, message: string): void {
  send(res, status, { error, message });
}

function notAllowed(res: ServerResponse, allow: string): void {
  res.setHeader('Allow', allow);
  fail(res, 405, 'method_not_allowed', `Only ${allow} here.`);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { Location: location, ...COMMON_HEADERS });
  res.end();
}
