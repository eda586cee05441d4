/** Command line of `npm run grade` (see "Grading" in README.md). */
import { isAbsolute, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { COURSE_ROOT, GradeError } from './workspace';

export const USAGE = `Usage: npm run grade -- [options]

Grades lessons/*/src against this repo's specs; writes grade.json and an Allure report.

  --submission <dir>   grade another checkout (a learner's clone or unpacked zip): only its
                       lessons/*/src is used; specs, harness and config come from this repo
  --solutions          grade the reference solutions (should score 100%)
  --lessons <ids>      only these lessons, e.g. --lessons 01 or --lessons 01,03 (repeatable)
  --out <dir>          where grade.json, grade.log, allure-results/ and allure-report/ go
                       (default: this repo's root)
  --no-report          grade.json and the table only, no Allure report (faster)
  --timeout <seconds>  give up when the specs take longer (default: 900)
  -h, --help           this text

Exit code: 0 when it graded (failing tasks are normal), 2 when it could not grade.`;

export interface GradeOptions {
  help: boolean;
  submission?: string;
  solutions: boolean;
  lessons: string[];
  out: string;
  report: boolean;
  timeoutMs: number;
}

/** `npm run` starts scripts in the package root; relative paths mean the caller's directory. */
export function callerDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.INIT_CWD ?? process.cwd();
}

export function parseOptions(argv: string[], cwd = callerDir()): GradeOptions {
  let values: ReturnType<typeof parse>['values'];
  try {
    values = parse(argv).values;
  } catch (error) {
    throw new GradeError(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
  }
  if (values.submission !== undefined && values.solutions) {
    throw new GradeError('--submission and --solutions exclude each other');
  }
  const timeout = Number(values.timeout ?? '900');
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new GradeError(`--timeout ${values.timeout}: a number of seconds, e.g. --timeout 300`);
  }
  const at = (path: string) => (isAbsolute(path) ? path : resolve(cwd, path));
  return {
    help: values.help ?? false,
    submission: values.submission === undefined ? undefined : at(values.submission),
    solutions: values.solutions ?? false,
    lessons: (values.lessons ?? []).flatMap((list) => list.split(',')).filter(Boolean),
    out: values.out === undefined ? COURSE_ROOT : at(values.out),
    report: !(values['no-report'] ?? false),
    timeoutMs: timeout * 1000,
  };
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      submission: { type: 'string' },
      solutions: { type: 'boolean' },
      lessons: { type: 'string', multiple: true },
      out: { type: 'string' },
      'no-report': { type: 'boolean' },
      timeout: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
}
