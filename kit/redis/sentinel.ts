/**
 * A highly available Redis on one machine, with real processes: one primary, its replicas, and a few
 * Sentinels that watch it and promote a replica when it dies — the `redis-server` binary the course
 * already finds (kit/redis/embedded.ts) runs all of them (a Sentinel is `redis-server <conf> --sentinel`).
 * For lesson 07's specs, the demo and anyone who wants to watch a failover:
 *
 *   const ha = await startSentinelSet({ replicas: 2, sentinels: 3 });
 *   ha.sentinels            // [{ host, port }]: what a client is configured with
 *   await ha.primary()      // { host, port } as the Sentinels see it now
 *   await ha.kill(await ha.primary())   // SIGKILL the primary's redis-server
 *   await ha.failover(old, 10_000)      // until the Sentinels name a new primary
 *   await ha.role(node)                 // { role: 'master' | 'slave', masterPort? } from INFO replication
 *   await ha.stop()
 *
 * startSentinelSet resolves once every Sentinel knows every other Sentinel and every replica (they
 * find each other through hello messages every 2 s): a primary killed before that may never be
 * replaced, for lack of a quorum that knows each other.
 *
 * A replication link that loses writes on demand (lesson 07's acknowledged writes):
 *
 *   const ha = await startSentinelSet({ partitionable: true });
 *   ha.partition()                      // from now on the replicas receive nothing from the primary
 *   await ha.kill(await ha.primary())   // …which dies with writes no replica ever saw
 *
 * With `partitionable`, the primary is reached through a small TCP relay in this process: its port is
 * the relay's (the Sentinels, the clients and the replicas all connect there, and see nothing else:
 * a replica pointed anywhere but at the primary's address would be "fixed" by the Sentinels within
 * seconds). partition() makes the relay drop every byte, both ways, of the connections that speak
 * the replication protocol (REPLCONF): the replicas stay "connected" and fall behind, everyone else is
 * served. There is no heal(): a replication stream with a hole in it cannot be resumed; the partition
 * ends with the primary (the relay closes its links when it dies), and the Sentinels point the
 * survivors at each other directly. kill(), restart() and command() on the relay's port act on the
 * primary behind it.
 *
 * Short, bounded failover settings (down-after 2 s, failover-timeout 6 s) so a failover finishes in a
 * few seconds. (Down-after 1 s, tried first, flapped on a loaded machine: a Sentinel that had just
 * switched to the new primary found it "down" before its first PING came back, and failed over a
 * second time, to the other replica.) No
 * orphans: each redis-server runs under a tiny shell that kills it when the pipe from this process
 * closes, so a test run that dies (even by SIGKILL) takes its Redis processes with it.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../spec/processes';
import { findRedisBinary } from './embedded';
import { bulkStrings, HOST, launchRedis, parseReply, sendCommand, untilPong, untilRefused } from './launch';

export interface RedisNode {
  host: string;
  port: number;
}

export interface SentinelSetOptions {
  /** The name clients ask the Sentinels for (SENTINEL get-master-addr-by-name <name>). */
  masterName?: string;
  replicas?: number;
  sentinels?: number;
  /** How many Sentinels must agree that the primary is down. Default: a majority. */
  quorum?: number;
  /** A primary that does not answer for this long is subjectively down (default 2 s). */
  downAfterMs?: number;
  /**
   * Sentinel's failover-timeout (default 6 s). A Sentinel that lost the vote, or has not heard of the
   * new primary yet, starts a failover of its own after twice this: at 2 s (4 s) a loaded machine saw
   * a second failover, to the other replica, seconds after the first.
   */
  failoverTimeoutMs?: number;
  /** Output of every process, for a failing spec's message. */
  log?: (line: string) => void;
  /** Replicas reach the primary through relays that partition() can cut (see the top of this file). */
  partitionable?: boolean;
  /** How long to wait for the Sentinels to know each other and the replicas (default 20 s). */
  discoveryTimeoutMs?: number;
}

interface Running {
  node: RedisNode;
  role: 'primary' | 'replica' | 'sentinel';
  child: ChildProcess;
  args: string[];
  /** The redis-server's own pid (the child is the shell that watches it). */
  pid: number;
}

export interface SentinelSet {
  masterName: string;
  sentinels: RedisNode[];
  /** Every data node (primary and replicas) as started. */
  dataNodes: RedisNode[];
  /** The primary the Sentinels agree on now (the first Sentinel that answers). */
  primary(): Promise<RedisNode>;
  /** SIGKILL (default) or SIGTERM the redis-server on that node. */
  kill(node: RedisNode, signal?: NodeJS.Signals): Promise<void>;
  /** Starts the node again, on its port, with its first arguments (a killed primary comes back as it was started). */
  restart(node: RedisNode): Promise<void>;
  /** Waits until the Sentinels name a primary other than `old`; resolves with it, bounded. */
  failover(old: RedisNode, withinMs: number): Promise<RedisNode>;
  /** Sends a command to one node, RESP over a plain socket; resolves with the raw reply. */
  command(node: RedisNode, ...args: string[]): Promise<string>;
  /** The node's role as its INFO replication says, and the primary's port for a replica. */
  role(node: RedisNode): Promise<{ role: string; masterPort?: number; linkUp?: boolean }>;
  /** With `partitionable`: from now on the replication links carry nothing (until the primary dies). */
  partition(): void;
  stop(): Promise<void>;
}

export async function startSentinelSet(options: SentinelSetOptions = {}): Promise<SentinelSet> {
  const binary = findRedisBinary().path ?? 'redis-server';
  const masterName = options.masterName ?? 'shop';
  const sentinelCount = options.sentinels ?? 3;
  const quorum = options.quorum ?? Math.floor(sentinelCount / 2) + 1;
  const dir = mkdtempSync(join(tmpdir(), 'course-sentinel-'));
  const running = new Map<number, Running>();
  const log = options.log ?? (() => {});
  /** Relay port → the port of the redis-server behind it. */
  const aliases = new Map<number, number>();
  const relays: Server[] = [];
  const relayed = new Set<Socket>();
  let partitioned = false;
  /** A TCP relay to `target`; once partition() is called it drops the replication links' bytes. */
  const relay = async (target: number): Promise<number> => {
    const server = createServer((downstream) => {
      const upstream = connect(target, HOST);
      relayed.add(downstream).add(upstream);
      let replication = false;
      downstream.on('data', (chunk: Buffer) => {
        if (!replication && chunk.includes('REPLCONF')) replication = true;
        if (!(partitioned && replication)) upstream.write(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        if (!(partitioned && replication)) downstream.write(chunk);
      });
      const end = () => {
        downstream.destroy();
        upstream.destroy();
        relayed.delete(downstream);
        relayed.delete(upstream);
      };
      for (const socket of [downstream, upstream]) socket.on('error', end).on('close', end);
    });
    relays.push(server);
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    const address = server.address();
    return typeof address === 'object' && address ? address.port : 0;
  };

  const launch = async (role: Running['role'], port: number, args: string[]): Promise<void> => {
    const { child, pid } = await launchRedis(binary, args, (line) => log(`[${role} ${port}] ${line}`));
    running.set(port, { node: { host: HOST, port }, role, child, args, pid });
    await untilPong(port, 10_000);
  };

  const dataArgs = (port: number) => [
    '--port',
    String(port),
    '--bind',
    HOST,
    '--save',
    '',
    '--appendonly',
    'no',
    // A replica links in ~0.1 s instead of ~5 s.
    '--repl-diskless-sync',
    'yes',
    '--repl-diskless-sync-delay',
    '0',
  ];
  const set: SentinelSet = {
    masterName,
    sentinels: [],
    dataNodes: [],
    async primary() {
      for (const sentinel of set.sentinels) {
        try {
          const reply = await set.command(sentinel, 'SENTINEL', 'get-master-addr-by-name', masterName);
          const [host, port] = bulkStrings(reply);
          if (host && port) return { host, port: Number(port) };
        } catch {
          // that Sentinel is down: ask the next
        }
      }
      throw new Error('no Sentinel answered with a primary');
    },
    async kill(node, signal = 'SIGKILL') {
      const entry = running.get(node.port);
      if (!entry) return;
      try {
        process.kill(entry.pid, signal);
      } catch {
        // already gone
      }
      await untilRefused(entry.node.port, 10_000);
    },
    async restart(node) {
      const entry = running.get(node.port);
      if (!entry) throw new Error(`no Redis was started on port ${node.port}`);
      entry.child.stdin?.end(); // its watcher ends
      await launch(entry.role, entry.node.port, entry.args);
      const relayedPort = [...aliases].find(([, real]) => real === entry.node.port)?.[0];
      if (relayedPort !== undefined) running.set(relayedPort, running.get(entry.node.port) as Running);
    },
    async failover(old, withinMs) {
      const deadline = Date.now() + withinMs;
      for (;;) {
        const now = await set.primary().catch(() => undefined);
        if (now && now.port !== old.port) return now;
        if (Date.now() > deadline)
          throw new Error(`no failover within ${withinMs} ms (primary still ${old.port})`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    command: (node, ...args) => sendCommand(node.port, args),
    async role(node) {
      const info = parseReply(Buffer.from(await sendCommand(node.port, ['INFO', 'replication'])), 0)?.value;
      const text = typeof info === 'string' ? info : '';
      const field = (name: string) => new RegExp(`^${name}:(.*)$`, 'm').exec(text)?.[1]?.trim();
      const masterPort = field('master_port');
      return {
        role: field('role') ?? 'unknown',
        masterPort: masterPort ? Number(masterPort) : undefined,
        linkUp: field('master_link_status') === undefined ? undefined : field('master_link_status') === 'up',
      };
    },
    partition() {
      if (!options.partitionable)
        throw new Error('partition() needs startSentinelSet({ partitionable: true })');
      partitioned = true;
    },
    async stop() {
      for (const socket of relayed) socket.destroy();
      for (const server of relays) server.close();
      for (const port of aliases.keys()) running.delete(port);
      for (const entry of running.values()) {
        try {
          process.kill(entry.pid, 'SIGKILL');
        } catch {
          // gone
        }
        entry.child.stdin?.end();
      }
      await Promise.all(
        [...running.values()].map((entry) => untilRefused(entry.node.port, 5_000).catch(() => {})),
      );
      running.clear();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    const ownPort = await freePort();
    await launch('primary', ownPort, dataArgs(ownPort));
    // Partitionable: everyone knows the primary by its relay's port.
    const primaryPort = options.partitionable ? await relay(ownPort) : ownPort;
    if (primaryPort !== ownPort) {
      aliases.set(primaryPort, ownPort);
      running.set(primaryPort, running.get(ownPort) as Running);
    }
    set.dataNodes.push({ host: HOST, port: primaryPort });
    for (let i = 0; i < (options.replicas ?? 2); i++) {
      const port = await freePort();
      await launch('replica', port, [...dataArgs(port), '--replicaof', HOST, String(primaryPort)]);
      set.dataNodes.push({ host: HOST, port });
    }
    await Promise.all(
      Array.from({ length: sentinelCount }, async (_, index) => {
        const port = await freePort();
        const conf = join(dir, `sentinel-${index}.conf`);
        writeFileSync(
          conf,
          [
            `port ${port}`,
            `bind ${HOST}`,
            `sentinel monitor ${masterName} ${HOST} ${primaryPort} ${quorum}`,
            `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 2000}`,
            `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 6000}`,
            `sentinel parallel-syncs ${masterName} 1`,
            '',
          ].join('\n'),
        );
        await launch('sentinel', port, [conf, '--sentinel']);
        set.sentinels.push({ host: HOST, port });
      }),
    );
    await untilDiscovered(set, options.replicas ?? 2, options.discoveryTimeoutMs ?? 20_000);
    return set;
  } catch (error) {
    await set.stop();
    throw error;
  }
}

/** Until every Sentinel lists every other Sentinel and every replica (hello messages, every 2 s). */
async function untilDiscovered(set: SentinelSet, replicas: number, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  const count = async (sentinel: RedisNode, what: string) => {
    const reply = parseReply(Buffer.from(await set.command(sentinel, 'SENTINEL', what, set.masterName)), 0);
    return Array.isArray(reply?.value) ? reply.value.length : 0;
  };
  for (;;) {
    const known = await Promise.all(
      set.sentinels.map(async (sentinel) => ({
        sentinels: await count(sentinel, 'SENTINELS').catch(() => 0),
        replicas: await count(sentinel, 'REPLICAS').catch(() => 0),
      })),
    );
    if (known.every((k) => k.sentinels === set.sentinels.length - 1 && k.replicas === replicas)) return;
    if (Date.now() > deadline)
      throw new Error(`the Sentinels did not find each other and the replicas within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
