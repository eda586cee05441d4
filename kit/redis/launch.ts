/**
 * A redis-server process of the course's own, and plain RESP over a socket to talk to it: what the
 * embedded Redis (./embedded.ts) and the Sentinel sets (./sentinel.ts) start their servers with.
 *
 * The server runs under a shell that kills it once our pipe to the shell closes, so a redis-server
 * never outlives the process that started it, however that process ended (a crash, a SIGKILL, Jest
 * killing a worker). redis-memory-server watches for that with a Node process of its own per server,
 * polling every 2 s: in one `npm run verify` those watchers took about 11 CPU-s (per-process samples
 * of /proc, 2-core machine). The shell costs nothing while it waits.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect } from 'node:net';

export const HOST = '127.0.0.1';

export interface LaunchedRedis {
  /** The watching shell: end its stdin and it SIGKILLs the server; it exits when the server does. */
  child: ChildProcess;
  /** The redis-server's own pid. */
  pid: number;
  /** What it printed so far. */
  output(): string;
}

/** Starts `binary` with `args`; resolves once it runs (not yet listening: see untilPong). */
export async function launchRedis(
  binary: string,
  args: string[],
  onLine: (line: string) => void = () => {},
): Promise<LaunchedRedis> {
  // The shell keeps our pipe as fd 3 (an asynchronous list's own stdin is /dev/null), starts the
  // server, says its pid, and waits for it: the shell exits when the server does, with its code. A
  // reader beside it SIGKILLs the server once the pipe ends.
  const script =
    'exec 3<&0; bin="$1"; shift; "$bin" "$@" & p=$!; echo "pid $p"; ' +
    '{ while read -r _; do :; done <&3; kill -9 $p 2>/dev/null; } & wait $p';
  const child = spawn('sh', ['-c', script, 'sh', binary, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => {});
  let output = '';
  const pid = await new Promise<number>((resolve, reject) => {
    const collect = (chunk: Buffer) => {
      output += chunk;
      const match = /^pid (\d+)$/m.exec(output);
      if (match) resolve(Number(match[1]));
      for (const line of chunk.toString().split('\n'))
        if (line.trim() && !line.startsWith('pid ')) onLine(line);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    child.once('exit', () => reject(new Error(`${binary} did not start: ${output.trim() || 'no output'}`)));
  });
  return { child, pid, output: () => output };
}

/** One command over a new connection, RESP-encoded; the raw reply once it is complete enough. */
export function sendCommand(port: number, args: string[], timeoutMs = 2_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, HOST);
    let reply = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply from ${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk) => {
      reply += chunk;
      if (complete(reply)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(reply);
      }
    });
    socket.write(
      `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`,
    );
  });
}

/** Whether a RESP reply has arrived whole. */
function complete(reply: string): boolean {
  return parseReply(Buffer.from(reply), 0) !== undefined;
}

export type Reply = string | number | null | Reply[];

/** The first RESP value in `data` from `at`, and where it ends; undefined while it is incomplete. */
export function parseReply(data: Buffer, at: number): { value: Reply; end: number } | undefined {
  const lineEnd = data.indexOf('\r\n', at);
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(data[at] ?? 0);
  const line = data.toString('utf8', at + 1, lineEnd);
  const next = lineEnd + 2;
  if (type === '+' || type === '-') return { value: type === '-' ? `ERR ${line}` : line, end: next };
  if (type === ':') return { value: Number(line), end: next };
  if (type === '$') {
    const length = Number(line);
    if (length < 0) return { value: null, end: next };
    if (data.length < next + length + 2) return undefined;
    return { value: data.toString('utf8', next, next + length), end: next + length + 2 };
  }
  if (type === '*') {
    const count = Number(line);
    if (count < 0) return { value: null, end: next };
    const values: Reply[] = [];
    let end = next;
    for (let i = 0; i < count; i++) {
      const item = parseReply(data, end);
      if (!item) return undefined;
      values.push(item.value);
      end = item.end;
    }
    return { value: values, end };
  }
  return { value: line, end: next };
}

/** The strings of an array reply (`*2 $9 127.0.0.1 $4 6380` → ['127.0.0.1', '6380']). */
export function bulkStrings(reply: string): string[] {
  const parsed = parseReply(Buffer.from(reply), 0)?.value;
  return Array.isArray(parsed) ? parsed.filter((value): value is string => typeof value === 'string') : [];
}

/** Until Redis on `port` answers PING (bounded). */
export async function untilPong(port: number, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    try {
      if ((await sendCommand(port, ['PING'], 500)).startsWith('+PONG')) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline)
      throw new Error(`Redis on port ${port} did not answer PING within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Until nothing accepts connections on `port` any more (bounded). */
export async function untilRefused(port: number, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const refused = await new Promise<boolean>((resolve) => {
      const socket = connect(port, HOST);
      socket.once('connect', () => {
        socket.destroy();
        resolve(false);
      });
      socket.once('error', () => resolve(true));
    });
    if (refused) return;
    if (Date.now() > deadline) throw new Error(`port ${port} still accepts connections after ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
