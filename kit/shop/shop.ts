/**
 * `npm run shop` — the live shop: a page you can click, in front of three real server processes.
 *
 *   npm run shop                     stateless: Redis, lesson 03's servers, lesson 04's balancer (round-robin)
 *   npm run shop -- --sticky         sticky: lesson 02's servers (sessions in memory), the sticky balancer
 *   npm run shop -- --mine           the same on your own code (lessons/02 or 03, and lessons/04)
 *   npm run shop -- --port 9090      another port (default 8080; 0 picks a free one)
 *   npm run shop -- --carts 200      a smaller Black Friday crowd (default 1000)
 *
 * It prints the URL and stays up until Ctrl-C, then stops every process it started. How the page, the
 * balancer and the control API fit together: kit/shop/README.md.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync, stop as stopEsbuild } from 'esbuild';
import { createClient, type RedisClientType } from 'redis';
import { currentTarget, lessonSrcDir, prepareTarget, ROOT } from '../jest/target';
import { type EmbeddedRedis, findRedisBinary, startEmbeddedRedis } from '../redis/embedded';
import { type BlackFridayResult, blackFriday, CRASHED_SERVER, type Progress } from './black-friday';
import { Fleet, type Mode, SESSION_PREFIX, type ServerView, ShopCommandError } from './fleet';
import { type PageAssets, shopFront } from './front';

export const DEFAULT_PORT = 8080;
export const DEFAULT_CARTS = 1000;
const HOST = '127.0.0.1';

export interface ShopOptions {
  mode: Mode;
  /** Your code in lessons/ instead of the finished lessons. */
  mine?: boolean;
  /** Default 8080; 0 for any free port. */
  port?: number;
  /** Shoppers in the Black Friday crowd (default 1000; specs use fewer). */
  blackFridayCarts?: number;
  /** Where the shop tells what happens (the CLI prints it; default: silent). */
  say?: (line: string) => void;
}

export interface ShopState {
  mode: Mode;
  strategy: 'sticky' | 'round-robin';
  code: 'finished' | 'yours';
  serverLesson: string;
  servers: ServerView[];
  /** Stateless only: the session keys in Redis under the session prefix. */
  redis: { sessions: number; prefix: string } | null;
  blackFriday: {
    carts: number;
    crashes: string;
    running: boolean;
    progress: Progress | null;
    result: BlackFridayResult | null;
    error: string | null;
  };
}

export interface Shop {
  /** The page: http://127.0.0.1:<port>/shop/ */
  readonly url: string;
  /** The shop's origin: what the balancer answers at (the crowd and shop:client use it). */
  readonly origin: string;
  readonly port: number;
  readonly host: string;
  state(): Promise<ShopState>;
  stop(): Promise<void>;
}

export async function startShop(options: ShopOptions): Promise<Shop> {
  const say = options.say ?? (() => {});
  const mine = options.mine ?? false;
  const carts = options.blackFridayCarts ?? DEFAULT_CARTS;
  if (!Number.isInteger(carts) || carts < 1 || carts > 100_000)
    throw new Error(`Black Friday carts must be a whole number from 1 to 100000, got ${carts}`);
  prepareTarget();

  let redis: EmbeddedRedis | undefined;
  let redisDir: string | undefined;
  let client: RedisClientType | undefined;
  let fleet: Fleet | undefined;
  let balancer: Server | undefined;
  let front: Server | undefined;
  let stopped: Promise<void> | undefined;
  const stop = () => {
    fleet?.expectExits();
    stopped ??= (async () => {
      if (front) {
        const closing = new Promise((resolve) => front?.close(resolve));
        front.closeAllConnections();
        await closing;
      }
      balancer?.close(); // not listening: this only lets go of its proxy's kept-alive connections
      await fleet?.stop();
      await client?.close().catch(() => undefined);
      await redis?.stop();
      if (redisDir) rmSync(redisDir, { recursive: true, force: true });
      // esbuild's helper process (the page's and the servers' bundles): stopped while this process can
      // still reap it, so no <defunct> esbuild is left behind.
      await stopEsbuild();
    })();
    return stopped;
  };

  try {
    if (options.mode === 'stateless') {
      // A folder of its own: redis-server loads any dump.rdb in its working folder at start (a replica
      // elsewhere in this checkout writes one there), and the shop's Redis must start empty.
      redisDir = mkdtempSync(join(tmpdir(), 'shop-redis-'));
      redis = await startEmbeddedRedis(findRedisBinary(), ['--dir', redisDir]);
      client = createClient({ url: redis.url, socket: { reconnectStrategy: false } });
      client.on('error', () => {}); // counting sessions is best effort: the page shows what it got
      await client.connect();
      say(`▶ Redis on ${redis.url}`);
    }
    fleet = new Fleet({ mode: options.mode, mine, redisUrl: redis?.url, say });
    await fleet.start();
    for (const server of fleet.view())
      say(`▶ ${server.id}: lessons/${server.lesson} server, pid ${server.pid}, port ${server.port}`);

    balancer = loadBalancer(mine, {
      targets: fleet.targets,
      strategy: options.mode === 'sticky' ? 'sticky' : 'round-robin',
      log: quieter(say),
    });

    const running = fleet;
    const bf: ShopState['blackFriday'] = {
      carts,
      crashes: CRASHED_SERVER,
      running: false,
      progress: null,
      result: null,
      error: null,
    };
    let origin = '';
    const route = routeThrough(balancer, running);
    const countSessions = async (): Promise<number> => {
      let count = 0;
      if (!client?.isReady) return count;
      for await (const keys of client.scanIterator({ MATCH: `${SESSION_PREFIX}*`, COUNT: 1000 }))
        count += keys.length;
      return count;
    };
    const state = async (): Promise<ShopState> => ({
      mode: options.mode,
      strategy: options.mode === 'sticky' ? 'sticky' : 'round-robin',
      code: mine ? 'yours' : 'finished',
      serverLesson: running.lesson,
      servers: running.view(),
      redis: client ? { sessions: await countSessions().catch(() => -1), prefix: SESSION_PREFIX } : null,
      blackFriday: bf,
    });

    front = createServer(
      shopFront({
        assets: pageAssets(),
        state,
        crash: (id) => running.crash(id),
        restart: (id) => running.restart(id),
        blackFriday: async () => {
          if (bf.running)
            throw new ShopCommandError(409, 'already_running', 'A Black Friday run is already under way.');
          bf.running = true;
          bf.error = null;
          say(`🛍  Black Friday: ${carts} shoppers fill their carts, then ${CRASHED_SERVER} crashes`);
          try {
            bf.result = await blackFriday({
              url: origin,
              carts,
              restartAllDown: () => running.restartAllDown(),
              crash: (id) => running.crash(id),
              onProgress: (progress) => {
                bf.progress = progress;
              },
            });
            const r = bf.result;
            say(
              `🛍  Black Friday: ${r.carts} carts filled (${Object.entries(r.filledOn)
                .map(([id, n]) => `${id} ${n}`)
                .join(', ')}), ${r.crashed} crashed: ${r.intact} intact, ${r.lost} LOST (${r.ms} ms)`,
            );
            return { ...r, sessionsInRedis: client ? await countSessions() : null };
          } catch (error) {
            bf.error = error instanceof Error ? error.message : String(error);
            bf.progress = { phase: 'failed', done: 0, total: carts };
            throw error;
          } finally {
            bf.running = false;
          }
        },
        route,
      }),
    );
    const port = await listen(front, options.port ?? DEFAULT_PORT);
    origin = `http://${HOST}:${port}`;
    return { url: `${origin}/shop/`, origin, port, host: HOST, state, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Each routed request goes to the balancer; its answer tells the fleet who served whom. */
function routeThrough(balancer: Server, fleet: Fleet) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const cookie = req.headers.cookie;
    const method = req.method ?? 'GET';
    res.once('finish', () => {
      const servedBy = res.getHeader('x-served-by');
      const setCookie = res.getHeader('set-cookie');
      fleet.noteAnswer({
        servedBy: typeof servedBy === 'string' ? servedBy : undefined,
        method,
        status: res.statusCode,
        cookie,
        setCookies: Array.isArray(setCookie) ? setCookie : typeof setCookie === 'string' ? [setCookie] : [],
      });
    });
    balancer.emit('request', req, res);
  };
}

type CreateBalancer = (options: {
  targets: string[];
  strategy: 'sticky' | 'round-robin';
  log?: (line: string) => void;
}) => Server;

/** Lesson 04's createBalancer: the finished one, or yours (--mine). */
function loadBalancer(mine: boolean, options: Parameters<CreateBalancer>[0]): Server {
  const file = join(lessonSrcDir('04-load-balancer', mine ? currentTarget() : 'solutions'), 'balancer.ts');
  try {
    const { createBalancer } = require(file) as { createBalancer: CreateBalancer };
    return createBalancer(options);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    throw new Error(`lesson 04's balancer (${file.slice(ROOT.length + 1)}) could not start: ${reason}`);
  }
}

/** The page, its script compiled from page/app.ts (esbuild, in memory), and its style. */
function pageAssets(): PageAssets {
  const dir = join(__dirname, 'page');
  const built = buildSync({
    entryPoints: [join(dir, 'app.ts')],
    bundle: true,
    format: 'iife',
    target: 'es2020',
    write: false,
    logLevel: 'silent',
  });
  return {
    html: readFileSync(join(dir, 'index.html'), 'utf8'),
    js: built.outputFiles[0].text,
    css: readFileSync(join(dir, 'style.css'), 'utf8'),
  };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${port} is in use: pick another with --port N (or --port 0 for any free port)`)
          : error,
      );
    });
    server.listen(port, HOST, () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    });
  });
}

/**
 * The balancer reports every request it fails over (a crowd of them when server-3 is down): the first
 * of a kind is printed, the rest counted, two seconds at a time.
 */
function quieter(say: (line: string) => void): (line: string) => void {
  const repeats = new Map<string, number>();
  let timer: NodeJS.Timeout | undefined;
  return (line) => {
    const kind = /→ (.+)$/.exec(line)?.[1] ?? line;
    const seen = repeats.get(kind);
    if (seen !== undefined) {
      repeats.set(kind, seen + 1);
      return;
    }
    say(line);
    repeats.set(kind, 0);
    if (timer === undefined)
      timer = setTimeout(() => {
        for (const [what, more] of repeats)
          if (more > 0) say(`[balancer] … and ${more} more like it (→ ${what})`);
        repeats.clear();
        timer = undefined;
      }, 2_000).unref();
  };
}

// ── the command line ──────────────────────────────────────────────────────────────────────────────

const USAGE = `usage: npm run shop [-- --sticky] [--mine] [--port N] [--carts N]
  (none)     stateless: Redis, lesson 03's servers, lesson 04's balancer round-robin
  --sticky   sessions in each server's memory (lesson 02's servers), lesson 04's sticky balancer
  --mine     your code in lessons/ instead of the finished lessons
  --port N   the shop's port on 127.0.0.1 (default ${DEFAULT_PORT}; 0: any free port)
  --carts N  shoppers in the Black Friday crowd (default ${DEFAULT_CARTS})`;

export function parseArgs(argv: string[]): ShopOptions | { help: true } {
  const options: ShopOptions = { mode: 'stateless' };
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index];
    const value = () => {
      const next = argv[++index];
      if (next === undefined || !/^\d+$/.test(next)) throw new UsageError(`${arg} needs a whole number`);
      return Number(next);
    };
    if (arg === '--sticky') options.mode = 'sticky';
    else if (arg === '--stateless') options.mode = 'stateless';
    else if (arg === '--mine') options.mine = true;
    else if (arg === '--port') options.port = value();
    else if (arg === '--carts') options.blackFridayCarts = value();
    else if (arg === '--help' || arg === '-h') return { help: true };
    else throw new UsageError(`unknown option "${arg}"`);
  }
  if (options.port !== undefined && options.port > 65_535) throw new UsageError('--port must be 0–65535');
  return options;
}

class UsageError extends Error {}

async function main(): Promise<void> {
  let options: ReturnType<typeof parseArgs>;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`shop: ${(error as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if ('help' in options) {
    console.log(USAGE);
    return;
  }
  const say = (line: string) => console.log(line);
  say(
    `sticky-to-stateless live shop — ${options.mode}, running ${options.mine ? 'YOUR code (lessons/)' : 'the finished lessons (solutions/)'}`,
  );
  let shop: Shop;
  try {
    shop = await startShop({ ...options, say });
  } catch (error) {
    console.error(`shop: could not start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
  const mode =
    options.mode === 'sticky'
      ? 'sticky: sessions in each server’s memory, the balancer pins each visitor to one server'
      : 'stateless: sessions in Redis, the balancer sends each request to the next server in turn';
  say(`\n  ${mode}\n\n  Open ${shop.url}\n\n  Ctrl-C stops the shop and every process it started.\n`);

  let stoppingSince: number | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (stoppingSince !== undefined) {
      // One Ctrl-C can arrive twice: the terminal signals the whole process group, and tsx relays it
      // too. A second press, later: stop now (the servers die with their stdin pipes to this process).
      if (performance.now() - stoppingSince > 1_000) process.exit(130);
      return;
    }
    stoppingSince = performance.now();
    say(`\n${signal}: stopping the shop…`);
    shop.stop().then(
      () => {
        say(`stopped: 3 server processes${options.mode === 'stateless' ? ' and Redis' : ''}, and the shop.`);
        process.exit(0);
      },
      (error: unknown) => {
        console.error(`shop: could not stop cleanly: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) void main();
