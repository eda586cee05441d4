/**
 * Real server processes for specs: spawn a lesson's entry point as ONE OS process
 * (`node --import tsx file.ts`, never the tsx wrapper, whose child would survive a SIGKILL), wait until
 * it answers GET /health (a real condition, bounded; never a fixed sleep), and kill whatever is left
 * after the file, even when a test failed or timed out.
 *
 *   const servers = useServerProcesses();
 *   const server = await servers.start({ lesson: '02-crash', entry: 'server.ts', env: { ENABLE_CRASH: '1' } });
 *   await request(server.url).get('/cart');
 *   const exit = await server.exited;      // { code: 1, signal: null } after a crash
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { lessonSrcDir, ROOT } from '../jest/target';
import { recordTodo } from '../todo';

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Settles when the process has exited. */
  readonly exited: Promise<Exit>;
  /** Everything it printed so far (stdout and stderr), for assertions and failure messages. */
  output(): string;
  /** Sends a signal and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<Exit>;
}

export interface StartOptions {
  /** Lesson folder, e.g. '02-crash'. The entry runs from that lesson's src (or its solution). */
  lesson: string;
  /** File in the lesson's src, e.g. 'server.ts'. */
  entry: string;
  /** Extra environment. PORT and SERVER_ID are set for you unless given here. */
  env?: Record<string, string>;
  /** Reuse a port (a restart "on the same machine"); a free one otherwise. */
  port?: number;
  /** How long to wait for GET /health to answer 200. */
  readyTimeoutMs?: number;
}

export function useServerProcesses() {
  const running = new Set<ServerProcess>();

  afterAll(async () => {
    await Promise.all([...running].map((server) => server.kill('SIGKILL')));
  });

  return {
    async start(options: StartOptions): Promise<ServerProcess> {
      const server = await startServerProcess(options, running);
      return server;
    },
  };
}

/** Survivors of a worker that dies abruptly still get a SIGKILL. */
const everyChild = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of everyChild) child.kill('SIGKILL');
});

async function startServerProcess(
  options: StartOptions,
  running: Set<ServerProcess>,
): Promise<ServerProcess> {
  const port = options.port ?? (await freePort());
  const entry = join(lessonSrcDir(options.lesson), options.entry);
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, PORT: String(port), SERVER_ID: `server-${port}`, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  everyChild.add(child);

  let output = '';
  const collect = (chunk: Buffer) => {
    const text = chunk.toString();
    output += text;
    // An unfinished starter in the child: tell the spec helper, so the failure names the README step.
    for (const match of text.matchAll(/Not implemented yet \(lesson [^)]+\): [^\n]+/g)) recordTodo(match[0]);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      everyChild.delete(child);
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
      running.delete(server);
      return exit;
    },
  };
  running.add(server);

  const ready = await waitForHealth(server, options.readyTimeoutMs ?? 10_000);
  if (!ready.ok) {
    await server.kill('SIGKILL');
    throw new Error(
      `lessons/${options.lesson}/src/${options.entry} did not become ready on port ${port}: ${ready.reason}.\n` +
        `Its output:\n${indent(output.trim() || '(nothing)')}`,
    );
  }
  return server;
}

/** Polls GET /health until 200, the process exits, or the deadline passes. */
async function waitForHealth(
  server: ServerProcess,
  timeoutMs: number,
): Promise<{ ok: true } | { ok: false; reason: string }> {
  let exit: Exit | undefined;
  server.exited.then((value) => {
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

/** A port that was free a moment ago (the OS picks it; we close and hand it on). */
export function freePort(): Promise<number> {
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

function indent(text: string): string {
  return text
    .split('\n')
    .slice(-30)
    .map((line) => `    ${line}`)
    .join('\n');
}
