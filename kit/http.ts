/**
 * HTTP plumbing every server in the course shares, so no lesson re-teaches it: which server answered,
 * JSON 404s, and one error handler that turns any failure into a JSON error instead of an HTML page or
 * a crash (course invariant 5: bad input gets a clear 4xx and changes nothing).
 */
import type { ErrorRequestHandler, RequestHandler } from 'express';
import { NotImplementedError } from './todo';

/** Every response says which server answered, so a learner (and a spec) can see the routing. */
export function servedBy(serverId: string): RequestHandler {
  return (_req, res, next) => {
    res.set('X-Served-By', serverId);
    next();
  };
}

export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: 'not_found', message: `No route for ${req.method} ${req.path}` });
};

/** The shape express's body parser (and http-errors) give the errors they raise. */
interface HttpishError {
  status?: number;
  statusCode?: number;
  type?: string;
  expose?: boolean;
  message?: string;
}

export const jsonErrors: ErrorRequestHandler = (error: unknown, _req, res, next) => {
  if (res.headersSent) return next(error);
  const { status, body } = describeError(error);
  if (status >= 500 && status !== 501) console.error(error);
  res.status(status).json(body);
};

export function describeError(error: unknown): { status: number; body: { error: string; message: string } } {
  if (error instanceof NotImplementedError) {
    return { status: 501, body: { error: 'not_implemented', message: error.message } };
  }
  const e = (typeof error === 'object' && error !== null ? error : {}) as HttpishError;
  if (e.type === 'entity.parse.failed') {
    return { status: 400, body: { error: 'invalid_json', message: 'The request body is not valid JSON.' } };
  }
  if (e.type === 'entity.too.large') {
    return { status: 413, body: { error: 'payload_too_large', message: 'The request body is too large.' } };
  }
  const status = e.status ?? e.statusCode ?? 500;
  if (status >= 400 && status < 600 && status !== 500) {
    const message = e.expose !== false && e.message ? e.message : 'Request failed.';
    return { status, body: { error: errorCode(status), message } };
  }
  return { status: 500, body: { error: 'internal_error', message: 'Something went wrong on this server.' } };
}

function errorCode(status: number): string {
  if (status === 503) return 'service_unavailable';
  if (status === 415) return 'unsupported_media_type';
  if (status < 500) return 'bad_request';
  return 'server_error';
}

/** A URL fit for a log line (a Redis URL, say): a password in it stays out of the logs. */
export function withoutPassword(address: string): string {
  const url = new URL(address);
  if (url.password) url.password = '***';
  return url.toString();
}
