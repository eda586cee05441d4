/**
 * Lesson 07 — When Redis itself dies: a client that follows the primary     (edit this file)
 *
 * Until now every server was configured with ONE Redis (REDIS_URL): when it dies, every cart is gone
 * and every request fails until someone restarts it. From this lesson on, Redis is three processes
 * that copy each other (a primary and two replicas), watched by three Sentinels that vote a replica in
 * when the primary dies (README, "Replication, quorum, failover"). A server is configured with the
 * Sentinels, never with the primary: it asks them where the primary is, now and after every failover.
 * ./shop.ts (given) calls these four functions:
 *
 *   Step 1  sentinelOptions(config)          the client's options: which Sentinels, which name, the course's rules
 *           connectSentinel(config)          one client per process, connected, that never dies with Redis
 *   Step 2  cartConnection(client, ms)       each cart change acknowledged by a replica, or a 503
 *   Step 3  findPrimary(config)              a start that fails at once, in one line, on a bad configuration
 *
 * Run `npm test lessons/07` after each step: the first failure tells you what to do next.
 * Stuck? `npm run course -- hint 07` (one level of hint per call), or ../hints.md.
 */
import type { RedisClientType, RedisSentinelOptions, RedisSentinelType } from 'redis';
import { todo } from '../../../kit/todo';
import type { WithConnection } from './cart-app';
import type { SentinelConfig, SentinelNode } from './config';

const lesson = '07-redis-ha';
const file = 'src/sentinel.ts';

// Step 1 — a client that asks the Sentinels.
// TODO: the options of a node-redis Sentinel client: the Sentinels to ask (config.sentinels) and the
// name of the primary they watch (config.masterName) — never a primary's address. And the course's
// rules for every connection it opens, to the primary and to the Sentinels: named after the server
// (config.serverId, so CLIENT LIST tells whose it is), no offline queue (a command fails at once
// instead of waiting while a connection is down), and lesson 05's capped, jittered backoff
// (reconnectDelay, in solutions/05-production/src/redis.ts) — never giving up. A pool of a few
// connections to the primary: the cart operations each borrow one (WATCH and WAIT belong to a connection).
// The specs call this function in this process and read what it returns (options cannot be seen from
// outside), then run three servers on it through a real failover.
// Docs: https://github.com/redis/node-redis/blob/master/docs/sentinel.md
export function sentinelOptions(_config: SentinelConfig): RedisSentinelOptions {
  return todo({ lesson, file, step: 'Step 1 — a client that asks the Sentinels' });
}

// TODO: the client itself, built from sentinelOptions(config), connected, and given an 'error'
// listener that logs — a process with none dies on the first error the client reports (a Sentinel that
// is down is one). ./shop.ts calls this once per process. The specs connect one in this process (and
// count its listeners), start a server whose first Sentinel is down, and SIGKILL the primary under
// three servers: every 201 before the kill must be there after it, on every server, with no restart.
export async function connectSentinel(_config: SentinelConfig): Promise<RedisSentinelType> {
  return todo({ lesson, file, step: 'Step 1 — a client that asks the Sentinels' });
}

// Step 2 — acknowledged writes.
// TODO: a WithConnection (lesson 06's shape: ./shop.ts hands it to the cart routes) that runs each
// cart operation on a connection of `client` lent to it alone, and then — on that same connection —
// waits for ONE replica to confirm the change, for at most `waitTimeoutMs` (Redis's WAIT). No replica
// confirmed in time: throw a NotReplicatedError (./config.ts; the route answers 503), so the visitor is
// never told "saved" about a change that lives on the primary only. The specs cut the replicas off,
// then add to a cart: the add must be answered 503 within about waitTimeoutMs — and after the primary
// is SIGKILLed and a replica takes over, every add that was answered 201 must still be there.
// Docs: https://redis.io/docs/latest/commands/wait/ · https://github.com/redis/node-redis/blob/master/docs/sentinel.md
export function cartConnection(_client: RedisSentinelType, _waitTimeoutMs: number): WithConnection {
  return todo({ lesson, file, step: 'Step 2 — acknowledged writes' });
}

// Step 3 — refuse a bad configuration at startup.
// TODO: ask the Sentinels where the primary named config.masterName is (each one, for at most
// `withinMs`; one that does not answer is skipped) and give back its address. No Sentinel answered at
// all, or those that answered know no primary by that name: throw a StartupError (./config.ts) whose
// message is ONE line that tells the two apart and names the setting to fix (REDIS_SENTINELS or
// REDIS_MASTER_NAME). ./server.ts prints it and exits 1. The specs start servers on a list of dead
// ports and on a wrong name, and time the exit; they call this function in this process, too.
// Docs: https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/#obtaining-the-address-of-the-current-master
export async function findPrimary(_config: SentinelConfig, _withinMs = 2_000): Promise<SentinelNode> {
  return todo({ lesson, file, step: 'Step 3 — refuse a bad configuration at startup' });
}

/** The connection a cart operation is given is a pool lease: it has every command a client has. */
export type CartConnection = RedisClientType;
