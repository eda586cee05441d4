/**
 * A lesson's hints, in levels, kept as data beside the lesson (lessons/NN-slug/hints.md) and shown one
 * level at a time by `npm run course -- hint <lesson> [step]`:
 *
 *   # Hints — lesson 01
 *
 *   ## Step 1 — give every visitor a session
 *
 *   ### Level 1 — the idea
 *   What to think about, in words: no API names.
 *
 *   ### Level 2 — what to look up
 *   The API, the option names, the docs to read (links).
 *
 *   ### Level 3 — a sketch
 *   A code sketch: the shape of the answer, not a file to paste.
 *
 * Every README step that has code to write has all three levels; a level may hold several paragraphs
 * and code blocks. Anything before the first "## Step" is an introduction, not shown by the CLI.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StepHints {
  step: number;
  /** The heading, e.g. 'Step 1 — give every visitor a session'. */
  title: string;
  /** Level 1, 2, 3… in order: the markdown under each "### Level N" heading. */
  levels: Array<{ level: number; title: string; text: string }>;
}

export class HintsError extends Error {
  override readonly name = 'HintsError';
}

export function hintsFile(root: string, lesson: string): string {
  return join(root, 'lessons', lesson, 'hints.md');
}

export function lessonHints(root: string, lesson: string): StepHints[] {
  const file = hintsFile(root, lesson);
  if (!existsSync(file)) return [];
  return parseHints(readFileSync(file, 'utf8'), `lessons/${lesson}/hints.md`);
}

export function parseHints(text: string, where = 'hints.md'): StepHints[] {
  const steps: StepHints[] = [];
  let current: StepHints | undefined;
  let level: StepHints['levels'][number] | undefined;
  let inCode = false;
  for (const line of text.replace(/\r\n/g, '\n').split('\n')) {
    if (line.startsWith('```')) inCode = !inCode;
    const stepHeading = !inCode && /^## (Step (\d+)\b.*)$/.exec(line);
    const levelHeading = !inCode && /^### (Level (\d+)\b.*)$/.exec(line);
    if (stepHeading) {
      current = { step: Number(stepHeading[2]), title: stepHeading[1]?.trim() ?? '', levels: [] };
      steps.push(current);
      level = undefined;
    } else if (levelHeading) {
      if (!current) throw new HintsError(`${where}: "${line}" comes before any "## Step N" heading`);
      level = { level: Number(levelHeading[2]), title: levelHeading[1]?.trim() ?? '', text: '' };
      current.levels.push(level);
    } else if (level) {
      level.text += `${line}\n`;
    }
  }
  for (const step of steps) {
    step.levels.forEach((entry, index) => {
      entry.text = entry.text.trim();
      if (entry.level !== index + 1)
        throw new HintsError(`${where}: ${step.title} has "${entry.title}" where Level ${index + 1} belongs`);
      if (!entry.text) throw new HintsError(`${where}: ${step.title}, ${entry.title} is empty`);
    });
  }
  return steps;
}

/** Problems with a lesson's hints: every step in `steps` needs levels 1 to 3. */
export function hintProblems(root: string, lesson: string, steps: number[]): string[] {
  let hints: StepHints[];
  try {
    hints = lessonHints(root, lesson);
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)];
  }
  if (!existsSync(hintsFile(root, lesson))) return [`lessons/${lesson}/hints.md is missing`];
  return steps.flatMap((step) => {
    const found = hints.find((entry) => entry.step === step);
    if (!found) return [`lessons/${lesson}/hints.md has no "## Step ${step}" section`];
    return found.levels.length >= 3
      ? []
      : [`lessons/${lesson}/hints.md: Step ${step} has ${found.levels.length} of 3 levels`];
  });
}
