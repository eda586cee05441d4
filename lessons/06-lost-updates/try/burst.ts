/**
 * Lesson 06 — try it: the first spec's burst, as often as you like (README, "Run the specs"). One add,
 * then 20 at once with the same cookie, alternating over the servers given, then GET: how many of the
 * 21 items are kept. Not part of the specs.
 *
 *   npx tsx lessons/06-lost-updates/try/burst.ts /v1/cart http://127.0.0.1:3001,http://127.0.0.1:3002 200
 *   npx tsx lessons/06-lost-updates/try/burst.ts /cart http://127.0.0.1:3001 200 --one-by-one
 *
 * Arguments: the cart's path (/v1/cart: lessons 01–05's cart in the session; /cart: yours), the
 * servers, how many bursts (default 10); --one-by-one sends the 20 one after the other instead.
 */
const [path = '/v1/cart', list = 'http://127.0.0.1:3001', bursts = '10'] = process.argv.slice(2);
const oneByOne = process.argv.includes('--one-by-one');
const servers = list.split(',');

async function post(url: string, cookie: string | undefined, item: object): Promise<string | undefined> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
    body: JSON.stringify(item),
  });
  await res.arrayBuffer();
  return res.headers
    .getSetCookie()
    .find((line) => line.startsWith('connect.sid='))
    ?.split(';')[0];
}

async function burst(): Promise<number> {
  const cookie = await post(`${servers[0]}${path}/items`, undefined, { name: 'item 0', price: 1 });
  const add = (i: number) =>
    post(`${servers[i % servers.length]}${path}/items`, cookie, { name: `item ${i}`, price: 1 });
  if (oneByOne) for (let i = 1; i <= 20; i++) await add(i);
  else await Promise.all(Array.from({ length: 20 }, (_, i) => add(i + 1)));
  const res = await fetch(`${servers[0]}${path}`, { headers: cookie ? { cookie } : {} });
  const cart = (await res.json()) as { items: Array<{ quantity?: number }> };
  return cart.items.reduce((sum, line) => sum + (line.quantity ?? 1), 0);
}

async function main(): Promise<void> {
  const kept: number[] = [];
  for (let i = 0; i < Number(bursts); i++) kept.push(await burst());
  kept.sort((a, b) => a - b);
  const median = kept[Math.floor(kept.length / 2)];
  console.log(
    `${kept.length} bursts on ${path} (${servers.length} server${servers.length === 1 ? '' : 's'}${oneByOne ? ', one by one' : ''}): ` +
      `kept ${kept[0]}–${kept[kept.length - 1]} of 21, median ${median}`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
