/**
 * Lesson 02 — what the server hands to your code, and the exit codes the specs check (given: you do
 * not need to edit this file). ./server.ts builds these options; ./serve.ts and ./chaos.ts use them.
 */
import type { Express } from 'express';

export interface ServeOptions {
  app: Express;
  port: number;
  serverId: string;
  /** How long in-flight requests may take to finish after SIGTERM. */
  drainTimeoutMs: number;
  /**
   * Runs once after SIGTERM, when the last request has finished and before the exit: close Redis
   * clients and the like (lesson 03). The exit waits for it; if it rejects, the exit code is
   * DRAIN_TIMEOUT_EXIT_CODE. drainTimeoutMs bounds it too.
   */
  onShutdown?: () => Promise<void>;
}

/** Exit code of a shutdown that had to cut requests off (or whose onShutdown failed). */
export const DRAIN_TIMEOUT_EXIT_CODE = 1;

export interface ChaosOptions {
  /** ENABLE_CHAOS=1 (see server.ts). Off: no chaos route exists, so POST /crash is a plain 404. */
  enabled: boolean;
  serverId: string;
}

/** Exit code of POST /crash: a crash is a failure, not a clean exit. */
export const CRASH_EXIT_CODE = 1;
