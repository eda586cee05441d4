/**
 * The Allure Report 3 side of a grade: completes the results allure-jest wrote, adds the environment,
 * and generates one self-contained index.html with kit/grade/allurerc.mjs.
 *
 * allure-jest writes a result per test that ran, labelled by the spec helper (epic = lesson, feature =
 * topic, story = task, severity, points, step). A test whose body never ran (its beforeAll failed, its
 * spec file did not load) has no labels or no result at all; the grade knows those tasks from the
 * catalog, so the report gets them too: nobody reads a report that silently lacks the lost points.
 */
import { spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LessonGrade, TaskGrade } from './score';
import { COURSE_ROOT } from './workspace';

interface AllureLabel {
  name: string;
  value: string;
}

interface AllureResult {
  uuid: string;
  name: string;
  fullName?: string;
  historyId?: string;
  testCaseId?: string;
  status: string;
  statusDetails?: { message?: string; trace?: string };
  stage?: string;
  labels: AllureLabel[];
  description?: string;
  start?: number;
  stop?: number;
  steps?: unknown[];
  attachments?: unknown[];
  parameters?: unknown[];
  links?: unknown[];
}

/** The package name allure-jest puts in front of fullName ("sticky-to-stateless:lessons/…#…"). */
const PACKAGE = (JSON.parse(readFileSync(join(COURSE_ROOT, 'package.json'), 'utf8')) as { name: string })
  .name;

/**
 * Gives every graded task a labelled result, shows the points in each test's name, and turns the
 * scratch tree's paths in messages back into course paths.
 */
export function completeResults(resultsDir: string, lessons: LessonGrade[], tree: string): void {
  const pending = new Map<string, { lesson: string; task: TaskGrade }[]>();
  for (const lesson of lessons) {
    for (const task of lesson.tasks) {
      const key = `${task.file}\0${task.title}`;
      pending.set(key, [...(pending.get(key) ?? []), { lesson: lesson.id, task }]);
    }
  }

  for (const file of readdirSync(resultsDir).filter((name) => name.endsWith('-result.json'))) {
    const path = join(resultsDir, file);
    const result = JSON.parse(readFileSync(path, 'utf8').replaceAll(`${tree}/`, '')) as AllureResult;
    const specFile = result.fullName?.match(/^[^:]*:([^#]*)#/)?.[1] ?? '';
    const graded = pending.get(`${specFile}\0${result.name}`)?.shift();
    if (graded) label(result, graded.lesson, graded.task);
    writeFileSync(path, JSON.stringify(result));
  }

  for (const left of pending.values()) {
    for (const { lesson, task } of left) {
      const result = syntheticResult(lesson, task);
      label(result, lesson, task);
      writeFileSync(join(resultsDir, `${result.uuid}-result.json`), JSON.stringify(result));
    }
  }
}

function label(result: AllureResult, lesson: string, task: TaskGrade): void {
  const set = (name: string, value: string) => {
    if (!result.labels.some((existing) => existing.name === name)) result.labels.push({ name, value });
  };
  set('epic', lesson);
  if (task.topic) set('feature', task.topic);
  set('story', task.title);
  set('severity', task.severity);
  set('points', String(task.points));
  set('step', task.step);
  result.description ??= `**${task.step}** · ${task.points} point(s)\n\nHint: ${task.hint}`;
  result.name = `${task.title} · ${task.earned}/${task.points} pt${task.points === 1 ? '' : 's'}`;
}

/** A task Jest never reported (its spec file did not load): shown as broken, with Jest's reason. */
function syntheticResult(lesson: string, task: TaskGrade): AllureResult {
  const fullName = `${PACKAGE}:${task.file}#${task.topic} ${task.title}`;
  const id = createHash('md5').update(fullName).digest('hex');
  const now = Date.now();
  return {
    uuid: randomUUID(),
    name: task.title,
    fullName,
    historyId: id,
    testCaseId: id,
    status: task.status === 'skipped' ? 'skipped' : 'broken',
    statusDetails: { message: `${task.message ?? 'The test did not run.'}\nHint: ${task.hint}` },
    stage: 'finished',
    labels: [
      { name: 'framework', value: 'jest' },
      { name: 'parentSuite', value: task.topic || lesson },
    ],
    start: now,
    stop: now,
    steps: [],
    attachments: [],
    parameters: [],
    links: [],
  };
}

/** Allure's environment.properties: shown as the report's metadata. */
export function writeEnvironment(resultsDir: string, environment: Record<string, string>): void {
  const quote = (text: string, isKey: boolean) =>
    text
      .replace(/\\/g, '\\\\')
      .replace(/\n/g, '\\n')
      .replace(isKey ? /([ :=])/g : /^( )/, '\\$1');
  const lines = Object.entries(environment).map(
    ([key, value]) => `${quote(key, true)}=${quote(value, false)}`,
  );
  writeFileSync(join(resultsDir, 'environment.properties'), `${lines.join('\n')}\n`);
}

export interface ReportOptions {
  resultsDir: string;
  reportDir: string;
  name: string;
  /** Shown at the top of the report (the score). */
  variables: Record<string, string>;
  timeoutMs: number;
}

/** Runs `allure generate` with kit/grade/allurerc.mjs, then makes index.html work offline. */
export async function generateReport(options: ReportOptions): Promise<string> {
  const cli = join(COURSE_ROOT, 'node_modules', 'allure', 'cli.js');
  const args = [
    cli,
    'generate',
    '--config',
    join(__dirname, 'allurerc.mjs'),
    '--output',
    options.reportDir,
    options.resultsDir,
  ];
  const env = {
    ...process.env,
    FORCE_COLOR: '0',
    GRADE_ALLURE: JSON.stringify({ name: options.name, variables: options.variables }),
  };
  const { code, output } = await runNode(args, env, options.timeoutMs);
  const index = join(options.reportDir, 'index.html');
  if (code !== 0) throw new Error(`allure generate failed (exit code ${code}):\n${output.slice(-2000)}`);
  writeFileSync(index, withoutAnalytics(readFileSync(index, 'utf8')));
  return index;
}

/**
 * The awesome plugin always adds Google Analytics (a remote script and a gtag call). A grade report
 * holds learners' names and code: it must open offline and phone nobody, so both go.
 */
export function withoutAnalytics(html: string): string {
  return html
    .replace(/<script[^>]*src="https:\/\/www\.googletagmanager\.com\/[^"]*"[^>]*><\/script>/g, '')
    .replace(/<script>\s*window\.dataLayer[\s\S]*?<\/script>/g, '');
}

/** Remote resources a page would load: src/href on script, link, img, iframe (not plain <a> links). */
export function remoteReferences(html: string): string[] {
  const tags = html.match(/<(script|link|img|iframe|source)\b[^>]*>/gi) ?? [];
  return tags.filter((tag) => /\b(src|href)\s*=\s*["']?(https?:)?\/\//i.test(tag));
}

function runNode(
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: COURSE_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}
