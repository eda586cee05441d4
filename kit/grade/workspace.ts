/**
 * Where a grade is computed: a scratch copy of this course (its specs, kit, config and solutions) in
 * which each lessons/NN-slug/src holds the code being graded. Grading never runs the submission's own
 * specs or config, and never writes into this checkout (a grade can run while `npm run verify` does).
 *
 * The tree has this repo's layout, so every relative import ('../../../kit/…',
 * '../../../solutions/01-…/src/app') resolves inside it; node_modules is a symlink to this repo's.
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';

/** This checkout: the specs, harness and config every grade uses. */
export const COURSE_ROOT = resolve(__dirname, '..', '..');

/** What the tree needs from this repo; nothing else is copied (an instructor's folders stay out). */
const TREE_FILES = ['package.json', 'tsconfig.json', 'jest.config.ts'];
const TREE_DIRS = ['kit', 'lessons', 'solutions'];
const NEVER_COPIED = new Set(['node_modules', '.git', '.solved']);
/** Nor the wrong solutions verify applies (it reads them from this checkout): no tree runs them. */
const NOT_IN_TREES = new Set([...NEVER_COPIED, 'mistakes']);

/** The grader cannot grade (bad arguments, not a course checkout, no Redis…): one line, no stack. */
export class GradeError extends Error {
  override readonly name = 'GradeError';
}

export interface Lesson {
  /** Folder name, e.g. '01-sticky-problem'. */
  id: string;
  /** Spec files, relative to the course root. */
  specFiles: string[];
  /** Same rule as jest.config.ts: the specs use the run's embedded Redis. */
  needsRedis: boolean;
}

/** The lessons of this course that have specs, in order. */
export function courseLessons(root = COURSE_ROOT): Lesson[] {
  return lessonDirs(root)
    .map((id) => {
      const specsDir = join(root, 'lessons', id, 'specs');
      const specFiles = existsSync(specsDir)
        ? readdirSync(specsDir, { recursive: true, encoding: 'utf8' })
            .filter((file) => file.endsWith('.spec.ts'))
            .map((file) => join('lessons', id, 'specs', file))
            .sort()
        : [];
      const needsRedis = specFiles.some((file) =>
        readFileSync(join(root, file), 'utf8').includes('kit/spec/redis'),
      );
      return { id, specFiles, needsRedis };
    })
    .filter((lesson) => lesson.specFiles.length > 0);
}

function lessonDirs(root: string): string[] {
  const lessons = join(root, 'lessons');
  if (!existsSync(lessons)) return [];
  return readdirSync(lessons)
    .filter((name) => /^\d\d-/.test(name) && statSync(join(lessons, name)).isDirectory())
    .sort();
}

/** `--lessons 01,3,03-redis-store` → those lessons; every filter must match one. */
export function selectLessons(all: Lesson[], filters: string[]): Lesson[] {
  if (filters.length === 0) return all;
  const wanted = new Set<Lesson>();
  for (const filter of filters) {
    const prefix = /^\d$/.test(filter) ? `0${filter}` : filter;
    const match = all.find((lesson) => lesson.id === prefix || lesson.id.startsWith(`${prefix}-`));
    if (!match) {
      throw new GradeError(
        `--lessons ${filter}: no such lesson with specs (lessons: ${all.map((l) => l.id).join(', ') || 'none'})`,
      );
    }
    wanted.add(match);
  }
  return all.filter((lesson) => wanted.has(lesson));
}

export type Source =
  /** This checkout's own lessons/*\/src (the default). */
  | { kind: 'checkout'; dir: string }
  /** Another checkout or an unpacked zip: only its lessons/*\/src is used. */
  | { kind: 'submission'; dir: string }
  /** The reference solutions laid over the starters (what a perfect learner hands in). */
  | { kind: 'solutions'; dir: string };

/** Checks that `dir` looks like a course checkout: a folder with at least one lessons/NN-*\/src. */
export function submissionSource(dir: string): Source {
  if (!existsSync(dir)) throw new GradeError(`--submission ${dir}: no such file or directory`);
  if (!statSync(dir).isDirectory()) throw new GradeError(`--submission ${dir}: not a directory`);
  const withSrc = lessonDirs(dir).filter((id) => existsSync(join(dir, 'lessons', id, 'src')));
  if (withSrc.length === 0) {
    throw new GradeError(
      `--submission ${dir}: not a course checkout (no lessons/NN-*/src folder in it; point at the folder that holds lessons/)`,
    );
  }
  return { kind: 'submission', dir: realpathSync(dir) };
}

export interface Tree {
  dir: string;
  /** Per lesson: where its src came from, e.g. 'submission' or 'starter (no src in the submission)'. */
  origins: Record<string, string>;
  /** Things an instructor should know about the submission (skipped symlinks, copied solutions…). */
  warnings: string[];
  remove(): void;
}

/** Builds the scratch tree for one grade. Call remove() when done. */
export function buildTree(source: Source, root = COURSE_ROOT): Tree {
  const { dir, remove } = copyCourse(root, 'course-grade-');
  try {
    const origins: Record<string, string> = {};
    const warnings: string[] = [];
    for (const id of lessonDirs(root)) {
      origins[id] = overlaySrc(source, root, dir, id, warnings);
    }
    return { dir, origins, warnings, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

/**
 * A scratch tree in which each lessons/<id>/src given in `lessons` holds exactly those files (path
 * relative to the lesson folder, e.g. 'src/app.ts' → text): `npm run verify` grades a lesson with some
 * steps done, or with a mistake in it, the way the grader grades a learner's copy.
 */
export function buildTreeFromFiles(
  lessons: Record<string, Map<string, string>>,
  root = COURSE_ROOT,
  options: TreeOptions = {},
): Tree {
  const { dir, remove } = copyCourse(root, 'course-verify-', options);
  try {
    for (const [id, files] of Object.entries(lessons)) {
      const src = join(dir, 'lessons', id, 'src');
      rmSync(src, { recursive: true, force: true });
      for (const [path, text] of files) {
        mkdirSync(dirname(join(dir, 'lessons', id, path)), { recursive: true });
        writeFileSync(join(dir, 'lessons', id, path), text);
      }
    }
    return { dir, origins: {}, warnings: [], remove };
  } catch (error) {
    remove();
    throw error;
  }
}

export interface TreeOptions {
  /**
   * Hard-link this checkout's files into the tree instead of copying them: 13–18 ms of CPU a tree
   * instead of 72–80 ms (20 trees each way, process.cpuUsage(), 2-core machine), and verify makes
   * more than a hundred. The tree's files are then this checkout's own: whoever changes one must
   * replace it (remove it, then write), never write into it, or the checkout changes too. Only
   * verify's scratch copies (kit/verify/trees.ts) do this; a grade's tree is copied (the grader lays
   * the graded src over the starter's files). Across file systems the files are copied.
   */
  link?: boolean;
}

/** This course's specs, kit, config and solutions in a new temporary folder; node_modules linked. */
function copyCourse(
  root: string,
  prefix: string,
  options: TreeOptions = {},
): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    const place = options.link ? linkOrCopy : copyFileSync;
    for (const file of TREE_FILES) place(join(root, file), join(dir, file));
    for (const folder of TREE_DIRS) {
      if (existsSync(join(root, folder))) placeFolder(join(root, folder), join(dir, folder), place);
    }
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
    return { dir, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

/** `from`'s files, folder by folder, into `to` (what trees never hold left out). */
function placeFolder(from: string, to: string, place: (from: string, to: string) => void): void {
  mkdirSync(to, { recursive: true });
  for (const entry of readdirSync(from, { withFileTypes: true })) {
    if (NOT_IN_TREES.has(entry.name)) continue;
    if (entry.isDirectory()) placeFolder(join(from, entry.name), join(to, entry.name), place);
    else if (entry.isFile()) place(join(from, entry.name), join(to, entry.name));
  }
}

/** A hard link where the file system allows one (not across devices), else a copy. */
let linksWork = true;
function linkOrCopy(from: string, to: string): void {
  if (linksWork) {
    try {
      linkSync(from, to);
      return;
    } catch (error) {
      if (!['EXDEV', 'EPERM', 'ENOTSUP', 'EMLINK'].includes((error as NodeJS.ErrnoException).code ?? ''))
        throw error;
      linksWork = false;
    }
  }
  copyFileSync(from, to);
}

/**
 * Lays the graded code over the lesson's starter (already in the tree). Laying over rather than
 * replacing: a file the learner deleted comes back as the starter's, which can only cost points.
 */
function overlaySrc(source: Source, root: string, tree: string, id: string, warnings: string[]): string {
  const target = join(tree, 'lessons', id, 'src');
  if (source.kind === 'checkout' && source.dir === root) return 'this checkout';
  const from =
    source.kind === 'solutions' ? join(root, 'solutions', id, 'src') : join(source.dir, 'lessons', id, 'src');
  if (!existsSync(from)) {
    return source.kind === 'solutions' ? 'starter (no solution files)' : 'starter (no src in the submission)';
  }
  cpSync(from, target, {
    recursive: true,
    force: true,
    filter: (path) => {
      if (NEVER_COPIED.has(basename(path))) return false;
      if (!lstatSync(path).isSymbolicLink()) return true;
      warnings.push(`${relative(source.dir, path)} is a symlink: not graded (the starter's file was used)`);
      return false;
    },
  });
  if (source.kind === 'submission') warnings.push(...solutionLookalikes(root, id, from, source.dir));
  return source.kind === 'solutions' ? 'reference solution' : 'submission';
}

/** Files that import the lesson's own reference solution, or are byte-for-byte copies of it. */
function solutionLookalikes(root: string, id: string, src: string, submissionDir: string): string[] {
  const solution = join(root, 'solutions', id, 'src');
  const found: string[] = [];
  for (const file of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
    const path = join(src, file);
    if (!file.endsWith('.ts') || !lstatSync(path).isFile()) continue;
    const text = readFileSync(path, 'utf8');
    const shown = relative(submissionDir, path);
    if (text.includes(`solutions/${id}/`))
      found.push(`${shown} imports the reference solution solutions/${id}`);
    const twin = join(solution, file);
    if (existsSync(twin) && readFileSync(twin, 'utf8') === text) {
      found.push(`${shown} is identical to the reference solution`);
    }
  }
  return found;
}

export interface GitInfo {
  commit: string;
  /** Uncommitted changes under the graded folder (what is graded may differ from the commit). */
  dirty: boolean;
}

/**
 * The commit of `dir` when it is the top of a git work tree (not a folder inside another repo), and
 * whether `graded` (a folder in it) has uncommitted changes.
 */
export function gitInfo(dir: string, graded = 'lessons'): GitInfo | null {
  const git = (...args: string[]) =>
    spawnSync('git', ['-C', dir, ...args], { encoding: 'utf8', timeout: 10_000, stdio: 'pipe' });
  const top = git('rev-parse', '--show-toplevel');
  if (top.status !== 0 || realpathSync(top.stdout.trim()) !== realpathSync(dir)) return null;
  const head = git('rev-parse', 'HEAD');
  if (head.status !== 0) return null;
  const status = git('status', '--porcelain', '--', graded);
  return { commit: head.stdout.trim(), dirty: status.status === 0 && status.stdout.trim() !== '' };
}
