/**
 * `npm run shop:client -- [url]` — the scripted shopper, against any shop URL (default
 * http://127.0.0.1:8080): add a MacBook Pro (2500) and an iPhone 15 (1200), crash the server that
 * answered, read the cart back, and say "CART LOST!" or "Cart survived!".
 *
 * Against `npm run shop` it crashes that server through the shop's control API (by name). Against any
 * other shop (your own lesson 04 balancer in front of chaos-enabled servers, say) it sends POST /crash
 * through the URL with the shopper's cookies: a sticky balancer sends it to the shopper's server; a
 * round-robin one to whichever is next, and the client says which one it was.
 *
 * Exit code 0 when the story ran to the end (either ending is a lesson), 1 when it could not, 2 for a
 * bad URL.
 */
import { type Answer, Visitor } from '../spec/browser';
import { iphone, macbook } from '../spec/shop';
import { pollUntil } from '../spec/wait';

export const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface ClientResult {
  outcome: 'lost' | 'survived';
  crashed: string;
  /** What came back after the crash. */
  items: Array<{ name: string; price: number }>;
  readBy: string | null;
}

export async function runClient(
  url: string,
  say: (line: string) => void = console.log,
): Promise<ClientResult> {
  const shop = { url: new URL(url).origin };
  const shopper = new Visitor();
  const hasControl = await controlApi(shop.url);
  say(`🛒 shopping at ${shop.url}${hasControl ? ' (a live shop: crashes go through its control API)' : ''}`);

  let last: Answer | undefined;
  for (const item of [macbook, iphone]) {
    last = await shopper.post(shop, '/cart/items', item);
    if (last.status !== 201) throw new Error(`POST /cart/items answered ${last.status}: ${describe(last)}`);
    say(
      `   added ${item.name} (${item.price}) — served by ${last.servedBy ?? '?'} → total ${last.body.total}`,
    );
  }
  const answered = last?.servedBy;
  if (!answered) throw new Error('the answers carry no X-Served-By header: which server answered is unknown');

  let crashed = answered;
  if (hasControl) {
    const res = await fetch(`${shop.url}/shop/api/servers/${encodeURIComponent(answered)}/crash`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
      signal: AbortSignal.timeout(15_000),
    });
    const body = (await res.json().catch(() => ({}))) as { message?: string; how?: string };
    if (!res.ok) throw new Error(`crashing ${answered} failed: ${res.status} ${body.message ?? ''}`);
    say(`💥 crashed ${answered}, the server that answered (${body.how ?? 'POST /crash'})`);
  } else {
    const res = await shopper.post(shop, '/crash');
    if (res.status !== 202)
      throw new Error(
        `POST /crash answered ${res.status}: ${describe(res)} (is ENABLE_CHAOS=1 set on the servers?)`,
      );
    crashed = res.servedBy ?? answered;
    say(
      crashed === answered
        ? `💥 POST /crash → ${crashed}, the server that answered`
        : `💥 POST /crash → the balancer sent it to ${crashed}, not ${answered} (round-robin: the next server in turn)`,
    );
    // It answers 202, then exits: wait until reads stop coming from it (bounded), so the read below is after the crash.
    await pollUntil(
      () => shopper.get(shop, '/health').catch(() => undefined),
      (health) => health?.servedBy !== crashed,
      5_000,
    );
  }

  const back = await shopper.get(shop, '/cart');
  if (back.status !== 200) throw new Error(`GET /cart answered ${back.status}: ${describe(back)}`);
  const items: ClientResult['items'] = back.body.items ?? [];
  const list = items.length ? items.map((item) => `${item.name} (${item.price})`).join(', ') : 'EMPTY';
  say(`   read back — served by ${back.servedBy ?? '?'} → 🛒 ${list}`);
  const survived =
    items.length === 2 &&
    items[0]?.name === macbook.name &&
    items[1]?.name === iphone.name &&
    back.body.total === 3700;
  say(survived ? '✅ Cart survived!' : '❌ CART LOST!');
  return { outcome: survived ? 'survived' : 'lost', crashed, items, readBy: back.servedBy };
}

/** Whether this URL is a live shop (`npm run shop`): its state answers JSON with three servers. */
async function controlApi(origin: string): Promise<boolean> {
  try {
    const res = await fetch(`${origin}/shop/api/state`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json()) as { servers?: unknown };
    return res.ok && Array.isArray(body.servers);
  } catch {
    return false;
  }
}

function describe(answer: Answer): string {
  return typeof answer.body === 'object' && answer.body?.message
    ? answer.body.message
    : JSON.stringify(answer.body);
}

async function main(): Promise<void> {
  const arg = process.argv[2] ?? DEFAULT_URL;
  if (!URL.canParse(arg) || !/^https?:$/.test(new URL(arg).protocol)) {
    console.error(`shop:client: "${arg}" is not an http:// URL (e.g. ${DEFAULT_URL})`);
    process.exit(2);
  }
  try {
    await runClient(arg);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(
      `shop:client: ${message}${/no answer/.test(message) ? ` — is a shop running there? (npm run shop)` : ''}`,
    );
    process.exit(1);
  }
}

if (require.main === module) void main();
