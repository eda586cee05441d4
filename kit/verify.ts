/**
 * `npm run verify` — the one command that proves the course is sound (and what CI runs):
 *
 *   1. everything type-checks (tsc --noEmit) and lints (biome check);
 *   2. every spec passes against the reference solutions (COURSE_TARGET=solutions), and the kit's own
 *      specs pass;
 *   3. every lesson spec FAILS against the untouched starters, and fails the right way: with the
 *      starter's "Not implemented yet … README Step N" message, not a timeout or a stray TypeError.
 *
 * It prints a table per lesson and ends with one plain line, `N passed, M failed`, counting these
 * checks (one per tool, one per kit test, two per lesson test: solution and starter, and one per Jest
 * run: that it exited by itself, with nothing left open).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from './jest/target';

const JEST_TIMEOUT_MS = 5 * 60_000;

interface JestAssertion {
  fullName: string;
  status: 'passed' | 'failed' | 'pending' | 'todo' | 'skipped' | 'disabled';
  failureMessages: string[];
}
interface JestReport {
  testResults: Array<{ name: string; assertionResults: JestAssertion[]; message: string }>;
}

interface Check {
  group: string;
  name: string;
  ok: boolean;
  detail?: string;
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'course-verify-'));
  const checks: Check[] = [];
  try {
    checks.push(await tool('typecheck', 'tsc --noEmit', ['node_modules/.bin/tsc', '--noEmit', '-p', '.']));
    checks.push(await tool('lint', 'biome check', ['node_modules/.bin/biome', 'check', '.']));

    const solutions = await jest(scratch, 'solutions', []);
    const starters = await jest(scratch, 'lessons', ['lessons/']);
    checks.push(...solutionChecks(solutions), ...starterChecks(starters));
    checks.push(...[solutions, starters].map(exitsByItself));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  report(checks);
  const failed = checks.filter((check) => !check.ok).length;
  console.log(`${checks.length - failed} passed, ${failed} failed`);
  process.exitCode = failed === 0 ? 0 : 1;
}

/** Runs a command; its output is shown only when it fails. */
async function tool(group: string, name: string, argv: string[]): Promise<Check> {
  process.stdout.write(`• ${name} … `);
  const { code, output } = await run(argv, {}, JEST_TIMEOUT_MS);
  console.log(code === 0 ? 'ok' : 'FAILED');
  if (code !== 0) console.log(output);
  return { group, name, ok: code === 0 };
}

interface JestRun {
  target: 'solutions' | 'lessons';
  report?: JestReport;
  failure?: string;
  /** Jest finished its tests but could not exit: something (a server, a client, a process) was left open. */
  leftOpen?: boolean;
}

async function jest(scratch: string, target: 'solutions' | 'lessons', patterns: string[]): Promise<JestRun> {
  const outputFile = join(scratch, `${target}.json`);
  const label = target === 'solutions' ? 'specs against solutions/' : 'specs against the untouched starters';
  process.stdout.write(`• ${label} … `);
  const started = Date.now();
  const { code, output, timedOut, leftOpen } = await run(
    ['node_modules/.bin/jest', '--ci', '--json', `--outputFile=${outputFile}`, ...patterns],
    { COURSE_TARGET: target },
    JEST_TIMEOUT_MS,
  );
  console.log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  // The solutions run must be green: show Jest's own account of anything that is not.
  if (target === 'solutions' && code !== 0) console.log(output);
  if (timedOut)
    return { target, failure: `Jest did not finish within ${JEST_TIMEOUT_MS / 1000} s (open handles?)` };
  try {
    const report = JSON.parse(readFileSync(outputFile, 'utf8')) as JestReport;
    return { target, report, leftOpen };
  } catch {
    return { target, failure: `Jest wrote no report (exit code ${code}):\n${output.slice(-3000)}` };
  }
}

function exitsByItself(runResult: JestRun): Check {
  return {
    group: 'jest',
    name: `Jest exits by itself after the run against ${runResult.target} (nothing left open)`,
    ok: Boolean(runResult.report) && !runResult.leftOpen,
    detail: runResult.leftOpen
      ? 'Jest did not exit one second after the test run: run it with --detectOpenHandles.'
      : undefined,
  };
}

function groupOf(file: string): string {
  const path = relative(ROOT, file);
  return path.match(/^lessons\/([^/]+)\//)?.[1] ?? 'kit';
}

function solutionChecks(runResult: JestRun): Check[] {
  if (!runResult.report)
    return [{ group: 'solutions', name: 'Jest run', ok: false, detail: runResult.failure }];
  return runResult.report.testResults.flatMap((file) => {
    const group = groupOf(file.name);
    if (file.assertionResults.length === 0) {
      return [
        { group, name: `${relative(ROOT, file.name)} (could not run)`, ok: false, detail: file.message },
      ];
    }
    return file.assertionResults.map((test) => ({
      group,
      name: group === 'kit' ? `kit: ${test.fullName}` : `solution passes: ${test.fullName}`,
      ok: test.status === 'passed',
      detail: test.failureMessages.join('\n'),
    }));
  });
}

function starterChecks(runResult: JestRun): Check[] {
  if (!runResult.report)
    return [{ group: 'starters', name: 'Jest run', ok: false, detail: runResult.failure }];
  return runResult.report.testResults.flatMap((file) =>
    file.assertionResults.map((test) => {
      const message = test.failureMessages.join('\n');
      const clear = test.status === 'failed' && message.includes('Not implemented yet (lesson');
      return {
        group: groupOf(file.name),
        name: `starter fails clearly: ${test.fullName}`,
        ok: clear,
        detail:
          test.status === 'failed'
            ? `failed without the starter's "Not implemented yet" message:\n${message.slice(0, 1500)}`
            : `${test.status} on the untouched starter: this test teaches nothing`,
      };
    }),
  );
}

function report(checks: Check[]): void {
  const lessons = [...new Set(checks.map((check) => check.group))].filter((group) => /^\d\d-/.test(group));
  console.log('\nlesson                  tests  solution passes  starter fails clearly');
  for (const lessonId of lessons.sort()) {
    const mine = checks.filter((check) => check.group === lessonId);
    const solution = mine.filter((check) => check.name.startsWith('solution passes'));
    const starter = mine.filter((check) => check.name.startsWith('starter fails'));
    const cell = (list: Check[]) => `${list.filter((check) => check.ok).length}/${list.length}`;
    console.log(
      `${lessonId.padEnd(24)}${String(solution.length).padStart(5)}  ${cell(solution).padStart(15)}  ${cell(starter).padStart(21)}`,
    );
  }
  const kit = checks.filter((check) => check.group === 'kit');
  if (kit.length)
    console.log(
      `${'kit (harness, grading)'.padEnd(24)}${String(kit.length).padStart(5)}  ${`${kit.filter((c) => c.ok).length}/${kit.length}`.padStart(15)}`,
    );

  const broken = checks.filter((check) => !check.ok);
  if (broken.length) {
    console.log('\nBreaches:');
    for (const check of broken) {
      console.log(`✗ [${check.group}] ${check.name}`);
      if (check.detail) console.log(check.detail.replace(/^/gm, '    ').slice(0, 2000));
    }
  }
  console.log('');
}

function run(
  argv: string[],
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; output: string; timedOut: boolean; leftOpen: boolean }> {
  return new Promise((resolve) => {
    const [command, ...args] = argv;
    const child = spawn(command ?? '', args, {
      cwd: ROOT,
      env: { ...process.env, ...env, FORCE_COLOR: '0' },
    });
    let output = '';
    let timedOut = false;
    let leftOpen = false;
    const collect = (chunk: Buffer) => {
      output += chunk;
      // Jest's own words when a server, client or process was left open: it would wait for ever.
      if (!leftOpen && output.includes('Jest did not exit one second after the test run has completed')) {
        leftOpen = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, timedOut, leftOpen });
    });
  });
}

void main();
