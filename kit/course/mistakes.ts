/**
 * The course's wrong solutions: the mistakes learners really make, kept as data beside each reference
 * solution (solutions/NN-slug/mistakes/*.md), so that `npm run verify` can prove the specs catch every
 * one of them. A spec that a wrong solution passes grades it as right: that is a bug of the course.
 *
 * One file per mistake, applied alone to the reference solution:
 *
 *   # saveUninitialized: true
 *
 *   Every visitor gets a session, a cookie and a store entry before they put anything in a cart.
 *
 *   File: `src/app.ts`
 *   ```diff
 *        resave: false,
 *   -    saveUninitialized: false,
 *   +    saveUninitialized: true,
 *   ```
 *
 * The title says the mistake; the sentence under it says what it breaks. Each ```diff block is one
 * edit of the file named on the `File:` line above it: the lines marked ' ' and '-' must stand in the
 * solution exactly once, in that order, and are replaced by the lines marked ' ' and '+'. No line
 * numbers: an edit keeps applying while the solution moves around it, and stops applying (a verify
 * failure, never a silent skip) when the code it names has changed.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface Edit {
  /** The file, relative to the lesson folder (e.g. 'src/app.ts'). */
  file: string;
  find: string;
  replace: string;
}

export interface Mistake {
  /** The file name without .md, e.g. 'save-uninitialized'. */
  id: string;
  lesson: string;
  /** The mistake in a few words (the title). */
  title: string;
  /** What it breaks, in a sentence. */
  why: string;
  edits: Edit[];
}

export class MistakeError extends Error {
  override readonly name = 'MistakeError';
}

/** Every mistake kept for `lesson` (a folder name), in file-name order. */
export function lessonMistakes(root: string, lesson: string): Mistake[] {
  const dir = join(root, 'solutions', lesson, 'mistakes');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => name.endsWith('.md') && name !== 'README.md')
    .sort()
    .map((name) => parseMistake(lesson, basename(name, '.md'), readFileSync(join(dir, name), 'utf8')));
}

export function parseMistake(lesson: string, id: string, text: string): Mistake {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const where = `solutions/${lesson}/mistakes/${id}.md`;
  const title = lines
    .find((line) => line.startsWith('# '))
    ?.slice(2)
    .trim();
  if (!title) throw new MistakeError(`${where}: no "# title" line`);

  const why: string[] = [];
  const edits: Edit[] = [];
  let file: string | undefined;
  for (let i = lines.indexOf(`# ${title}`) + 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const named = /^File: `([^`]+)`\s*$/.exec(line);
    if (named) {
      file = named[1];
      continue;
    }
    if (line.startsWith('```diff')) {
      if (!file) throw new MistakeError(`${where}: a diff block with no "File: \`src/…\`" line above it`);
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i]?.startsWith('```'); i++) body.push(lines[i] ?? '');
      edits.push(edit(where, file, body));
      continue;
    }
    if (edits.length === 0 && !file && line.trim()) why.push(line.trim());
  }
  if (why.length === 0) throw new MistakeError(`${where}: say what the mistake breaks under the title`);
  if (edits.length === 0) throw new MistakeError(`${where}: no diff block`);
  return { id, lesson, title, why: why.join(' '), edits };
}

function edit(where: string, file: string, body: string[]): Edit {
  const find: string[] = [];
  const replace: string[] = [];
  for (const line of body) {
    const mark = line[0] ?? ' ';
    const rest = line.slice(1);
    if (mark === ' ') {
      find.push(rest);
      replace.push(rest);
    } else if (mark === '-') find.push(rest);
    else if (mark === '+') replace.push(rest);
    else
      throw new MistakeError(
        `${where}: a diff line must start with " ", "-" or "+": ${JSON.stringify(line)}`,
      );
  }
  if (find.join('\n') === replace.join('\n'))
    throw new MistakeError(`${where}: an edit that changes nothing`);
  return { file, find: find.join('\n'), replace: replace.join('\n') };
}

/**
 * `files` (path relative to the lesson folder → content) with the mistake applied. Throws when an
 * edit's lines are not in the file exactly once.
 */
export function applyMistake(mistake: Mistake, files: Map<string, string>): Map<string, string> {
  const result = new Map(files);
  for (const { file, find, replace } of mistake.edits) {
    const where = `solutions/${mistake.lesson}/mistakes/${mistake.id}.md`;
    const text = result.get(file);
    if (text === undefined) throw new MistakeError(`${where}: no file ${file} in the solution`);
    const at = text.indexOf(find);
    if (at < 0)
      throw new MistakeError(`${where}: its lines are no longer in ${file} (did the solution change?)`);
    if (text.indexOf(find, at + 1) >= 0)
      throw new MistakeError(`${where}: its lines stand more than once in ${file}: add a context line`);
    result.set(file, text.slice(0, at) + replace + text.slice(at + find.length));
  }
  return result;
}
