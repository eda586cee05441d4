/**
 * Which spec files of a lesson can see a change to some of its src files: the ones that import them
 * (directly or through other files), and the ones that start a server process whose entry does. A
 * mistake in src/redis.ts need not wait for the spec of src/config.ts. An over-approximation on
 * purpose: a spec file left out would let a mistake through unseen.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const IMPORT = /(?:from|import)\s*['"](\.[^'"]+)['"]/g;
const ENTRY = /\bentry:\s*['"]([^'"]+)['"]/g;

/** Spec files (relative to `root`) of `lesson` that reach any of `changed` ('src/x.ts' paths). */
export function affectedSpecs(root: string, lesson: string, changed: string[]): string[] {
  return specsReaching(root, lesson, changed).map((spec) => spec.file);
}

export interface Reach {
  file: string;
  /** 'import': the spec (or a file it imports) imports a changed file, in this process. */
  via: 'import' | 'process';
}

/** Like affectedSpecs, saying for each whether it reaches the change in process or only through a server. */
export function specsReaching(root: string, lesson: string, changed: string[]): Reach[] {
  const lessonDir = join(root, 'lessons', lesson);
  const targets = new Set(changed.map((file) => join(lessonDir, file)));
  const specsDir = join(lessonDir, 'specs');
  if (!existsSync(specsDir)) return [];
  const specs = readdirSync(specsDir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.endsWith('.spec.ts'))
    .map((name) => join(specsDir, name))
    .sort();
  return specs.flatMap((spec): Reach[] => {
    const imported = closure(root, lesson, [spec]);
    const reached = new Set(imported);
    for (const file of imported) {
      for (const entry of readFileSync(file, 'utf8').matchAll(ENTRY)) {
        for (const more of closure(root, lesson, [join(lessonDir, 'src', entry[1] ?? '')])) reached.add(more);
      }
    }
    const hits = (files: Set<string>) => [...files].some((file) => targets.has(file));
    if (!hits(reached)) return [];
    return [{ file: relative(root, spec), via: hits(imported) ? 'import' : 'process' }];
  });
}

/** Every file `start` imports, transitively (a solution file counts as its lesson's src file). */
function closure(root: string, lesson: string, start: string[]): Set<string> {
  const seen = new Set<string>();
  const queue = [...start];
  while (queue.length) {
    const file = asLessonFile(root, lesson, queue.pop() ?? '');
    if (!file || seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    for (const match of readFileSync(file, 'utf8').matchAll(IMPORT)) {
      queue.push(resolve(dirname(file), match[1] ?? ''));
    }
  }
  return seen;
}

/** A path with its .ts added; a solution file mapped to the lesson's src file it stands for. */
function asLessonFile(root: string, lesson: string, path: string): string | undefined {
  const withTs = path.endsWith('.ts') ? path : `${path}.ts`;
  const solutionSrc = join(root, 'solutions', lesson, 'src');
  if (withTs.startsWith(solutionSrc))
    return join(root, 'lessons', lesson, 'src', relative(solutionSrc, withTs));
  if (withTs.includes(`${join('node_modules')}`)) return undefined;
  return withTs;
}
