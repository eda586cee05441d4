/**
 * Lesson 02 — start and stop a server process                          (edit this file)
 *
 * server.ts (given) builds the shop app and hands it to serve(). serve() makes this process a server,
 * and decides how it stops:
 *
 *   Step 1  listen()           listen on the port, say so in one line of output; reject if it cannot
 *   Step 3  drainOnSigterm()   on SIGTERM (a deploy), finish in-flight requests, run onShutdown, then
 *                              exit 0; exit 1 if onShutdown fails or the drain timeout runs out
 *
 * ServeOptions and DRAIN_TIMEOUT_EXIT_CODE are given, in ./options.ts. Lessons 03 and 05 run their
 * servers with the finished serve() (the reference solution).
 * Run `npm test lessons/02` after each step: the first failure tells you what to do next, and
 * `npm run course -- hint 02` gives hints, one level at a time.
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
// TODO: make options.app listen on options.port, and resolve with the http.Server only once it is
// listening, after printing one line that says which server listens where: its serverId, its port
// and its process.pid. If it cannot listen (the port is taken: EADDRINUSE), reject with that very
// error; server.ts prints it and exits 1. The specs read the line of a real process, and call serve()
// on a taken port in their own process. Docs: https://expressjs.com/en/5x/api.html#app.listen
function listen(_options: ServeOptions): Promise<Server> {
  return todo({ lesson, file, step: 'Step 1 — listen on the port' });
}

// Step 3 — drain on SIGTERM.
// TODO (inside the listener): a deploy sends SIGTERM and waits. Stop accepting new connections at
// once, let the requests in flight finish — a kept-alive connection must not hold the exit for Node's
// 5 s keep-alive timeout — then run options.onShutdown if there is one, and wait for it. Exit with
// code 0, or DRAIN_TIMEOUT_EXIT_CODE (import it from './options') if onShutdown failed. If all that has
// not happened within options.drainTimeoutMs, exit with DRAIN_TIMEOUT_EXIT_CODE; once it has, clear
// that timer. End the process with process.exit(code): the specs that run serve() in their own process
// record that call. Docs: https://nodejs.org/api/http.html#serverclosecallback
function drainOnSigterm(_server: Server, _options: ServeOptions): void {
  process.once('SIGTERM', () => {
    todo({ lesson, file, step: 'Step 3 — drain on SIGTERM' });
  });
}
