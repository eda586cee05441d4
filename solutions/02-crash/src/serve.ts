/**
 * Lesson 02 — reference solution. Run an express app as this process's server, and stop it the way a
 * deploy does: on SIGTERM stop accepting connections, let in-flight requests finish, then exit 0 —
 * or exit 1 when they have not finished within the drain timeout.
 */
import type { Server } from 'node:http';
// The given file lives once, in the lesson folder; this path works from solutions/ and from lessons/.
import { DRAIN_TIMEOUT_EXIT_CODE, type ServeOptions } from '../../../lessons/02-crash/src/options';

export { DRAIN_TIMEOUT_EXIT_CODE, type ServeOptions } from '../../../lessons/02-crash/src/options';

/** Listen, then be ready for a deploy's SIGTERM. Rejects when the port cannot be listened on. */
export async function serve(options: ServeOptions): Promise<Server> {
  const server = await listen(options);
  drainOnSigterm(server, options);
  return server;
}

// Step 1 — listen on the port.
function listen(options: ServeOptions): Promise<Server> {
  return new Promise((resolve, reject) => {
    // Express 5 passes a listen error (EADDRINUSE…) to this callback instead of throwing it.
    const server = options.app.listen(options.port, (error?: Error) => {
      if (error) return reject(error);
      console.log(`[${options.serverId}] listening on http://localhost:${options.port} (pid ${process.pid})`);
      resolve(server);
    });
  });
}

// Step 3 — drain on SIGTERM.
function drainOnSigterm(server: Server, options: ServeOptions): void {
  let draining = false;
  // A keep-alive connection outlives its response: close() would wait for the client to drop it (up
  // to keepAliveTimeout, 5 s). During a drain, end each connection as soon as its response is done.
  server.on('request', (_req, res) => {
    res.once('finish', () => {
      if (draining) setImmediate(() => server.closeIdleConnections());
    });
  });

  process.once('SIGTERM', () => {
    draining = true;
    console.log(
      `[${options.serverId}] SIGTERM: draining in-flight requests (at most ${options.drainTimeoutMs} ms)`,
    );
    // The deadline bounds the whole shutdown: a stuck request (or a stuck onShutdown) must not keep a
    // deploy waiting for ever.
    const deadline = setTimeout(() => {
      console.error(
        `[${options.serverId}] drain timeout: not shut down after ${options.drainTimeoutMs} ms, exiting`,
      );
      process.exit(DRAIN_TIMEOUT_EXIT_CODE);
    }, options.drainTimeoutMs);

    // close() stops accepting connections at once; its callback runs when the last one has ended.
    server.close(async () => {
      let code = 0;
      try {
        await options.onShutdown?.();
      } catch (error) {
        console.error(`[${options.serverId}] shutdown failed:`, error);
        code = DRAIN_TIMEOUT_EXIT_CODE;
      }
      clearTimeout(deadline);
      console.log(`[${options.serverId}] drained, bye (exit code ${code})`);
      process.exit(code);
    });
    // Connections that are idle right now (keep-alive, between requests) end at once. (Node 19+ does
    // this inside close(); saying it keeps the intent visible.)
    server.closeIdleConnections();
  });
}
