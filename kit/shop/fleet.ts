/**
 * The shop's three server processes: started, crashed for real (their own POST /crash, as in lesson
 * 02), restarted on the same port, and watched (a process that dies by itself shows as down).
 *
 * Sticky mode runs lesson 02's server (sessions in its memory); stateless mode lesson 03's (sessions
 * in Redis). The lesson 02 server cannot say how many sessions it holds, so the fleet counts them
 * from outside: every answer routed through the shop is seen here (`noteAnswer`), and a session is
 * "in server-2's memory" from the moment server-2 set its cookie until it is emptied or server-2
 * dies. That is what the page shows, and says so.
 */
import { randomBytes } from 'node:crypto';
import { type Exit, type ServerProcess, serverProcesses } from '../spec/processes';

export type Mode = 'sticky' | 'stateless';
export type Status = 'up' | 'down' | 'starting' | 'crashing';

export const SERVER_IDS = ['server-1', 'server-2', 'server-3'] as const;
export const SESSION_PREFIX = 'sess:';
const SESSION_COOKIE = 'connect.sid';

export interface FleetOptions {
  mode: Mode;
  /** Run the learner's lessons/0N/src instead of the finished lessons. */
  mine: boolean;
  /** Lesson 03's servers: where the sessions live. */
  redisUrl?: string;
  say: (line: string) => void;
}

export interface ServerView {
  id: string;
  lesson: string;
  status: Status;
  pid: number | null;
  port: number;
  /** Answers the shop saw this process give (every routed request, the crowd's too). */
  served: number;
  /** Sticky: sessions this process set a cookie for and still holds, as the shop saw. Stateless: null. */
  sessionsInMemory: number | null;
  /** How the last one died, for the card. */
  lastExit: string | null;
}

export interface CrashReport {
  id: string;
  /** 'POST /crash' (the server's own crash endpoint), or 'SIGKILL' when that did not end it. */
  how: 'POST /crash' | 'SIGKILL';
  exit: Exit;
}

interface Slot {
  id: string;
  port: number;
  process: ServerProcess | undefined;
  status: Status;
  served: number;
  memory: Set<string>;
  lastExit: string | null;
}

export class ShopCommandError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class Fleet {
  readonly lesson: string;
  private readonly processes = serverProcesses();
  private readonly slots: Slot[] = [];
  /** One secret for the three servers: a cookie signed by one must verify on the others. */
  private readonly secret = randomBytes(24).toString('hex');
  private stopping = false;

  constructor(private readonly options: FleetOptions) {
    this.lesson = options.mode === 'sticky' ? '02-crash' : '03-redis-store';
  }

  /** Starts the three side by side; if one cannot start, none is left running. */
  async start(): Promise<void> {
    try {
      const started = await Promise.all(SERVER_IDS.map((id) => this.spawn(id)));
      started.forEach((process, index) => {
        const slot: Slot = {
          id: SERVER_IDS[index],
          port: process.port,
          process: undefined,
          status: 'starting',
          served: 0,
          memory: new Set(),
          lastExit: null,
        };
        this.slots.push(slot);
        this.adopt(slot, process);
      });
    } catch (error) {
      await this.stop();
      throw error;
    }
  }

  get targets(): string[] {
    return this.slots.map((slot) => `http://127.0.0.1:${slot.port}`);
  }

  view(): ServerView[] {
    return this.slots.map((slot) => ({
      id: slot.id,
      lesson: this.lesson,
      status: slot.status,
      pid: slot.status === 'down' ? null : (slot.process?.pid ?? null),
      port: slot.port,
      served: slot.served,
      sessionsInMemory: this.options.mode === 'sticky' ? slot.memory.size : null,
      lastExit: slot.lastExit,
    }));
  }

  pids(): number[] {
    return this.slots.flatMap((slot) => (slot.process && slot.status !== 'down' ? [slot.process.pid] : []));
  }

  has(id: string): boolean {
    return this.slots.some((slot) => slot.id === id);
  }

  /** Crashes a server the way lesson 02 does: its own POST /crash, then waits for the process to exit. */
  async crash(id: string): Promise<CrashReport> {
    const slot = this.slot(id);
    const process = slot.process;
    if (slot.status !== 'up' || !process)
      throw new ShopCommandError(
        409,
        'not_running',
        `${id} is ${slot.status}: only a running server can crash.`,
      );
    slot.status = 'crashing';
    let how: CrashReport['how'] = 'POST /crash';
    try {
      const res = await fetch(`${process.url}/crash`, { method: 'POST', signal: AbortSignal.timeout(3_000) });
      await res.arrayBuffer();
      if (res.status !== 202) how = 'SIGKILL'; // an unfinished /crash (--mine): 501, and the process lives on
    } catch {
      // The connection was cut as the process died: that is a crash too. The exit below tells.
    }
    let exit = how === 'POST /crash' ? await process.exitWithin(5_000) : undefined;
    if (!exit) {
      how = 'SIGKILL';
      exit = await process.kill('SIGKILL');
    }
    this.options.say(`💥 ${id} crashed (${how}; exit code ${exit.code}, signal ${exit.signal})`);
    return { id, how, exit };
  }

  /** A new process on the same port: the same server, restarted, with empty memory. */
  async restart(id: string): Promise<ServerView> {
    const slot = this.slot(id);
    if (slot.status !== 'down')
      throw new ShopCommandError(
        409,
        'not_down',
        `${id} is ${slot.status}: only a server that is down can restart.`,
      );
    slot.status = 'starting';
    try {
      this.adopt(slot, await this.spawn(id, slot.port));
    } catch (error) {
      slot.status = 'down';
      throw error;
    }
    this.options.say(`▶ ${id} restarted on port ${slot.port} (pid ${slot.process?.pid})`);
    return this.view().find((view) => view.id === id) as ServerView;
  }

  /** Every server that is down, started again (the Black Friday run starts from a full fleet). */
  async restartAllDown(): Promise<void> {
    await Promise.all(
      this.slots.filter((slot) => slot.status === 'down').map((slot) => this.restart(slot.id)),
    );
  }

  /**
   * An answer routed through the shop: who served it, and (sticky) which sessions that server now
   * holds — a new connect.sid cookie is a session in its memory; an emptied cart is one less.
   */
  noteAnswer(answer: {
    servedBy: string | undefined;
    method: string;
    status: number;
    cookie?: string;
    setCookies: string[];
  }): void {
    const slot = this.slots.find((candidate) => candidate.id === answer.servedBy);
    if (!slot) return;
    slot.served += 1;
    if (this.options.mode !== 'sticky') return;
    for (const line of answer.setCookies) {
      const sid = sessionIdIn(line.split(';')[0]);
      if (sid) slot.memory.add(sid);
    }
    if (answer.method === 'DELETE' && answer.status === 200) {
      const sid = sessionIdIn(answer.cookie);
      if (sid) slot.memory.delete(sid);
    }
  }

  /**
   * From now on an exit is the shop stopping, not a crash to report. Called first thing on Ctrl-C: the
   * terminal sends SIGINT to the whole process group, so the servers may exit on their own before
   * stop() reaches them.
   */
  expectExits(): void {
    this.stopping = true;
  }

  async stop(): Promise<void> {
    this.expectExits();
    await this.processes.stopAll();
  }

  private slot(id: string): Slot {
    const slot = this.slots.find((candidate) => candidate.id === id);
    if (!slot) throw new ShopCommandError(404, 'unknown_server', `There is no server "${id}".`);
    return slot;
  }

  private adopt(slot: Slot, process: ServerProcess): void {
    slot.process = process;
    slot.status = 'up';
    void process.exited.then((exit) => {
      if (slot.process !== process) return;
      const expected = this.stopping || slot.status === 'crashing';
      slot.status = 'down';
      slot.memory.clear(); // everything in its memory died with it
      slot.lastExit = exit.signal ? `killed (${exit.signal})` : `exited with code ${exit.code}`;
      if (!expected)
        this.options.say(`✖ ${slot.id} exited by itself (code ${exit.code}): ${lastLine(process.output())}`);
    });
  }

  private spawn(id: string, port?: number): Promise<ServerProcess> {
    const env: Record<string, string> = { SERVER_ID: id, ENABLE_CHAOS: '1', SESSION_SECRET: this.secret };
    if (this.options.redisUrl) {
      env.REDIS_URL = this.options.redisUrl;
      env.SESSION_PREFIX = SESSION_PREFIX;
    }
    return this.processes.start({
      lesson: this.lesson,
      entry: 'server.ts',
      finished: !this.options.mine,
      port,
      env,
      recordTodos: false,
      readyTimeoutMs: 20_000,
    });
  }
}

/** The session id in `connect.sid=s%3A<id>.<signature>` (a Cookie header or a Set-Cookie pair). */
export function sessionIdIn(cookies: string | undefined): string | undefined {
  for (const part of cookies?.split(';') ?? []) {
    const [name, ...value] = part.trim().split('=');
    if (name !== SESSION_COOKIE) continue;
    let decoded: string;
    try {
      decoded = decodeURIComponent(value.join('='));
    } catch {
      return undefined;
    }
    return /^s:([^.]+)\./.exec(decoded)?.[1];
  }
  return undefined;
}

function lastLine(output: string): string {
  return output.trim().split('\n').at(-1) ?? '';
}
