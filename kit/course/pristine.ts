/**
 * The course as it was shipped, from git: what `npm run course -- reset` puts back. The learner's own
 * commits must not count as "the starter", so the course's upstream comes first (origin/HEAD, then
 * origin/main), and the local HEAD only when there is no remote (a maintainer's checkout, a scratch
 * copy). COURSE_PRISTINE_REF names another one.
 */
import { spawnSync } from 'node:child_process';

function git(root: string, args: string[]): { ok: boolean; out: string } {
  const result = spawnSync('git', ['-C', root, ...args], {
    encoding: 'utf8',
    stdio: 'pipe',
    timeout: 10_000,
  });
  return { ok: result.status === 0, out: result.stdout ?? '' };
}

/** The commit to take starters from, or undefined when `root` is no git clone of the course. */
export function pristineRef(root: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env.COURSE_PRISTINE_REF, 'origin/HEAD', 'origin/main', 'HEAD'].filter(
    Boolean,
  ) as string[];
  for (const ref of candidates) {
    const resolved = git(root, ['rev-parse', '--verify', '-q', `${ref}^{commit}`]);
    if (resolved.ok) return ref;
  }
  return undefined;
}

/** The files under `dir` (relative to the repo root) at `ref`: path → content. */
export function filesAt(root: string, ref: string, dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const list = git(root, ['ls-tree', '-r', '--name-only', ref, '--', dir]);
  if (!list.ok) return files;
  for (const path of list.out.split('\n').filter(Boolean)) {
    const shown = spawnSync('git', ['-C', root, 'show', `${ref}:${path}`], {
      stdio: 'pipe',
      timeout: 10_000,
    });
    if (shown.status === 0) files.set(path, shown.stdout.toString('utf8'));
  }
  return files;
}
