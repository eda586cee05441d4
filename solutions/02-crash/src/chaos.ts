/**
 * Lesson 02 — reference solution. Chaos endpoints, for the demo and the specs only: they exist when
 * ENABLE_CHAOS=1 and never by default (a crash button on a production server is a denial of service
 * anyone can press).
 *   POST /crash   answers 202 first, then the process dies (exit code 1), as a real crash would.
 *   GET  /slow    an "in-flight request" for the drain specs (given, in lessons/02-crash/src/slow.ts).
 */
import { type RequestHandler, Router } from 'express';
import { servedBy } from '../../../kit/http';
// Given files live once, in the lesson folder; these paths work from solutions/ and from lessons/.
import { type ChaosOptions, CRASH_EXIT_CODE } from '../../../lessons/02-crash/src/options';
import { slow } from '../../../lessons/02-crash/src/slow';

export { type ChaosOptions, CRASH_EXIT_CODE } from '../../../lessons/02-crash/src/options';

export function chaosRoutes(options: ChaosOptions): Router {
  const router = Router();
  if (!options.enabled) return router;
  router.post('/crash', servedBy(options.serverId), crash(options.serverId));
  router.get('/slow', servedBy(options.serverId), slow(options.serverId));
  return router;
}

// Step 2 — crash on purpose.
function crash(serverId: string): RequestHandler {
  return (_req, res) => {
    // Exit only once the response has been handed to the socket: the caller gets its 202, then the
    // connection closes. Exiting inside the handler would cut the connection before the answer.
    res.once('finish', () => {
      console.error(`[${serverId}] POST /crash: crashing now (exit code ${CRASH_EXIT_CODE})`);
      setImmediate(() => process.exit(CRASH_EXIT_CODE));
    });
    res.status(202).json({ message: `${serverId} is crashing now`, serverId });
  };
}
