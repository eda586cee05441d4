/**
 * Real server processes for specs: spawn a lesson's entry point as ONE OS process
 * (`node bundle.js`, the entry compiled by esbuild; never the tsx wrapper, whose child would survive a
 * SIGKILL), wait until it answers GET /health (a real condition, bounded; never a fixed sleep), and
 * kill whatever is left after the file, even when a test failed or timed out.
 *
 *   const servers = useServerProcesses();
 *   const server = await servers.start({ lesson: '02-crash', entry: 'server.ts', env: { ENABLE_CHAOS: '1' } });
 *   await request(server.url).get('/cart');
 *   const exit = await server.exitWithin(5_000); // { code: 1, signal: null } after a crash; undefined if still up
 *   const { exit, output } = await servers.runToExit({ lesson: '05-production', entry: 'server.ts', withinMs: 10_000 });
 *                                                // a process meant to stop by itself (a refused start)
 *
 * No orphans: afterAll SIGKILLs what is left of the file's processes (and refuses to start new ones),
 * the worker's 'exit' kills any survivor, and each child watches its stdin, a pipe from this process:
 * when this process dies without cleaning up (SIGKILL, a crash), the pipe closes and the child kills
 * itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { lessonSrcDir, ROOT } from '../jest/target';
import { recordTiming } from '../timings';
import { NotImplementedError, recordTodo } from '../todo';
import { vendorBundle, writeAtomically } from '../vendor';
import { headStartsWanted, ownCopy } from './wait';

/** Tasks that wait for real processes to start get more than Jest's default 5 s. */
export const PROCESS_TIMEOUT_MS = 30_000;

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Settles when the process has exited and its output has been read to the end. */
  readonly exited: Promise<Exit>;
  /** Everything it printed so far (stdout and stderr), for assertions and failure messages. */
  output(): string;
  /** Sends a signal (default SIGTERM) at once, and resolves with the exit. */
  kill(signal?: NodeJS.Signals): Promise<Exit>;
  /** The exit, if it happens within `ms`; undefined if the process is still running then. */
  exitWithin(ms: number): Promise<Exit | undefined>;
  /** Resolves with the first match once the output matches `pattern`; undefined after `ms` without one. */
  waitForOutput(pattern: RegExp, ms: number): Promise<RegExpMatchArray | undefined>;
}

export interface StartOptions {
  /** Lesson folder, e.g. '02-crash'. The entry runs from that lesson's src (or its solution). */
  lesson: string;
  /**
   * Run the *finished* lesson (its solution over its starter, from .solved/) whatever the target:
   * for a later lesson that needs an earlier lesson's server working, e.g. lesson 04's backends.
   */
  finished?: boolean;
  /** File in the lesson's src, e.g. 'server.ts'. */
  entry: string;
  /** Extra environment. PORT and SERVER_ID are set for you unless given here. */
  env?: Record<string, string>;
  /**
   * Variables of this process's environment the child must not inherit (unless `env` sets them): for
   * a run whose configuration must be exactly `env`, whatever your shell exports.
   */
  unset?: readonly string[];
  /** Reuse a port (a restart "on the same machine"); a free one otherwise. It must be free by now. */
  port?: number;
  /** How long to wait for GET /health to answer 200. */
  readyTimeoutMs?: number;
  /**
   * Tell the spec helper about every "Not implemented yet" the process prints, as it prints it
   * (default true): a task that fails while it runs then names the README step. Pass false for
   * processes that run beside other tasks (started in the background and shared): their messages
   * would be blamed on whichever task is running. Call throwIfNotImplemented(server.output()) in the
   * tasks that depend on them instead.
   */
  recordTodos?: boolean;
}

/** A process expected to stop by itself: no /health to wait for, and at most `withinMs` to exit. */
export interface RunOptions extends Omit<StartOptions, 'readyTimeoutMs'> {
  withinMs: number;
}

export interface Run {
  /** How it exited; undefined if it was still running after `withinMs` (it is SIGKILLed then). */
  exit: Exit | undefined;
  /** Everything it printed (stdout and stderr). */
  output: string;
}

export function useServerProcesses() {
  const processes = serverProcesses();
  afterAll(() => processes.stopAll());
  return { start: processes.start, runToExit: processes.runToExit };
}

/** The same without Jest: start processes, and stopAll() when done (the live demo uses it). */
export function serverProcesses() {
  const pool: Pool = { running: new Set(), finished: false };
  return {
    start: (options: StartOptions): Promise<ServerProcess> => startServerProcess(options, pool),
    /**
     * Runs the entry until it exits by itself, for at most `withinMs`, then SIGKILLs it: for a start
     * that is meant to fail (a bad configuration), which never answers the /health that start() waits for.
     */
    async runToExit(options: RunOptions): Promise<Run> {
      const run = await spawnProcess(options, pool);
      const exit = await run.exitWithin(options.withinMs);
      if (!exit) await run.kill('SIGKILL');
      return { exit, output: run.output() };
    },
    async stopAll(): Promise<void> {
      pool.finished = true;
      await Promise.all([...pool.running].map((server) => server.kill('SIGKILL')));
    },
  };
}

interface Pool {
  running: Set<ServerProcess>;
  /** Set by afterAll: a start still pending then (a test that timed out) must not leave a process. */
  finished: boolean;
}

/** Survivors of a worker that exits (even abruptly, through process.exit) still get a SIGKILL. */
const everyChild = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of everyChild) child.kill('SIGKILL');
});

/**
 * Preloaded in every child (here and in kit/drill/throughput.ts): when stdin (a pipe from this
 * process) ends, this process is gone, so the child kills itself. unref(): the watch alone never
 * keeps the child alive. Written once, where the server bundles are. A CommonJS file for
 * `--require`: `--import` of a data: URL starts Node's ES module loader in every child (≈30 ms CPU
 * more a start, `/usr/bin/time node --import … -e …`, 2-core machine).
 */
let watchParent: string | undefined;
export function watchParentFile(): string {
  if (watchParent) return watchParent;
  const code =
    "process.stdin.on('end', () => process.kill(process.pid, 'SIGKILL')).on('error', () => {}).resume().unref();\n";
  const file = join(
    BUNDLES,
    `watch-parent-${createHash('sha1').update(code).digest('hex').slice(0, 12)}.cjs`,
  );
  if (!existsSync(file)) writeAtomically(file, code);
  watchParent = file;
  return file;
}

const TODO_IN_OUTPUT = /Not implemented yet \(lesson [^)]+\): [^\n]+/g;

/** What a server process runs: the bundle, and the preload that hands it its packages (if any). */
interface Bundle {
  bundle: string;
  preload?: string;
}

/**
 * The entry and the lesson code it imports, compiled into one JavaScript file (packages stay
 * external). Starting that with plain `node` takes about half the time of `node --import tsx entry.ts`
 * (≈0.5 s vs ≈1 s to a healthy /health on these 2-core machines, measured with a curl poll), and a
 * spec file starts several servers. Source maps keep stack traces pointing at the .ts files. The file
 * is named by its content: concurrent starts share it, and a child never reads one half-written.
 *
 * The packages it requires come from one more bundle (`vendorPreload`), built once for all lessons.
 */
function bundleEntry(entry: string, where: string): Bundle {
  const known = cachedBundle(entry);
  if (known) return known;
  let result: ReturnType<typeof buildSync>;
  try {
    result = buildSync({
      entryPoints: [entry],
      bundle: true,
      platform: 'node',
      packages: 'external',
      format: 'cjs',
      target: 'node20',
      sourcemap: 'inline',
      write: false,
      metafile: true,
      absWorkingDir: ROOT,
      logLevel: 'silent',
    });
  } catch (error) {
    // A syntax error in the learner's code: say where, as the compiler does, without our stack.
    const errors = (error as { errors?: Array<{ text: string; location?: { file: string; line: number } }> })
      .errors;
    const lines = errors?.map(
      (e) => `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`,
    );
    throw new Error(`${where} does not compile:\n${indent(lines?.join('\n') ?? String(error))}`);
  }
  const code = result.outputFiles?.[0]?.contents ?? new Uint8Array();
  const file = join(BUNDLES, `${createHash('sha1').update(code).digest('hex')}.js`);
  writeAtomically(file, code);
  const packages = Object.values(result.metafile?.outputs ?? {}).flatMap((output) =>
    output.imports
      .filter((imported) => imported.external && !isBuiltin(imported.path))
      .map((imported) => imported.path),
  );
  const built: Bundle = { bundle: file, preload: vendorPreload(packages) };
  const inputs = Object.keys(result.metafile?.inputs ?? {}).map((input) => join(ROOT, input));
  writeAtomically(
    indexFile(entry),
    JSON.stringify({ ...built, inputs: Object.fromEntries(inputs.map((input) => [input, hashOf(input)])) }),
  );
  return built;
}

/**
 * express, express-session, node-redis… loaded from node_modules are hundreds of small files: about a
 * third of a server's start-up CPU. Bundled into one file (kit/vendor.ts; no source map: not the
 * learner's code) they load in a fraction of that (a lesson 06 server: ≈0.52 → ≈0.34 CPU-s to a
 * healthy /health, median of 6 starts each, 2-core machine). The preload makes `require('express')`
 * in the lesson's bundle return the vendor bundle's express.
 */
function vendorPreload(packages: string[]): string | undefined {
  return vendorBundle(packages)?.preload;
}

/**
 * The bundle built last time for `entry`, if every file that went into it is unchanged: a warm run
 * starts its servers without building anything (esbuild takes 30–100 ms a build here).
 */
function cachedBundle(entry: string): Bundle | undefined {
  try {
    const index = JSON.parse(readFileSync(indexFile(entry), 'utf8')) as Bundle & {
      inputs: Record<string, string>;
    };
    if (!existsSync(index.bundle) || (index.preload && !existsSync(index.preload))) return undefined;
    const unchanged = Object.entries(index.inputs).every(([input, hash]) => hashOf(input) === hash);
    return unchanged ? { bundle: index.bundle, preload: index.preload } : undefined;
  } catch {
    return undefined; // no index yet, or a file that went into it is gone
  }
}

function indexFile(entry: string): string {
  return join(BUNDLES, 'index-v2', `${createHash('sha1').update(entry).digest('hex')}.json`);
}

function hashOf(file: string): string {
  return createHash('sha1').update(readFileSync(file)).digest('hex');
}

const BUNDLES = join(ROOT, 'node_modules', '.cache', 'course-servers');

async function startServerProcess(options: StartOptions, pool: Pool): Promise<ServerProcess> {
  const started = performance.now();
  const server = await spawnProcess(options, pool);
  const ready = await waitForHealth(server, options.readyTimeoutMs ?? 10_000);
  if (ready.ok) recordTiming('process-start', performance.now() - started, whereIs(options));
  if (!ready.ok) {
    await server.kill('SIGKILL');
    // A starter that stopped at a todo(): throw that, so the spec helper names the README step even
    // when this start ran outside the task that awaits it.
    throwIfNotImplemented(server.output());
    throw new Error(
      `${whereIs(options)} did not become ready on port ${server.port}: ${ready.reason}.\n` +
        `Its output:\n${indent(server.output().trim() || '(nothing)')}`,
    );
  }
  return server;
}

function whereIs(options: StartOptions): string {
  return `lessons/${options.lesson}/src/${options.entry}`;
}

/** The process, running (it may not listen yet): one OS process, watched, in the file's pool. */
async function spawnProcess(options: StartOptions, pool: Pool): Promise<ServerProcess> {
  const where = whereIs(options);
  if (pool.finished)
    throw new Error(`${where} not started: this spec file's processes are already shut down.`);
  const port = options.port ?? (await freePort());
  if (options.port !== undefined && !(await isPortFree(port))) {
    throw new Error(`${where} not started: port ${port} is still in use (has the previous process exited?).`);
  }

  const entry = join(lessonSrcDir(options.lesson, options.finished ? 'solutions' : undefined), options.entry);
  const building = performance.now();
  const { bundle, preload } = bundleEntry(entry, where);
  recordTiming('bundle', performance.now() - building, where);
  const inherited: NodeJS.ProcessEnv = { ...process.env };
  for (const name of options.unset ?? []) delete inherited[name];
  const preloads = preload ? ['--require', preload] : [];
  const child = spawn(
    process.execPath,
    ['--enable-source-maps', '--require', watchParentFile(), ...preloads, bundle],
    {
      cwd: ROOT,
      env: { ...inherited, PORT: String(port), SERVER_ID: `server-${port}`, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  everyChild.add(child);

  let output = '';
  const outputWaiters = new Set<() => void>();
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    // An unfinished starter in the child: tell the spec helper, so the failure names the README step.
    if (options.recordTodos !== false)
      for (const match of text.matchAll(TODO_IN_OUTPUT)) recordTodo(match[0]);
    for (const wake of outputWaiters) wake();
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  child.stdin?.on('error', () => {}); // EPIPE once the child is gone: expected, nothing to do

  // 'close', not 'exit': by then stdout and stderr are read to the end, so output() is complete.
  let hasExited = false;
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      hasExited = true;
      everyChild.delete(child);
      child.stdin?.destroy();
      for (const wake of outputWaiters) wake();
      resolve({ code, signal });
    });
  });

  const server: ServerProcess = {
    url: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    exited,
    output: () => output,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const exit = await exited;
      pool.running.delete(server);
      return exit;
    },
    exitWithin: (ms) => within(exited, ms),
    async waitForOutput(pattern, ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const match = output.match(pattern);
        if (match) return match;
        if (hasExited || Date.now() >= deadline) return undefined;
        // Woken by new output, the exit, or the deadline: whichever comes first.
        await new Promise<void>((resolve) => {
          const wake = () => {
            clearTimeout(timer);
            outputWaiters.delete(wake);
            resolve();
          };
          const timer = setTimeout(wake, deadline - Date.now());
          outputWaiters.add(wake);
        });
      }
    },
  };
  pool.running.add(server);
  // afterAll ran while this start was pending (its test timed out): do not leave the process behind.
  if (pool.finished) {
    await server.kill('SIGKILL');
    throw new Error(`${where} not started: this spec file's processes are already shut down.`);
  }
  return server;
}

/**
 * A child process cannot throw into the spec: an unfinished starter shows up as a message in its
 * output, or as a route's 501 body `{ error: 'not_implemented', message }`. Given either (or any
 * text), this throws that message as the NotImplementedError it was, so the spec helper turns it into
 * the one-line "open … and do README Step N" with the task's hint. Anything else: returns quietly.
 */
export function throwIfNotImplemented(outputOrBody: unknown): void {
  const text =
    typeof outputOrBody === 'string'
      ? outputOrBody
      : typeof outputOrBody === 'object' && outputOrBody !== null && 'message' in outputOrBody
        ? String(outputOrBody.message)
        : '';
  const match =
    /Not implemented yet \(lesson ([^)]+)\): open lessons\/[^/\s]+\/(\S+) and do README (.+)\.$/m.exec(text);
  if (match) throw new NotImplementedError({ lesson: match[1], file: match[2], step: match[3] });
}

/**
 * Fails with the server's own last words if it has exited, or exits within `withinMs` (a refused
 * request is often the first sign of a crash): the exit is the bug to report, not the failed request.
 */
export async function failIfExited(server: ServerProcess, withinMs = 0): Promise<void> {
  const exit = await server.exitWithin(withinMs);
  if (exit) {
    throw new Error(
      `The server process exited (code ${exit.code}, signal ${exit.signal}). It said:\n    ${lastWords(server).join('\n    ')}`,
    );
  }
}

/** The lines of a process's output that name an error (stack frames left out), else its last lines. */
function lastWords(server: ServerProcess): string[] {
  const lines = server.output().trim().split('\n');
  const errors = lines.filter((line) => /error/i.test(line) && !/^\s+at /.test(line));
  return errors.length > 0 ? errors.slice(0, 4) : lines.slice(-6);
}

/**
 * One server process shared by a file's tests, in whatever state a test needs: `get()` gives it
 * running (started, or started again on its port, when it is not), `restart()` a new process on the
 * same port, `dead()` gives it killed (SIGKILL: its port then refuses connections). Each test asks for
 * the state it needs, so tests stay independent while processes start only when one did die. A start
 * that failed fails the same way, at once, for the file's later tests: the code under test does not
 * change during a run (and an unfinished step names the same README step).
 */
export function sharedServer(
  servers: Pick<ReturnType<typeof useServerProcesses>, 'start'>,
  options: () => StartOptions,
) {
  let current: ServerProcess | undefined;
  let running: Promise<ServerProcess> | undefined;
  let startFailure: unknown;

  const start = (): Promise<ServerProcess> => {
    if (startFailure) return Promise.reject(ownCopy(startFailure));
    const starting = servers.start({ ...options(), port: current?.port }).then((server) => {
      current = server;
      void server.exited.then(() => {
        if (running === starting) running = undefined;
      });
      return server;
    });
    starting.catch((error: unknown) => {
      startFailure = error;
      if (running === starting) running = undefined;
    });
    running = starting;
    return starting;
  };

  /** The running server, started if there is none (concurrent callers share one start). */
  const get = (): Promise<ServerProcess> => running ?? start();

  return {
    get,
    /**
     * Starts it in the background (a beforeAll's head start: the first task that needs it waits less;
     * not when only some tasks run, see headStartsWanted). A failed start is the task's to report,
     * from get().
     */
    warm(): void {
      if (headStartsWanted()) get().catch(() => undefined);
    },
    /** A new process on the port of the previous one: the same server, restarted. */
    async restart(): Promise<ServerProcess> {
      if (running) await (await running).kill('SIGKILL');
      return start();
    },
    /** Dead for real: SIGKILL, as the out-of-memory killer would. Resolves once the process is gone. */
    async dead(): Promise<ServerProcess> {
      const server = await (running ?? (current ? Promise.resolve(current) : start()));
      await server.kill('SIGKILL');
      return server;
    },
  };
}

/** Polls GET /health until 200, the process exits, or the deadline passes. */
async function waitForHealth(
  server: ServerProcess,
  timeoutMs: number,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  let exit: Exit | undefined;
  void server.exited.then((value) => {
    exit = value;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exit) return { ok: false, reason: `it exited (code ${exit.code}, signal ${exit.signal})` };
    if (await answersHealth(server.url)) return { ok: true };
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  return { ok: false, reason: `GET /health did not answer 200 within ${timeoutMs} ms` };
}

async function answersHealth(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    await res.arrayBuffer();
    return res.status === 200;
  } catch {
    return false;
  }
}

/** The value of `promise` if it settles within `ms`; undefined otherwise. Never a sleep: it returns as soon as it can. */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A port that is free now, for a server to listen on. Not one the OS picks (listen on port 0): those
 * come from its ephemeral range, where every outgoing connection takes its local port too, so a server
 * killed by a task could find its port taken by a Redis client's or a balancer's connection before
 * the task restarts it there (and a balancer still pointing at it could reach another file's server).
 * These come from below that range, at random, never twice from one process; only if none is free
 * does the OS pick.
 */
export async function freePort(): Promise<number> {
  const [low, high] = OWN_PORTS;
  for (let attempt = 0; attempt < 50 && high > low; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (handedOut.has(port)) continue;
    handedOut.add(port);
    if (await isPortFree(port)) return port;
  }
  return osPickedPort();
}

const handedOut = new Set<number>();
const OWN_PORTS = ownPortRange();

/**
 * 20000 up to just below the OS's ephemeral ports: Linux's ip_local_port_range, else 32768 (Linux's
 * default; macOS and Windows begin theirs at 49152).
 */
function ownPortRange(): [number, number] {
  let ephemeralStart = 32_768;
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    if (Number(start) > 0) ephemeralStart = Number(start);
  } catch {
    // not Linux
  }
  return [20_000, Math.min(ephemeralStart, 49_152) - 1];
}

function osPickedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Whether a server could listen on `port` now (on every address, as the lesson servers do). */
function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, () => probe.close(() => resolve(true)));
  });
}

function indent(text: string): string {
  return text
    .split('\n')
    .slice(-30)
    .map((line) => `    ${line}`)
    .join('\n');
}
