/**
 * Lesson 02 — GET /slow (given: test plumbing, you do not need to edit this file).
 *
 * An "in-flight request" for Step 3 and its specs. The status line and headers are sent at once, so a
 * client knows its request is in flight (a spec sends SIGTERM at exactly that moment); the JSON body
 * follows after ?ms= milliseconds (at most 30 s). A client that hangs up cancels the timer.
 *
 *   curl -N 'localhost:3000/slow?ms=5000'
 */
import type { RequestHandler } from 'express';

/** /slow never holds a request longer than this, whatever ?ms= says. */
export const MAX_SLOW_MS = 30_000;

export function slow(serverId: string): RequestHandler {
  return (req, res) => {
    const ms = Math.min(Math.max(Number(req.query.ms) || 0, 0), MAX_SLOW_MS);
    res.status(200).type('application/json');
    res.flushHeaders();
    const timer = setTimeout(() => res.end(JSON.stringify({ serverId, tookMs: ms })), ms);
    res.once('close', () => clearTimeout(timer));
  };
}
