/**
 * Scratch copies of the course for verify's step and mistake runs, one per run slot, kept for the
 * whole verify: each run writes its lesson's src into a free copy and puts the starter back after.
 * The copies' files are hard links to this checkout's (buildTreeFromFiles' `link`): only a lesson's
 * src is ever written, and it is replaced, never written into.
 * A copy that stays at the same path keeps Jest's transform cache and the server bundles warm.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type LessonFiles, starterFiles } from '../course/steps';
import { buildTreeFromFiles, type Tree } from '../grade/workspace';
import { ROOT } from '../jest/target';

export class TreePool {
  private readonly free: Tree[] = [];
  private readonly all: Tree[] = [];

  /** Runs `work` in a copy of the course whose lessons/<lesson>/src holds exactly `files`. */
  async use<T>(lesson: string, files: LessonFiles, work: (dir: string) => Promise<T>): Promise<T> {
    const tree = this.free.pop() ?? this.create();
    writeSrc(tree.dir, lesson, files);
    try {
      return await work(tree.dir);
    } finally {
      writeSrc(tree.dir, lesson, starterFiles(ROOT, lesson));
      this.free.push(tree);
    }
  }

  /** The same for several at once: the i-th copy holds the i-th lesson's files. */
  async useMany<T>(
    entries: Array<{ lesson: string; files: LessonFiles }>,
    work: (dirs: string[]) => Promise<T>,
  ): Promise<T> {
    const trees = entries.map(() => this.free.pop() ?? this.create());
    for (const [i, { lesson, files }] of entries.entries()) writeSrc(trees[i]?.dir ?? '', lesson, files);
    try {
      return await work(trees.map((tree) => tree.dir));
    } finally {
      for (const [i, { lesson }] of entries.entries())
        writeSrc(trees[i]?.dir ?? '', lesson, starterFiles(ROOT, lesson));
      this.free.push(...trees);
    }
  }

  /**
   * Makes copies ahead of need (about 15 ms of CPU each here), one per turn of the event loop: verify does
   * this while the solutions run, so that the step and mistake runs do not wait for them.
   */
  async prepare(count: number): Promise<void> {
    while (this.all.length < count) {
      this.free.push(this.create());
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  removeAll(): void {
    for (const tree of this.all) tree.remove();
  }

  private create(): Tree {
    const tree = buildTreeFromFiles({}, ROOT, { link: true });
    this.all.push(tree);
    return tree;
  }
}

/**
 * The lesson's src as `files`. The copy's files are hard links to this checkout's (TreePool makes
 * them so): each is removed before it is written, so that a write never reaches the checkout.
 */
function writeSrc(dir: string, lesson: string, files: LessonFiles): void {
  const src = join(dir, 'lessons', lesson, 'src');
  rmSync(src, { recursive: true, force: true });
  for (const [path, text] of files) {
    const file = join(dir, 'lessons', lesson, path);
    mkdirSync(dirname(file), { recursive: true });
    rmSync(file, { force: true });
    writeFileSync(file, text);
  }
}
