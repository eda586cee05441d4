/**
 * How long each step and mistake run took in the last verify on this machine (seconds), so the next
 * one starts the costliest first (kit/verify/batch.ts). A cache, not course data: it lives in
 * node_modules/.cache, and a clean clone guesses from the solutions' run instead.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../jest/target';
import { writeAtomically } from '../vendor';

const FILE = join(ROOT, 'node_modules', '.cache', 'course-verify', 'seconds.json');

export class Costs {
  private readonly seconds: Record<string, number>;

  constructor() {
    try {
      this.seconds = existsSync(FILE)
        ? (JSON.parse(readFileSync(FILE, 'utf8')) as Record<string, number>)
        : {};
    } catch {
      this.seconds = {};
    }
  }

  of(key: string): number | undefined {
    return this.seconds[key];
  }

  record(key: string, seconds: number): void {
    this.seconds[key] = Math.round(seconds * 10) / 10;
  }

  save(): void {
    writeAtomically(FILE, `${JSON.stringify(this.seconds, null, 1)}\n`);
  }
}
