/**
 * What is left to do in a lesson, read from its source files: every `todo({ …, step: … })` call a
 * starter still contains marks an unfinished README step. The spec helper uses it so that every
 * failing task names the *earliest* step still to do (steps unlock in order), the course reporter
 * for its "Next:" part, and `npm run course` for progress.
 *
 * A static read, not a run: a todo() deep in a function nobody has called yet still counts. It
 * understands the two ways the starters write the step: a string literal, or a constant of the file
 * (`const STEP_2 = 'Step 2 — …'`).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Unfinished {
  /** The README step number, e.g. 2. */
  step: number;
  /** The step as the todo() names it, e.g. 'Step 2 — keep a cart in the session'. */
  title: string;
  /** The file to open, relative to the lesson folder, e.g. 'src/app.ts'. */
  file: string;
}

const TODO_CALL = /\btodo\(\s*\{([^}]*)\}\s*\)/g;
const STEP_VALUE = /\bstep:\s*(?:'([^']*)'|"([^"]*)"|([A-Za-z_$][\w$]*))/;

/** Every todo() left in `srcDir` (a lesson's src folder), earliest step first. */
export function unfinishedSteps(srcDir: string): Unfinished[] {
  if (!existsSync(srcDir)) return [];
  const found: Unfinished[] = [];
  for (const name of readdirSync(srcDir, { recursive: true, encoding: 'utf8' }).sort()) {
    if (!name.endsWith('.ts')) continue;
    const text = readFileSync(join(srcDir, name), 'utf8');
    for (const title of todoSteps(text)) {
      const step = stepNumber(title);
      if (step !== undefined) found.push({ step, title, file: `src/${name.split('\\').join('/')}` });
    }
  }
  return found.sort((a, b) => a.step - b.step);
}

/** The earliest unfinished step of `srcDir`, if any. */
export function nextStep(srcDir: string): Unfinished | undefined {
  return unfinishedSteps(srcDir)[0];
}

/**
 * The step strings of the todo() calls in `text`; a constant is looked up in `file` (the whole file's
 * text, when `text` is only a part of it).
 */
export function todoSteps(text: string, file = text): string[] {
  const steps: string[] = [];
  for (const call of text.matchAll(TODO_CALL)) {
    const value = STEP_VALUE.exec(call[1] ?? '');
    if (!value) continue;
    const literal = value[1] ?? value[2];
    const title = literal ?? constantValue(file, value[3] ?? '');
    if (title) steps.push(title);
  }
  return steps;
}

function constantValue(text: string, name: string): string | undefined {
  const match = new RegExp(`\\bconst\\s+${name}\\s*=\\s*(?:'([^']*)'|"([^"]*)")`).exec(text);
  return match ? (match[1] ?? match[2]) : undefined;
}

/** 'Step 2', 'Step 2 — keep a cart', 'README Step 2' → 2. */
export function stepNumber(step: string): number | undefined {
  const match = /\bStep (\d+)/.exec(step);
  return match ? Number(match[1]) : undefined;
}
