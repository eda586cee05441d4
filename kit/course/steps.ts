/**
 * A lesson's code as a learner has it after README Steps 1..N: for `npm run verify`, which proves that
 * each step, once done, turns its own tasks green and leaves the next step's failing (steps unlock in
 * order), and for the mistakes (kit/course/mistakes.ts), which apply to the whole solution.
 *
 * Built from the two sources the course already has, nothing kept per step:
 * - a *learner function* is a top-level function of a starter file that names a README step: the step
 *   of the todo() it calls, or of a `TODO (Step N)` comment inside it. Every other declaration of a
 *   starter file is given, and stays as it is;
 * - "Steps 1..N done" is the starter with each learner function of Steps ≤ N replaced by the
 *   solution's function of the same name, plus what those functions need from the solution file: its
 *   imports (merged with the starter's, a value import winning over a type-only one) and its
 *   declarations the starter does not have (helpers, constants).
 * A file whose learner functions are all done is the solution file itself; one with none done stays
 * the starter file.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { stepNumber, todoSteps } from './unfinished';

/** Path relative to the lesson folder (e.g. 'src/app.ts') → content. */
export type LessonFiles = Map<string, string>;

export class StepsError extends Error {
  override readonly name = 'StepsError';
}

/** The starter's src files of a lesson. */
export function starterFiles(root: string, lesson: string): LessonFiles {
  return readSrc(join(root, 'lessons', lesson, 'src'));
}

/** The finished lesson: the starter's src with the solution's files laid over it. */
export function solutionFiles(root: string, lesson: string): LessonFiles {
  const files = starterFiles(root, lesson);
  for (const [path, text] of readSrc(join(root, 'solutions', lesson, 'src'))) files.set(path, text);
  return files;
}

function readSrc(dir: string): LessonFiles {
  const files: LessonFiles = new Map();
  if (!existsSync(dir)) return files;
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const path = join(dir, name);
    if (statSync(path).isFile()) files.set(`src/${name.split('\\').join('/')}`, readFileSync(path, 'utf8'));
  }
  return files;
}

/** The README steps that have learner functions in the starter, in order (e.g. [1, 2, 3]). */
export function starterSteps(root: string, lesson: string): number[] {
  const steps = new Set<number>();
  for (const [path, text] of starterFiles(root, lesson)) {
    if (!path.endsWith('.ts')) continue;
    for (const fn of learnerFunctions(parse(path, text))) steps.add(fn.step);
  }
  return [...steps].sort((a, b) => a - b);
}

/** The lesson's src with Steps 1..`done` done, the rest as the starter has it. */
export function filesWithStepsDone(root: string, lesson: string, done: number): LessonFiles {
  const starter = starterFiles(root, lesson);
  const solution = solutionFiles(root, lesson);
  const result: LessonFiles = new Map(starter);
  for (const [path, text] of starter) {
    const finished = solution.get(path) ?? text;
    if (!path.endsWith('.ts') || finished === text) continue;
    const where = join(root, 'lessons', lesson, path);
    result.set(path, withStepsDone(where, text, finished, done));
  }
  return result;
}

/**
 * One file with Steps ≤ `done` done. `where` is the file's path in the lesson folder, for resolving
 * relative imports (the solution file sits at the same depth, so its imports mean the same there).
 */
export function withStepsDone(
  where: string,
  starterText: string,
  solutionText: string,
  done: number,
): string {
  const starter = parse(where, starterText);
  const solution = parse(where, solutionText);
  const learner = learnerFunctions(starter);
  if (learner.length === 0) return starterText;
  if (learner.every((fn) => fn.step <= done)) return solutionText;
  if (learner.every((fn) => fn.step > done)) return starterText;

  const solutionFunctions = new Map<string, ts.FunctionDeclaration>();
  for (const statement of solution.statements) {
    if (ts.isFunctionDeclaration(statement) && statement.name)
      solutionFunctions.set(statement.name.text, statement);
  }
  const edits: Array<{ start: number; end: number; text: string }> = [];
  for (const fn of learner) {
    if (fn.step > done) continue;
    const finished = solutionFunctions.get(fn.name);
    if (!finished)
      throw new StepsError(`${where}: the solution has no function ${fn.name} (Step ${fn.step})`);
    edits.push({ start: fn.node.getStart(), end: fn.node.getEnd(), text: finished.getText() });
  }

  const starterNames = declaredNames(starter);
  const learnerNames = new Set(learner.map((fn) => fn.name));
  const additions: string[] = [];
  const addedFunctions: string[] = [];
  const starterExports = exportedNames(starter);
  for (const statement of solution.statements) {
    if (ts.isImportDeclaration(statement)) continue;
    if (ts.isExportDeclaration(statement)) {
      const extra = exportsNotIn(statement, starterExports);
      if (extra) additions.push(extra);
      continue;
    }
    const names = statementNames(statement);
    if (names.length === 0 || names.some((name) => starterNames.has(name) || learnerNames.has(name)))
      continue;
    (ts.isFunctionDeclaration(statement) ? addedFunctions : additions).push(statement.getText());
  }

  const imports = starter.statements.filter(ts.isImportDeclaration);
  const merged = mergeImports(dirname(where), [
    ...imports,
    ...solution.statements.filter(ts.isImportDeclaration),
  ]);
  imports.forEach((declaration, index) => {
    const end =
      starterText[declaration.getEnd()] === '\n' && index > 0
        ? declaration.getEnd() + 1
        : declaration.getEnd();
    edits.push({
      start: declaration.getStart(),
      end,
      text: index === 0 ? [merged, ...additions].join('\n') : '',
    });
  });

  let text = starterText;
  for (const { start, end, text: replacement } of edits.sort((a, b) => b.start - a.start)) {
    text = text.slice(0, start) + replacement + text.slice(end);
  }
  return addedFunctions.length ? `${text.trimEnd()}\n\n${addedFunctions.join('\n\n')}\n` : text;
}

function parse(fileName: string, text: string): ts.SourceFile {
  return ts.createSourceFile(fileName, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
}

interface LearnerFunction {
  name: string;
  step: number;
  node: ts.FunctionDeclaration;
}

/** The top-level functions of a starter file that a README step asks the learner to write. */
export function learnerFunctions(file: ts.SourceFile): LearnerFunction[] {
  const found: LearnerFunction[] = [];
  for (const statement of file.statements) {
    if (!ts.isFunctionDeclaration(statement) || !statement.name) continue;
    const body = statement.getText();
    const marked = todoSteps(body, file.text)[0] ?? /\bTODO \((Step \d+)\)/.exec(body)?.[1];
    const step = marked === undefined ? undefined : stepNumber(marked);
    if (step !== undefined) found.push({ name: statement.name.text, step, node: statement });
  }
  return found;
}

/** Names a top-level statement declares ('module:x' for `declare module 'x'`). */
function statementNames(statement: ts.Statement): string[] {
  if (
    (ts.isFunctionDeclaration(statement) ||
      ts.isClassDeclaration(statement) ||
      ts.isInterfaceDeclaration(statement) ||
      ts.isTypeAliasDeclaration(statement) ||
      ts.isEnumDeclaration(statement)) &&
    statement.name
  ) {
    return [statement.name.text];
  }
  if (ts.isVariableStatement(statement)) {
    return statement.declarationList.declarations.flatMap((declaration) =>
      ts.isIdentifier(declaration.name) ? [declaration.name.text] : [],
    );
  }
  if (ts.isModuleDeclaration(statement)) return [`module:${statement.name.text}`];
  return [];
}

/** Every name a file binds at the top level: its declarations and its imports. */
function declaredNames(file: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  for (const statement of file.statements) {
    for (const name of statementNames(statement)) names.add(name);
    if (ts.isImportDeclaration(statement)) {
      for (const binding of importBindings(statement)) names.add(binding.local);
    }
  }
  return names;
}

function exportedNames(file: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  for (const statement of file.statements) {
    if (
      ts.isExportDeclaration(statement) &&
      statement.exportClause &&
      ts.isNamedExports(statement.exportClause)
    ) {
      for (const element of statement.exportClause.elements) names.add(element.name.text);
    }
    const modifiers = ts.canHaveModifiers(statement) ? ts.getModifiers(statement) : undefined;
    if (modifiers?.some((modifier) => modifier.kind === ts.SyntaxKind.ExportKeyword)) {
      for (const name of statementNames(statement)) names.add(name);
    }
  }
  return names;
}

/** The part of a solution's `export { … } [from '…']` that the starter does not export already. */
function exportsNotIn(statement: ts.ExportDeclaration, exported: Set<string>): string | undefined {
  if (!statement.exportClause || !ts.isNamedExports(statement.exportClause)) return undefined;
  const elements = statement.exportClause.elements.filter((element) => !exported.has(element.name.text));
  if (elements.length === 0) return undefined;
  const list = elements
    .map(
      (element) =>
        `${element.isTypeOnly ? 'type ' : ''}${element.propertyName ? `${element.propertyName.text} as ` : ''}${element.name.text}`,
    )
    .join(', ');
  const from =
    statement.moduleSpecifier && ts.isStringLiteral(statement.moduleSpecifier)
      ? ` from '${statement.moduleSpecifier.text}'`
      : '';
  return `export ${statement.isTypeOnly ? 'type ' : ''}{ ${list} }${from};`;
}

interface Binding {
  kind: 'default' | 'namespace' | 'named';
  /** The exported name (named imports), else the local one. */
  imported: string;
  local: string;
  typeOnly: boolean;
}

function importBindings(declaration: ts.ImportDeclaration): Binding[] {
  const clause = declaration.importClause;
  if (!clause) return [];
  const allTypes = clause.isTypeOnly;
  const bindings: Binding[] = [];
  if (clause.name) {
    bindings.push({
      kind: 'default',
      imported: clause.name.text,
      local: clause.name.text,
      typeOnly: allTypes,
    });
  }
  const named = clause.namedBindings;
  if (named && ts.isNamespaceImport(named)) {
    bindings.push({
      kind: 'namespace',
      imported: named.name.text,
      local: named.name.text,
      typeOnly: allTypes,
    });
  } else if (named) {
    for (const element of named.elements) {
      bindings.push({
        kind: 'named',
        imported: (element.propertyName ?? element.name).text,
        local: element.name.text,
        typeOnly: allTypes || element.isTypeOnly,
      });
    }
  }
  return bindings;
}

/**
 * One import block for both files' imports: a module imported by both (however each spells its
 * path) is imported once, each name once, as a value if either file uses it as one.
 */
function mergeImports(dir: string, declarations: ts.ImportDeclaration[]): string {
  const modules = new Map<string, { specifier: string; bindings: Map<string, Binding>; bare: boolean }>();
  for (const declaration of declarations) {
    if (!ts.isStringLiteral(declaration.moduleSpecifier)) continue;
    const specifier = declaration.moduleSpecifier.text;
    const key = specifier.startsWith('.') ? resolve(dir, specifier).replace(/\.(ts|js)$/, '') : specifier;
    const entry = modules.get(key) ?? { specifier, bindings: new Map(), bare: false };
    modules.set(key, entry);
    const bindings = importBindings(declaration);
    if (bindings.length === 0) entry.bare = true;
    for (const binding of bindings) {
      const id = `${binding.kind}:${binding.local}`;
      const known = entry.bindings.get(id);
      entry.bindings.set(id, known ? { ...known, typeOnly: known.typeOnly && binding.typeOnly } : binding);
    }
  }
  const lines: string[] = [];
  for (const { specifier, bindings, bare } of modules.values()) {
    const all = [...bindings.values()];
    const defaults = all.filter((b) => b.kind === 'default');
    const namespaces = all.filter((b) => b.kind === 'namespace');
    const named = all.filter((b) => b.kind === 'named');
    if (bare && all.length === 0) lines.push(`import '${specifier}';`);
    for (const b of namespaces)
      lines.push(`import ${b.typeOnly ? 'type ' : ''}* as ${b.local} from '${specifier}';`);
    const list = named
      .map(
        (b) => `${b.typeOnly ? 'type ' : ''}${b.imported !== b.local ? `${b.imported} as ` : ''}${b.local}`,
      )
      .join(', ');
    const valueDefault = defaults.find((b) => !b.typeOnly);
    for (const b of defaults.filter((d) => d !== valueDefault))
      lines.push(`import type ${b.local} from '${specifier}';`);
    if (valueDefault)
      lines.push(`import ${valueDefault.local}${list ? `, { ${list} }` : ''} from '${specifier}';`);
    else if (list) lines.push(`import { ${list} } from '${specifier}';`);
  }
  return lines.join('\n');
}
