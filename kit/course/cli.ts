/**
 * `npm run course` — the learner's companion to `npm test lessons/NN`:
 *
 *   npm run course                         progress: every lesson, from your latest runs
 *   npm run course -- progress --fresh     run every lesson first
 *   npm run course -- next                 the lesson and step to work on, and what to do
 *   npm run course -- hint 03 [step]       the next hint level for a step (--all: every level)
 *   npm run course -- watch [03]           rerun a lesson's specs on every save under its src/
 *   npm run course -- reset 03 [--yes]     put the starter files back (yours are backed up first)
 *   npm run course -- solution 03          the reference solution, as a diff against your files
 *
 * Each command has --help. A bad command or lesson: one line naming the valid ones, exit code 2.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { watch as watchFiles } from 'chokidar';
import { SingleBar } from 'cli-progress';
import { createTwoFilesPatch } from 'diff';
import { lessonHints } from './hints';
import { findLesson, type LessonProgress, lessonIds, lessonInfo, progressOf } from './lessons';
import { filesAt, pristineRef } from './pristine';
import { painter, renderBlock } from './render';
import { loadHintLevels, loadRun, saveHintLevels, stateDir } from './state';
import { unfinishedSteps } from './unfinished';

const ROOT = join(__dirname, '..', '..');
const JEST = require.resolve('jest/bin/jest');
const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
const paint = painter(color);

class UsageError extends Error {}

interface Command {
  usage: string;
  summary: string;
  options?: Record<string, { type: 'boolean' | 'string'; short?: string }>;
  run(positionals: string[], values: Record<string, unknown>): Promise<number> | number;
}

const commands: Record<string, Command> = {
  progress: {
    usage: 'npm run course -- progress [--fresh]',
    summary: 'every lesson: not started / in progress / done, tasks and points, from your latest runs',
    options: { fresh: { type: 'boolean' } },
    run: (_, values) => progress(Boolean(values.fresh)),
  },
  next: {
    usage: 'npm run course -- next',
    summary: 'the lesson and step to work on now, with the first failing task and what to open',
    run: () => next(),
  },
  hint: {
    usage: 'npm run course -- hint <lesson> [step] [--all]',
    summary: 'the next hint level for a step (1 the idea, 2 what to look up, 3 a sketch); --all shows all',
    options: { all: { type: 'boolean' } },
    run: (positionals, values) => hint(positionals, Boolean(values.all)),
  },
  watch: {
    usage: 'npm run course -- watch [lesson]',
    summary: "rerun a lesson's specs on every save under its src/ (Ctrl-C stops)",
    run: (positionals) => watch(positionals),
  },
  reset: {
    usage: 'npm run course -- reset <lesson> [--yes]',
    summary: 'put the starter files of a lesson back; yours go to .course/backups/ first',
    options: { yes: { type: 'boolean', short: 'y' } },
    run: (positionals, values) => reset(positionals, Boolean(values.yes)),
  },
  solution: {
    usage: 'npm run course -- solution <lesson>',
    summary: 'the reference solution, as a diff against your current files (it shows the answer)',
    run: (positionals) => solution(positionals),
  },
};

async function main(argv: string[]): Promise<number> {
  const [name = 'progress', ...rest] = argv;
  if (name === '--help' || name === '-h' || name === 'help') return help();
  const command = commands[name];
  if (!command)
    throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(commands).join(', ')})`);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, ...(command.options ?? {}) },
    });
  } catch (error) {
    throw new UsageError(
      `${error instanceof Error ? error.message : String(error)} (usage: ${command.usage})`,
    );
  }
  if (parsed.values.help) {
    console.log(`${command.usage}\n\n  ${command.summary}`);
    return 0;
  }
  return command.run(parsed.positionals, parsed.values);
}

function help(): number {
  console.log('npm run course -- <command> [options]   (progress when none is given)\n');
  for (const [name, command] of Object.entries(commands))
    console.log(`  ${name.padEnd(9)} ${command.summary}`);
  console.log('\nEach command has --help. Lessons are named by number (03) or folder (03-redis-store).');
  return 0;
}

function lessonArg(wanted: string | undefined, what: string): string {
  const ids = lessonIds(ROOT);
  if (!wanted)
    throw new UsageError(`which lesson? (${what}; lessons: ${ids.map((id) => id.slice(0, 2)).join(', ')})`);
  const id = findLesson(ROOT, wanted);
  if (!id) throw new UsageError(`no lesson "${wanted}" (lessons: ${ids.join(', ')})`);
  return id;
}

// ── progress ─────────────────────────────────────────────────────────────────────────────────────

function lessonProgress(id: string): { progress: LessonProgress; ranAt?: string } {
  const run = loadRun(ROOT, id);
  return { progress: progressOf(lessonInfo(ROOT, id), run?.tasks ?? []), ranAt: run?.ranAt };
}

async function progress(fresh: boolean): Promise<number> {
  const ids = lessonIds(ROOT);
  if (fresh) await runEveryLesson(ids);
  const rows = ids.map((id) => {
    const { progress: p, ranAt } = lessonProgress(id);
    const state = ranAt ? p.state : 'not run yet';
    return [
      lessonInfo(ROOT, id).title,
      state,
      ranAt ? `${p.passed}/${p.total}` : '—',
      ranAt ? `${p.points}/${p.possible}` : '—',
      ranAt ? ranAt.replace('T', ' ').slice(0, 16) : '',
    ];
  });
  const header = ['lesson', 'state', 'tasks', 'points', 'last run (UTC)'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  console.log(paint('bold', line(header)));
  for (const row of rows) {
    const text = line(row);
    console.log(
      row[1] === 'done' ? paint('green', text) : row[1] === 'in progress' ? paint('yellow', text) : text,
    );
  }
  const done = rows.filter((row) => row[1] === 'done').length;
  console.log(
    `\n${done} of ${ids.length} lessons done. ${done < ids.length ? 'What next: npm run course -- next' : 'Well done!'}`,
  );
  if (!fresh) console.log(paint('dim', 'From your latest run of each lesson; --fresh runs them all first.'));
  return 0;
}

async function runEveryLesson(ids: string[]): Promise<void> {
  const bar = process.stdout.isTTY
    ? new SingleBar({
        format: 'running the specs [{bar}] {value}/{total} lessons · {lesson}',
        hideCursor: true,
      })
    : undefined;
  bar?.start(ids.length, 0, { lesson: ids[0] });
  for (const [index, id] of ids.entries()) {
    bar?.update(index, { lesson: id });
    const started = Date.now();
    spawnSync(process.execPath, [JEST, `lessons/${id}/`], { cwd: ROOT, stdio: 'ignore' });
    if (!bar) console.log(`ran lessons/${id} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  bar?.update(ids.length, { lesson: 'done' });
  bar?.stop();
}

// ── next ─────────────────────────────────────────────────────────────────────────────────────────

function next(): number {
  const ids = lessonIds(ROOT);
  const id = ids.find((lesson) => lessonProgress(lesson).progress.state !== 'done');
  if (!id) {
    console.log(
      'Every lesson is done, by your latest runs. (npm run course -- progress --fresh checks again.)',
    );
    return 0;
  }
  const run = loadRun(ROOT, id);
  const info = lessonInfo(ROOT, id);
  if (!run) {
    console.log(
      `${paint('bold', 'Next:')} ${info.title} — read lessons/${id}/README.md, then: npm test lessons/${info.number}`,
    );
    return 0;
  }
  const nextId = ids[ids.indexOf(id) + 1];
  const block = renderBlock({
    info,
    progress: progressOf(info, run.tasks),
    tasks: run.tasks,
    unfinished: unfinishedSteps(join(ROOT, 'lessons', id, 'src'))[0],
    loadErrors: run.loadErrors,
    nextLesson: nextId ? lessonInfo(ROOT, nextId) : undefined,
    color,
  });
  console.log(block.join('\n'));
  console.log(
    paint(
      'dim',
      `\nFrom your run of ${run.ranAt.replace('T', ' ').slice(0, 16)} UTC; run again: npm test lessons/${info.number}`,
    ),
  );
  return 0;
}

// ── hint ─────────────────────────────────────────────────────────────────────────────────────────

function hint(positionals: string[], all: boolean): number {
  const id = lessonArg(positionals[0], 'npm run course -- hint <lesson> [step]');
  const hints = lessonHints(ROOT, id);
  const steps = hints.map((entry) => entry.step);
  if (steps.length === 0) throw new UsageError(`lesson ${id} has no hints`);
  const wanted = positionals[1] ?? String(defaultStep(id) ?? steps[0]);
  const step = hints.find((entry) => String(entry.step) === wanted.replace(/^step\s*/i, ''));
  if (!step)
    throw new UsageError(`lesson ${id} has no step "${wanted}" with hints (steps: ${steps.join(', ')})`);

  const levels = loadHintLevels(ROOT);
  const seen = levels[id]?.[String(step.step)] ?? 0;
  const total = step.levels.length;
  const show = all
    ? step.levels
    : [step.levels[Math.min(seen, total - 1)]].filter((level) => level !== undefined);
  for (const level of show) {
    console.log(
      `${paint('bold', `${lessonInfo(ROOT, id).title} · ${step.title}`)}\n${paint('bold', `hint level ${level.level} of ${total}: ${level.title.replace(/^Level \d+\s*[—-]\s*/, '')}`)}\n`,
    );
    console.log(`${level.text}\n`);
  }
  const shownUpTo = all ? total : Math.min(seen + 1, total);
  levels[id] = { ...(levels[id] ?? {}), [String(step.step)]: Math.max(seen, shownUpTo) };
  saveHintLevels(ROOT, levels);
  if (shownUpTo < total)
    console.log(
      paint(
        'dim',
        `More: npm run course -- hint ${id.slice(0, 2)} ${step.step}   (level ${shownUpTo + 1} of ${total})`,
      ),
    );
  else
    console.log(
      paint(
        'dim',
        `That was the last level. Still stuck? npm run course -- solution ${id.slice(0, 2)} shows the answer.`,
      ),
    );
  return 0;
}

/** The step to hint at when none is named: the earliest one with a todo() left, else the first not done. */
function defaultStep(id: string): number | undefined {
  const unfinished = unfinishedSteps(join(ROOT, 'lessons', id, 'src'))[0];
  if (unfinished) return unfinished.step;
  return lessonProgress(id).progress.steps.find((step) => step.state !== 'done')?.step;
}

// ── watch ────────────────────────────────────────────────────────────────────────────────────────

async function watch(positionals: string[]): Promise<number> {
  const ids = lessonIds(ROOT);
  const id = positionals[0]
    ? lessonArg(positionals[0], 'npm run course -- watch [lesson]')
    : (ids.find((lesson) => lessonProgress(lesson).progress.state !== 'done') ?? ids[0]);
  if (!id) throw new UsageError('this course has no lessons');
  const src = join(ROOT, 'lessons', id, 'src');
  let running: ChildProcess | undefined;
  let timer: NodeJS.Timeout | undefined;

  const stopRun = () => {
    if (running?.pid && running.exitCode === null) {
      try {
        process.kill(-running.pid, 'SIGKILL'); // Jest, its workers and the servers its specs started
      } catch {
        // already gone
      }
    }
    running = undefined;
  };
  const startRun = (why: string) => {
    stopRun();
    if (process.stdout.isTTY) console.clear();
    console.log(paint('dim', `watching lessons/${id}/src — ${why} · Ctrl-C to stop`));
    const child = spawn(process.execPath, [JEST, `lessons/${id}/`], {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
      env: { ...process.env, FORCE_COLOR: color ? '1' : '0' },
    });
    running = child;
    child.on('exit', () => {
      if (running === child) {
        running = undefined;
        console.log(paint('dim', `\nwaiting for a change under lessons/${id}/src …`));
      }
    });
  };

  const watcher = watchFiles(src, { ignoreInitial: true, awaitWriteFinish: { stabilityThreshold: 50 } });
  watcher.on('all', (_event, path) => {
    clearTimeout(timer);
    timer = setTimeout(() => startRun(`${relative(ROOT, path)} changed`), 100);
  });
  await new Promise<void>((resolve) => watcher.once('ready', () => resolve()));
  startRun('first run');
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  clearTimeout(timer);
  stopRun();
  await watcher.close();
  console.log('\nstopped watching.');
  return 0;
}

// ── reset ────────────────────────────────────────────────────────────────────────────────────────

async function reset(positionals: string[], yes: boolean): Promise<number> {
  const id = lessonArg(positionals[0], 'npm run course -- reset <lesson>');
  const ref = pristineRef(ROOT);
  if (!ref) {
    console.error(
      'reset needs the course as a git clone (git clone …): this folder has no git history to take the starter from.',
    );
    return 1;
  }
  const dir = `lessons/${id}/src`;
  const starter = filesAt(ROOT, ref, dir);
  if (starter.size === 0) {
    console.error(`reset: ${ref} has no ${dir} (is COURSE_PRISTINE_REF right?)`);
    return 1;
  }
  if (!yes) {
    if (!process.stdin.isTTY) {
      console.error(`reset would replace every file in ${dir}: add --yes to do it without a question.`);
      return 1;
    }
    const prompt = createInterface({ input: process.stdin, output: process.stdout });
    const answer = await prompt.question(
      `Put the starter of ${dir} back? Your files are backed up first. [y/N] `,
    );
    prompt.close();
    if (!/^y(es)?$/i.test(answer.trim())) {
      console.log('Nothing changed.');
      return 0;
    }
  }
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const backup = join(stateDir(ROOT), 'backups', `${id}-${stamp}`);
  const srcDir = join(ROOT, dir);
  if (existsSync(srcDir)) cpSync(srcDir, join(backup, 'src'), { recursive: true });
  rmSync(srcDir, { recursive: true, force: true });
  for (const [path, text] of starter) {
    mkdirSync(dirname(join(ROOT, path)), { recursive: true });
    writeFileSync(join(ROOT, path), text);
  }
  console.log(`${dir}: the starter is back (from ${ref}). Your files: ${relative(ROOT, backup)}/src`);
  return 0;
}

// ── solution ─────────────────────────────────────────────────────────────────────────────────────

function solution(positionals: string[]): number {
  const id = lessonArg(positionals[0], 'npm run course -- solution <lesson>');
  const solutionDir = join(ROOT, 'solutions', id, 'src');
  console.log(
    paint(
      'yellow',
      `This shows the answer to lesson ${id}. Stuck on one step? npm run course -- hint ${id.slice(0, 2)} gives a smaller push.`,
    ),
  );
  let same = 0;
  for (const file of listFiles(solutionDir)) {
    const mine = join(ROOT, 'lessons', id, 'src', file);
    const yours = existsSync(mine) ? readFileSync(mine, 'utf8') : '';
    const theirs = readFileSync(join(solutionDir, file), 'utf8');
    if (yours === theirs) {
      same++;
      continue;
    }
    const patch = createTwoFilesPatch(
      `lessons/${id}/src/${file} (yours)`,
      `solutions/${id}/src/${file}`,
      yours,
      theirs,
      undefined,
      undefined,
      { context: 3 },
    );
    console.log(colourDiff(patch));
  }
  if (same)
    console.log(paint('dim', `${same} file${same === 1 ? '' : 's'} already the same as the solution.`));
  return 0;
}

function colourDiff(patch: string): string {
  return patch
    .split('\n')
    .filter((line) => !line.startsWith('==='))
    .map((line) => {
      if (line.startsWith('+++') || line.startsWith('---')) return paint('bold', line);
      if (line.startsWith('+')) return paint('green', line);
      if (line.startsWith('-')) return paint('red', line);
      if (line.startsWith('@@')) return paint('dim', line);
      return line;
    })
    .join('\n');
}

function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((file) => statSync(join(dir, file)).isFile())
    .sort();
}

// `npm run course -- solution 03 | head`: a reader that hangs up early is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

main(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  })
  .catch((error: unknown) => {
    if (error instanceof UsageError) {
      console.error(`course: ${error.message}`);
      process.exitCode = 2;
      return;
    }
    console.error(error);
    process.exitCode = 1;
  });
