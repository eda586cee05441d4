/**
 * Lesson 02 — chaos endpoints                                          (edit this file)
 *
 * A way to crash this server on purpose, so you can watch what a crash does to the carts it holds.
 * The real world crashes servers for you (a bug, the out-of-memory killer, a dead machine); here it
 * is one HTTP request, and only when ENABLE_CHAOS=1 — never by default.
 *
 *   Step 2  crash()          POST /crash answers 202, then the process exits with code 1
 *           chaosRoutes()    ...and /crash exists only when crashing is enabled
 *
 * GET /slow (./slow.ts) is given: it is plumbing for the Step 3 specs. ChaosOptions and
 * CRASH_EXIT_CODE are given too, in ./options.ts. Lessons 03 and 05 use the finished chaosRoutes().
 * Run `npm test lessons/02` after each step: the first failure tells you what to do next, and
 * `npm run course -- hint 02 2` gives hints, one level at a time.
 */
import { type RequestHandler, Router } from 'express';
import { servedBy } from '../../../kit/http';
import { todo } from '../../../kit/todo';
import type { ChaosOptions } from './options';
import { slow } from './slow';

export { type ChaosOptions, CRASH_EXIT_CODE } from './options';

const lesson = '02-crash';
const file = 'src/chaos.ts';

export function chaosRoutes(options: ChaosOptions): Router {
  const router = Router();
  // TODO (Step 2): this line puts a crash button on EVERY server. Register POST /crash (and GET /slow)
  // only when options.enabled — decide from the option, not from the environment; without it, the
  // request falls through to the app's JSON 404.
  router.post('/crash', servedBy(options.serverId), crash(options.serverId));
  if (options.enabled) {
    // Given: an in-flight request for the Step 3 specs.
    router.get('/slow', servedBy(options.serverId), slow(options.serverId));
  }
  return router;
}

// Step 2 — crash on purpose.
// TODO: answer 202 with a JSON body { message, serverId } (what is happening, and which server), and
// only once that answer has been sent, exit with process.exit(CRASH_EXIT_CODE) (import it from
// './options'). Exit too early and the caller gets a cut connection instead of its 202; crash with a
// thrown error instead and the log shows a stack trace, not a crash on purpose.
// Docs: https://nodejs.org/api/http.html#class-httpserverresponse
function crash(_serverId: string): RequestHandler {
  return () => todo({ lesson, file, step: 'Step 2 — crash on purpose' });
}
