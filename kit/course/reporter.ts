/**
 * The course reporter: what a learner sees after `npm test lessons/NN` instead of Jest's wall of
 * failures. One block per lesson run (kit/course/render.ts): a progress line per README step and one
 * "Next:" part. It also saves each lesson's results in .course/results/ for `npm run course`.
 *
 * Jest's own output is one flag away: `npm test lessons/01 -- --reporters=default`. `npm run verify`
 * and `npm run grade` choose their own reporters.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { currentTarget, lessonSrcDir } from '../jest/target';
import { lessonIds, lessonInfo, progressOf, stepNumber, type TaskResult } from './lessons';
import { renderBlock } from './render';
import { loadRun, type SavedRun, saveRun } from './state';
import { unfinishedSteps } from './unfinished';

interface Assertion {
  ancestorTitles: string[];
  title: string;
  fullName: string;
  status: string;
  failureMessages: string[];
}

interface FileResult {
  testFilePath: string;
  testResults: Assertion[];
  testExecError?: { message: string };
  failureMessage?: string | null;
  console?: Array<{ message: string; type: string }> | null;
}

interface Aggregated {
  testResults: FileResult[];
}

interface CatalogEntry {
  lesson: string;
  file: string;
  topic: string;
  title: string;
  points: number;
  step: string;
}

const MAX_CONSOLE_LINES = 12;

export default class CourseReporter {
  private readonly root: string;
  private readonly color: boolean;

  constructor(globalConfig: { rootDir: string; noColor?: boolean }) {
    this.root = globalConfig.rootDir;
    this.color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && globalConfig.noColor !== true;
  }

  onRunComplete(_contexts: unknown, results: Aggregated): void {
    const catalog = readCatalog(process.env.COURSE_GRADE_CATALOG);
    const byLesson = new Map<string, FileResult[]>();
    for (const file of results.testResults) {
      const lesson = /lessons\/([^/]+)\/specs\//.exec(file.testFilePath)?.[1];
      if (!lesson) continue;
      byLesson.set(lesson, [...(byLesson.get(lesson) ?? []), file]);
    }
    const ids = lessonIds(this.root);
    const ran = ids.filter((id) => byLesson.has(id));
    const out: string[] = [];
    for (const file of results.testResults) out.push(...consoleOf(this.root, file));
    let fullShown = false;
    for (const id of ran) {
      const run = this.save(id, byLesson.get(id) ?? [], catalog);
      const info = lessonInfo(this.root, id);
      const progress = progressOf(info, run.tasks);
      const nextId = ids[ids.indexOf(id) + 1];
      // With several lessons in one run, the full Next part only for the first one not done.
      const mode = ran.length === 1 || (!fullShown && progress.state !== 'done') ? 'full' : 'compact';
      if (mode === 'full' && progress.state !== 'done') fullShown = true;
      out.push(
        '',
        ...renderBlock(
          {
            info,
            progress,
            tasks: run.tasks,
            unfinished: unfinishedSteps(lessonSrcDir(id))[0],
            loadErrors: run.loadErrors,
            nextLesson: nextId ? lessonInfo(this.root, nextId) : undefined,
            color: this.color,
          },
          mode,
        ),
      );
    }
    if (ran.length === 0) return;
    const example = ran.length === 1 ? `lessons/${ran[0]?.slice(0, 2)}` : 'lessons/';
    out.push(
      '',
      `Full Jest output: npm test ${example} -- --reporters=default · every lesson: npm run course · on each save: npm run course -- watch`,
    );
    process.stdout.write(`${out.join('\n')}\n`);
  }

  /**
   * This run's results for one lesson, merged over the saved ones: a spec file that ran replaces its
   * tasks; files not run this time (npm test lessons/05/specs/config) keep their last results.
   */
  private save(lesson: string, files: FileResult[], catalog: CatalogEntry[]): SavedRun {
    const ranFiles = new Set(files.map((file) => relative(this.root, file.testFilePath)));
    const previous = currentTarget() === 'lessons' ? loadRun(this.root, lesson) : undefined;
    const tasks: TaskResult[] = (previous?.tasks ?? []).filter((task) => !ranFiles.has(task.file));
    for (const file of files) {
      const path = relative(this.root, file.testFilePath);
      for (const test of file.testResults) {
        const topic = test.ancestorTitles.join(' › ');
        const entry = catalog.find(
          (task) =>
            relative(this.root, task.file) === path && `${task.topic} ${task.title}`.trim() === test.fullName,
        );
        const earlier = previous?.tasks.find((task) => task.file === path && task.title === test.title);
        if (test.status !== 'passed' && test.status !== 'failed') {
          if (earlier) tasks.push(earlier); // skipped this time (a name filter): keep what it was
          continue;
        }
        tasks.push({
          file: path,
          topic,
          title: test.title,
          step: entry ? stepNumber(entry.step) : earlier?.step,
          points: entry?.points ?? earlier?.points ?? 0,
          status: test.status,
          message: test.status === 'failed' ? test.failureMessages.join('\n') : undefined,
        });
      }
    }
    const loadErrors = files
      .filter((file) => file.testExecError || (file.testResults.length === 0 && file.failureMessage))
      .map((file) => ({
        file: relative(this.root, file.testFilePath),
        message: file.testExecError?.message ?? file.failureMessage ?? '',
      }));
    const run: SavedRun = {
      lesson,
      ranAt: new Date().toISOString(),
      tasks: ordered(tasks, catalog, this.root),
      loadErrors,
    };
    // A run of the reference solutions (npm run test:solutions) is not the learner's progress.
    if (currentTarget() === 'lessons') saveRun(this.root, run);
    return run;
  }
}

/** Tasks in the order the specs declare them (file, then declaration), unknown ones last. */
function ordered(tasks: TaskResult[], catalog: CatalogEntry[], root: string): TaskResult[] {
  const rank = (task: TaskResult) => {
    const index = catalog.findIndex(
      (entry) => relative(root, entry.file) === task.file && entry.title === task.title,
    );
    return index < 0 ? Number.MAX_SAFE_INTEGER : index;
  };
  return [...tasks].sort((a, b) => a.file.localeCompare(b.file) || rank(a) - rank(b));
}

function readCatalog(dir: string | undefined): CatalogEntry[] {
  if (!dir || !existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.jsonl'))
    .sort()
    .flatMap((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean))
    .map((line) => JSON.parse(line) as CatalogEntry);
}

/** What the specs' own code printed (console.log in a learner's function): shown, briefly. */
function consoleOf(root: string, file: FileResult): string[] {
  const entries = file.console ?? [];
  if (entries.length === 0) return [];
  const lines = entries.flatMap((entry) =>
    entry.message.split('\n').map((line) => `  ${entry.type}: ${line}`),
  );
  const shown = lines.slice(0, MAX_CONSOLE_LINES);
  if (lines.length > shown.length)
    shown.push(`  … ${lines.length - shown.length} more lines (--reporters=default shows all)`);
  return [`console output of ${relative(root, file.testFilePath)}:`, ...shown];
}
