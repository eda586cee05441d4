/**
 * The block a learner reads after a run of a lesson's specs (and `npm run course -- next`): a line per
 * README step, then one "Next:" part — the file to open, the README step, the first failing task with
 * its real message, and the command that gives a hint. Every other "not implemented yet" failure is
 * one line of count, not a screenful of copies.
 */
import { stripVTControlCharacters, styleText } from 'node:util';
import {
  firstFailing,
  type LessonInfo,
  type LessonProgress,
  type StepProgress,
  type TaskResult,
} from './lessons';
import type { Unfinished } from './unfinished';

export interface BlockInput {
  info: LessonInfo;
  progress: LessonProgress;
  tasks: TaskResult[];
  /** The earliest todo() left in the learner's src (the file to open), if any. */
  unfinished?: Unfinished;
  loadErrors: Array<{ file: string; message: string }>;
  /** The lesson after this one, for "Next:" once this one is done. */
  nextLesson?: LessonInfo;
  color: boolean;
}

const MAX_MESSAGE_LINES = 18;

export function renderBlock(input: BlockInput, mode: 'full' | 'compact' = 'full'): string[] {
  const { info, progress, color } = input;
  const paint = painter(color);
  const lines = [
    `${paint('bold', info.title)} · ${progress.points} of ${progress.possible} points · ${progress.passed} of ${progress.total} tasks`,
    ...progress.steps.map((step) => stepLine(step, progress.steps, paint)),
  ];
  for (const error of input.loadErrors) {
    lines.push(
      `  ${paint('red', '✗')} ${shortPath(error.file)} did not run (every task in it is lost):`,
      ...indent(clean(error.message), 6).slice(0, MAX_MESSAGE_LINES),
    );
  }
  lines.push('', ...nextPart(input, mode, paint));
  return lines;
}

function stepLine(step: StepProgress, all: StepProgress[], paint: Painter): string {
  const mark =
    step.state === 'done' ? paint('green', '✓') : step.state === 'partly' ? paint('yellow', '◐') : '○';
  const width = Math.max(...all.map((entry) => entry.title.length));
  const state = step.state.padEnd(11);
  return `  ${mark} ${step.title.padEnd(width)}  ${state}  ${`${step.passed}/${step.total} tasks`.padStart(11)}  ${`${step.points}/${step.possible} pts`.padStart(9)}`;
}

function nextPart(input: BlockInput, mode: 'full' | 'compact', paint: Painter): string[] {
  const { info, progress, tasks, unfinished, nextLesson } = input;
  const lessonArg = info.number;
  if (input.loadErrors.length > 0 && progress.passed < progress.total) {
    return [`${paint('bold', 'Next:')} make the spec file above load: the error names the file and line.`];
  }
  if (progress.state === 'done') {
    return nextLesson
      ? [
          `${paint('green', 'Lesson done.')} ${paint('bold', 'Next:')} ${nextLesson.title} — lessons/${nextLesson.id}/README.md, then npm test lessons/${nextLesson.number}`,
        ]
      : [`${paint('green', 'Lesson done')} — and that was the last lesson.`];
  }
  const failing = firstFailing(progress, tasks);
  const step = progress.steps.find((entry) => entry.state !== 'done');
  if (!failing || !step) return [];
  if (mode === 'compact') {
    return [`${paint('bold', 'Next:')} ${step.title} — npm test lessons/${lessonArg}`];
  }
  const file = unfinished && unfinished.step === step.step ? unfinished.file : filesNamedIn(failing.message);
  const others = tasks.filter((task) => task.status !== 'passed' && task !== failing).length;
  const lines = [`${paint('bold', 'Next:')} ${step.title}`];
  if (file) lines.push(`  open   lessons/${info.id}/${file}`);
  lines.push(`  read   lessons/${info.id}/README.md → ${step.title}`);
  lines.push(`  task   ${failing.topic ? `${failing.topic} › ` : ''}${failing.title}`);
  lines.push(
    ...indent(clean(failing.message ?? failing.status, Boolean(file)), 9).slice(0, MAX_MESSAGE_LINES),
  );
  lines.push(`  stuck? npm run course -- hint ${lessonArg} ${step.step}   (one level at a time)`);
  if (others > 0)
    lines.push(`  ${others} more failing task${others === 1 ? '' : 's'}: this step or later ones.`);
  return lines;
}

/**
 * A failure message without its stack frames (they point into the course's kit), and without the
 * "Not implemented yet … open …" line when the "open" and "read" lines above already say it.
 */
function clean(message: string, saidAbove = false): string[] {
  return message
    .replace(/^(NotImplementedError|Error): /, '')
    .split('\n')
    .filter((line) => !/^\s+at /.test(stripVTControlCharacters(line)))
    .filter((line) => !(saidAbove && /^Not implemented yet \(lesson [^)]+\): open /.test(line)))
    .join('\n')
    .trim()
    .split('\n');
}

function filesNamedIn(message: string | undefined): string | undefined {
  return /open lessons\/[^/]+\/(\S+) and do README/.exec(message ?? '')?.[1];
}

function shortPath(file: string): string {
  return /lessons\/.+$/.exec(file)?.[0] ?? file;
}

function indent(lines: string[], by: number): string[] {
  return lines.map((line) => `${' '.repeat(by)}${line}`);
}

type Painter = (style: 'bold' | 'green' | 'yellow' | 'red' | 'dim', text: string) => string;

export function painter(color: boolean): Painter {
  return (style, text) => (color ? styleText(style, text) : text);
}
