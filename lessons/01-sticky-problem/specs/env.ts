/**
 * Lesson 01 — imported first by every spec file (not a spec file): the SESSION_SECRET the specs run
 * with, set before your app is loaded, so it does not matter whether your code reads it when the
 * module loads or when sessionMiddleware() runs.
 */
export const ENV_SECRET = 'secret-from-the-environment';
process.env.SESSION_SECRET = ENV_SECRET;
