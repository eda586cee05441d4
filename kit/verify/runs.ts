/**
 * Jest runs for `npm run verify`: each in its own process group (so a stop takes every server process
 * and redis-server it started with it), its results read as they come (kit/verify/stream-reporter.cjs),
 * bounded in time, optionally stopped at the first failing test.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';

const JEST = require.resolve('jest/bin/jest');
const STREAM_REPORTER = join(__dirname, 'stream-reporter.cjs');
const PREFIX = '@@course ';

export interface TestEvent {
  file: string;
  fullName: string;
  status: 'passed' | 'failed' | 'pending' | 'todo' | 'skipped' | 'disabled' | 'focused';
  failureMessages: string[];
  /** ms, as Jest measured it. */
  duration?: number;
}

export interface JestRun {
  tests: TestEvent[];
  /** Spec files that did not even load (a syntax error, a missing export), with Jest's message. */
  fileErrors: Array<{ file: string; message: string }>;
  /** Jest reported the end of the run (false when it was stopped, timed out or crashed). */
  completed: boolean;
  /** Stopped on purpose at the first failing test. */
  stoppedEarly: boolean;
  timedOut: boolean;
  /** Jest finished its tests but could not exit: something (a server, a client, a process) was left open. */
  leftOpen: boolean;
  exitCode: number | null;
  /** The end of what Jest printed besides the results, for a breach's detail. */
  outputTail: string;
  seconds: number;
  /** From the start of the Jest process to its first spec file starting: Jest's own start-up. */
  startupSeconds?: number;
  /** When each spec file started and finished (ms since the epoch), by absolute path. */
  fileTimes: Map<string, { started: number; ended?: number }>;
}

export interface RunOptions {
  /** The course tree to run in (this checkout, or a scratch tree). */
  cwd: string;
  /** Regexes for --testPathPatterns (empty: every project's specs). */
  patterns: string[];
  env?: Record<string, string>;
  stopAtFirstFailure?: boolean;
  /** Another Jest config than the tree's jest.config.ts (verify's batches: kit/verify/batch.ts). */
  config?: string;
  /** Exactly these spec files (absolute paths), instead of `patterns`. */
  paths?: string[];
  maxWorkers?: number;
  timeoutMs: number;
}

export function runJest(options: RunOptions): Promise<JestRun> {
  const started = Date.now();
  const args = [
    JEST,
    '--config',
    options.config ?? join(options.cwd, 'jest.config.ts'),
    '--ci',
    `--reporters=${STREAM_REPORTER}`,
    ...(options.maxWorkers ? [`--maxWorkers=${options.maxWorkers}`] : []),
    ...(options.paths ? ['--runTestsByPath', ...options.paths] : []),
    ...(!options.paths && options.patterns.length ? ['--testPathPatterns', ...options.patterns] : []),
  ];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: {
        ...cleanEnv(),
        ...options.env,
        FORCE_COLOR: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const run: JestRun = {
      tests: [],
      fileErrors: [],
      completed: false,
      stoppedEarly: false,
      timedOut: false,
      leftOpen: false,
      exitCode: null,
      outputTail: '',
      seconds: 0,
      fileTimes: new Map(),
    };
    const stop = () => {
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    };
    let pending = '';
    child.stdout.on('data', (chunk: Buffer) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        if (!line.startsWith(PREFIX)) {
          keepTail(run, line);
          continue;
        }
        const event = JSON.parse(line.slice(PREFIX.length));
        if (event.kind === 'test') {
          run.tests.push(event as TestEvent);
          if (options.stopAtFirstFailure && event.status === 'failed' && !run.stoppedEarly) {
            run.stoppedEarly = true;
            stop();
          }
        } else if (event.kind === 'file-error') {
          run.fileErrors.push({ file: event.file, message: event.message });
          if (options.stopAtFirstFailure && !run.stoppedEarly) {
            run.stoppedEarly = true;
            stop();
          }
        } else if (event.kind === 'file-start') {
          run.startupSeconds ??= (event.t - started) / 1000;
          run.fileTimes.set(event.file, { started: event.t });
        } else if (event.kind === 'file-done') {
          const times = run.fileTimes.get(event.file);
          if (times) times.ended = event.t;
        } else if (event.kind === 'done') run.completed = true;
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      const text = chunk.toString();
      for (const line of text.split('\n')) keepTail(run, line);
      // Jest's own words when a server, client or process was left open: it would wait for ever.
      if (text.includes('Jest did not exit one second after the test run has completed')) {
        run.leftOpen = true;
        stop();
      }
    });
    const timer = setTimeout(() => {
      run.timedOut = true;
      stop();
    }, options.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      // The process group: anything the run started that outlived Jest goes with it.
      stop();
      run.exitCode = code;
      run.seconds = (Date.now() - started) / 1000;
      resolve(run);
    });
  });
}

function keepTail(run: JestRun, line: string): void {
  if (!line.trim()) return;
  run.outputTail = `${run.outputTail}\n${line}`.slice(-4000);
}

/** This environment minus what a surrounding course run set (COURSE_TARGET=solutions…). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(COURSE_|ALLURE_|JEST_)/.test(key)) delete env[key];
  }
  return env;
}

/** Runs `jobs` with at most `concurrency` at once; results in the order of `jobs`. */
export async function inPool<T>(jobs: Array<() => Promise<T>>, concurrency: number): Promise<T[]> {
  const results: T[] = new Array(jobs.length);
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const index = next++;
      const job = jobs[index];
      if (job) results[index] = await job();
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, jobs.length) }, worker));
  return results;
}
