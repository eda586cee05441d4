/**
 * Lesson 02 — start and stop a server process                          (edit this file)
 *
 * server.ts (given) builds the shop app and hands it to serve(). serve() makes this process a server,
 * and decides how it stops:
 *
 *   Step 1  listen()           listen on the port, say so in one line of output
 *   Step 3  drainOnSigterm()   on SIGTERM (a deploy), finish in-flight requests, then exit 0;
 *                              exit 1 if they take longer than the drain timeout
 *
 * ServeOptions and DRAIN_TIMEOUT_EXIT_CODE are given, in ./options.ts.
 * Run `npm test lessons/02` after each step: the first failure tells you what to do next.
 */
import type { Server } from 'node:http';
import { todo } from '../../../kit/todo';
import type { ServeOptions } from './options';

export { DRAIN_TIMEOUT_EXIT_CODE, type ServeOptions } from './options';

const lesson = '02-crash';
const file = 'src/serve.ts';

/** Given: listen, then be ready for a deploy's SIGTERM. Rejects when the port cannot be listened on. */
export async function serve(options: ServeOptions): Promise<Server> {
  const server = await listen(options);
  drainOnSigterm(server, options);
  return server;
}

// Step 1 — listen on the port.
// TODO: make options.app listen on options.port. Resolve with the http.Server once it is listening,
// after printing one line that says which server listens where (serverId, port, process.pid).
// If it cannot listen (the port is taken), reject with that error. In express 5, app.listen's
// callback receives that error.
function listen(_options: ServeOptions): Promise<Server> {
  return todo({ lesson, file, step: 'Step 1 — listen on the port' });
}

// Step 3 — drain on SIGTERM.
// TODO (inside the listener): a deploy sends SIGTERM and waits. Stop accepting new connections, let
// the requests in flight finish, run options.onShutdown if there is one, then exit with code 0.
// If that has not happened within options.drainTimeoutMs, exit with DRAIN_TIMEOUT_EXIT_CODE (import
// it from './options').
function drainOnSigterm(_server: Server, _options: ServeOptions): void {
  process.once('SIGTERM', () => {
    todo({ lesson, file, step: 'Step 3 — drain on SIGTERM' });
  });
}
