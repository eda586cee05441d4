/// <reference lib="dom" />
/**
 * The live shop's page (compiled by esbuild when the shop starts, served as /shop/app.js).
 *
 * Cart requests (GET /cart, POST /cart/items, DELETE /cart) go to this page's own origin, where lesson
 * 04's balancer routes them to a server process: what answers is whatever server the balancer chose,
 * named by its X-Served-By header. The shop's commands (crash, restart, Black Friday) and its state go
 * to /shop/api/…, the shop's own, never a lesson server.
 *
 * Every value shown is put in the page as text (textContent, text nodes), never as HTML: an item
 * named "<img src=x onerror=…>" is shown as those characters.
 */
// Types only (erased when esbuild compiles the page): the shape of what /shop/api/state answers.
import type { BlackFridayResult } from '../black-friday';
import type { ServerView } from '../fleet';
import type { ShopState } from '../shop';

interface Item {
  name: string;
  price: number;
}

interface LogEntry {
  at: Date;
  method: string;
  path: string;
  servedBy: string;
  status: number | string;
  ms: number;
}

interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON from the server, checked where it is used.
  body: any;
  servedBy: string | null;
}

const PRESETS: Item[] = [
  { name: 'MacBook Pro', price: 2500 },
  { name: 'iPhone 15', price: 1200 },
  { name: 'AirPods', price: 250 },
  { name: 'USB-C cable', price: 19 },
];
const LOG_ROWS = 12;

let cart: Item[] = [];
let total = 0;
let lastServedBy: string | null = null;
let shop: ShopState | undefined;
const log: LogEntry[] = [];
const cards = new Map<string, HTMLElement>();
let working = false;

function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from the page`);
  return found as T;
}

/** An element with text (never HTML) and attributes. */
function el(
  tag: string,
  props: { className?: string; text?: string; data?: Record<string, string> } = {},
  ...children: Array<Node | string>
): HTMLElement {
  const node = document.createElement(tag);
  if (props.className) node.className = props.className;
  if (props.text !== undefined) node.textContent = props.text;
  for (const [key, value] of Object.entries(props.data ?? {})) node.dataset[key] = value;
  for (const child of children) node.append(child); // a string becomes a text node
  return node;
}

const money = (value: number) =>
  value.toLocaleString('en-US', { minimumFractionDigits: 0, maximumFractionDigits: 2 });
const count = (value: number) => value.toLocaleString('en-US');

// ── requests ────────────────────────────────────────────────────────────────────────────────────

let requests = 0;

function remember(entry: LogEntry): void {
  document.body.dataset.requests = String(++requests);
  log.unshift(entry);
  log.length = Math.min(log.length, LOG_ROWS);
  renderLog();
}

async function parse(res: Response): Promise<unknown> {
  const text = await res.text();
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** A cart request: to this origin, where the balancer picks a server. */
async function routed(method: string, path: string, item?: Item): Promise<Answer> {
  const started = performance.now();
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers: item ? { 'Content-Type': 'application/json' } : {},
      body: item ? JSON.stringify(item) : undefined,
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (error) {
    remember({
      at: new Date(),
      method,
      path,
      servedBy: '—',
      status: 'no answer',
      ms: performance.now() - started,
    });
    throw error;
  }
  const body = await parse(res);
  const servedBy = res.headers.get('X-Served-By');
  const ms = performance.now() - started;
  lastServedBy = servedBy;
  remember({ at: new Date(), method, path, servedBy: servedBy ?? '— (balancer)', status: res.status, ms });
  renderServers();
  return { status: res.status, body, servedBy };
}

/** A shop command: POST /shop/api/…, JSON in and out. */
async function command<T>(path: string): Promise<T> {
  const started = performance.now();
  const res = await fetch(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: '{}',
    credentials: 'same-origin',
    cache: 'no-store',
  });
  const body = (await parse(res)) as T & { message?: string };
  remember({
    at: new Date(),
    method: 'POST',
    path,
    servedBy: 'shop',
    status: res.status,
    ms: performance.now() - started,
  });
  if (!res.ok)
    throw new Error(typeof body?.message === 'string' ? body.message : `${path} answered ${res.status}`);
  return body;
}

async function refreshState(): Promise<void> {
  try {
    const res = await fetch('/shop/api/state', { cache: 'no-store' });
    if (res.ok) shop = (await res.json()) as ShopState;
  } catch {
    // The shop stopped (Ctrl-C): keep what we had; the next refresh tells.
  }
  render();
}

// ── the cart ────────────────────────────────────────────────────────────────────────────────────

function takeCart(answer: Answer): boolean {
  if (answer.status >= 200 && answer.status < 300 && Array.isArray(answer.body?.items)) {
    cart = answer.body.items as Item[];
    total = Number(answer.body.total) || 0;
    renderCart();
    return true;
  }
  notice('error', messageOf(answer));
  return false;
}

function messageOf(answer: Answer): string {
  const message =
    typeof answer.body?.message === 'string' ? answer.body.message : JSON.stringify(answer.body);
  return `${answer.status}${answer.servedBy ? ` from ${answer.servedBy}` : ''}: ${message}`;
}

async function loadCart(): Promise<Answer> {
  const answer = await routed('GET', '/cart');
  takeCart(answer);
  return answer;
}

async function add(item: Item): Promise<void> {
  const answer = await routed('POST', '/cart/items', item);
  if (takeCart(answer)) notice('', '');
}

/**
 * The course's cart API has no "remove one item" route (and the lesson servers stay as they are), so
 * the page does what any client of that API must: empty the cart, then add back the others. Every
 * one of those requests is in the log.
 */
async function removeAt(index: number): Promise<void> {
  const keep = cart.filter((_, at) => at !== index);
  let answer = await routed('DELETE', '/cart');
  if (!takeCart(answer)) return;
  for (const item of keep) {
    answer = await routed('POST', '/cart/items', item);
    if (!takeCart(answer)) return;
  }
  notice(
    'info',
    `Removed: the cart was emptied and ${keep.length} item(s) added back (the API has no “remove one”).`,
  );
}

async function empty(): Promise<void> {
  if (takeCart(await routed('DELETE', '/cart'))) notice('', '');
}

// ── the servers ─────────────────────────────────────────────────────────────────────────────────

async function crash(id: string): Promise<void> {
  const before = cart.slice();
  notice('info', `Crashing ${id}…`);
  await command(`/shop/api/servers/${encodeURIComponent(id)}/crash`);
  await refreshState();
  const after = await loadCart();
  explainCrash(id, before, after);
}

async function restart(id: string): Promise<void> {
  notice('info', `Restarting ${id}…`);
  await command(`/shop/api/servers/${encodeURIComponent(id)}/restart`);
  await refreshState();
  await loadCart();
  notice(
    'info',
    shop?.mode === 'sticky'
      ? `${id} is back, with an empty memory: the sessions it held are gone for good.`
      : `${id} is back. It never held a cart: nothing to recover.`,
  );
}

function sameCart(a: Item[], b: Item[]): boolean {
  return (
    a.length === b.length &&
    a.every((item, index) => item.name === b[index].name && item.price === b[index].price)
  );
}

function explainCrash(id: string, before: Item[], after: Answer): void {
  const now = after.servedBy ?? 'no server';
  if (after.status !== 200) {
    notice('error', `${id} crashed, and reading your cart back failed: ${messageOf(after)}`);
  } else if (before.length === 0) {
    notice(
      'info',
      `${id} crashed. Your cart was empty, so there was nothing to lose: fill it, then crash the server that answers.`,
    );
  } else if (sameCart(before, cart)) {
    notice(
      'survived',
      shop?.mode === 'sticky'
        ? `Cart survived: ${id} crashed, but your cart is in the memory of ${now}, the server you are pinned to, which is still up.`
        : `Cart survived! ${id} crashed, and ${now} read your cart from Redis: no server holds it, any server can serve it.`,
    );
  } else {
    notice(
      'lost',
      `CART LOST! Your cart lived in ${id}'s memory, and ${id} crashed. The balancer sent you to ${now}, which has never seen your session.`,
    );
  }
}

// ── Black Friday ────────────────────────────────────────────────────────────────────────────────

async function blackFriday(): Promise<void> {
  notice('', '');
  byId('bf-result').hidden = true;
  const polling = setInterval(refreshState, 250);
  try {
    const result = await command<BlackFridayResult>('/shop/api/black-friday');
    renderBlackFriday(result);
  } finally {
    clearInterval(polling);
  }
  await refreshState();
  await loadCart();
}

function renderBlackFriday(result: BlackFridayResult): void {
  const box = byId('bf-result');
  const number = (value: string, label: string, className = '', testId = '') =>
    el(
      'div',
      { className: `number ${className}`, data: testId ? { testid: testId } : {} },
      el('strong', { text: value }),
      el('span', { text: label }),
    );
  const spread = Object.entries(result.filledOn)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, n]) => `${id} ${count(n)}`)
    .join(' · ');
  const onCrashed = result.filledOn[result.crashed] ?? 0;
  const sticky = shop?.mode === 'sticky';
  box.replaceChildren(
    el(
      'div',
      { className: 'numbers' },
      number(count(result.carts), 'carts filled', '', 'bf-carts'),
      number(count(onCrashed), `filled on ${result.crashed}`, '', 'bf-on-crashed'),
      number(count(result.lost), 'carts lost', result.lost > 0 ? 'lost' : 'none-lost', 'bf-lost'),
      number(count(result.intact), 'carts intact', '', 'bf-intact'),
    ),
    el('p', {
      text: `Filled on: ${spread}. Then ${result.crashed} crashed (${result.crashedHow}), and every shopper read their cart back (${count(result.ms)} ms in all).`,
    }),
    el('p', {
      text: sticky
        ? `Sticky sessions: the ${count(onCrashed)} carts in ${result.crashed}'s memory died with it; ${count(result.lost)} lost. The balancer sent their shoppers elsewhere, to servers that never saw them.`
        : `Sessions in Redis: ${count(result.lost)} lost. ${result.crashed} held none of the carts; the other servers read them all back${result.sessionsInRedis != null ? ` (sessions in Redis: ${count(result.sessionsInRedis)})` : ''}.`,
    }),
  );
  box.dataset.carts = String(result.carts);
  box.dataset.lost = String(result.lost);
  box.dataset.intact = String(result.intact);
  box.dataset.onCrashed = String(onCrashed);
  box.hidden = false;
}

// ── rendering ───────────────────────────────────────────────────────────────────────────────────

function notice(kind: '' | 'lost' | 'survived' | 'info' | 'error', text: string): void {
  const box = byId('notice');
  box.className = kind;
  box.dataset.kind = kind;
  box.textContent = text;
}

function renderCart(): void {
  const list = byId('cart-items');
  if (cart.length === 0) {
    list.replaceChildren(el('li', { className: 'empty', text: 'Your cart is empty.' }));
  } else {
    list.replaceChildren(
      ...cart.map((item, index) => {
        const remove = el('button', {
          className: 'secondary',
          text: 'Remove',
          data: { action: 'remove', index: String(index) },
        });
        return el(
          'li',
          { data: { testid: 'cart-item' } },
          el('span', { className: 'name', text: item.name }),
          el('span', { className: 'price', text: money(item.price) }),
          remove,
        );
      }),
    );
  }
  byId('cart-total').textContent = money(total);
}

function renderMode(): void {
  if (!shop) return;
  const box = byId('mode');
  const code = shop.code === 'yours' ? 'your code in lessons/' : 'the finished lessons';
  box.replaceChildren(
    el('strong', { text: shop.mode === 'sticky' ? 'Sticky' : 'Stateless' }),
    shop.mode === 'sticky'
      ? `: sessions live in each server's memory (lesson ${shop.serverLesson} servers); lesson 04's balancer pins you to one server with its lb cookie. Running ${code}.`
      : `: sessions live in Redis (lesson ${shop.serverLesson} servers); lesson 04's balancer sends each request to the next server in turn. Running ${code}.`,
  );
  byId('servers-hint').textContent =
    shop.mode === 'sticky'
      ? 'Sessions in memory are counted by the shop, from outside: the session cookies each server set, minus the carts emptied and everything a crash took. The lesson 02 server has no way to report them itself.'
      : `Sessions in Redis: the keys under “${shop.redis?.prefix ?? 'sess:'}” in the shop's Redis. The servers hold none of them.`;
  byId('bf-hint').textContent =
    `${count(shop.blackFriday.carts)} shoppers fill a cart each (two items), then ${shop.blackFriday.crashes} crashes, then every shopper reads their cart back. All through the balancer, all real requests.`;
  byId('bf').textContent = `Black Friday: ${count(shop.blackFriday.carts)} carts`;
}

function card(view: ServerView): HTMLElement {
  let node = cards.get(view.id);
  if (!node) {
    node = el(
      'article',
      { className: 'server', data: { server: view.id } },
      el('h3', {}, el('span', { className: 'id', text: view.id }), el('span', { className: 'badge' })),
      el('p', { className: 'answered' }),
      el('p', { className: 'meta' }),
      el('p', { className: 'holds', data: { testid: 'holds' } }),
      el('p', { className: 'served' }),
      el(
        'div',
        { className: 'actions' },
        el('button', { text: 'Crash', data: { action: 'crash', server: view.id } }),
        el('button', {
          className: 'secondary',
          text: 'Restart',
          data: { action: 'restart', server: view.id },
        }),
      ),
    );
    cards.set(view.id, node);
    byId('servers').append(node);
  }
  return node;
}

function renderServers(): void {
  for (const view of shop?.servers ?? []) {
    const node = card(view);
    const answered = view.id === lastServedBy;
    node.dataset.status = view.status;
    node.dataset.answered = String(answered);
    const part = (selector: string) => node.querySelector(selector) as HTMLElement;
    part('.badge').textContent = view.status;
    part('.answered').textContent = answered ? '★ answered your last request' : '';
    part('.meta').textContent =
      view.status === 'down'
        ? `lesson ${view.lesson} · port ${view.port} · ${view.lastExit ?? 'down'}`
        : `lesson ${view.lesson} · pid ${view.pid ?? '—'} · port ${view.port}`;
    const holds = part('.holds');
    if (view.sessionsInMemory !== null) {
      holds.replaceChildren('sessions in its memory: ', el('strong', { text: count(view.sessionsInMemory) }));
      holds.dataset.sessions = String(view.sessionsInMemory);
    } else {
      const inRedis = shop?.redis?.sessions ?? 0;
      holds.replaceChildren(
        'no sessions of its own · sessions in Redis: ',
        el('strong', { text: inRedis < 0 ? '?' : count(inRedis) }),
      );
      holds.dataset.sessions = '0';
      holds.dataset.redisSessions = String(inRedis);
    }
    part('.served').textContent = `requests served: ${count(view.served)}`;
    const busy = working || Boolean(shop?.blackFriday.running);
    (part('[data-action="crash"]') as HTMLButtonElement).disabled = busy || view.status !== 'up';
    (part('[data-action="restart"]') as HTMLButtonElement).disabled = busy || view.status !== 'down';
  }
}

function renderBlackFridayProgress(): void {
  const run = shop?.blackFriday;
  const text = byId('bf-progress');
  const button = byId<HTMLButtonElement>('bf');
  button.disabled = working || Boolean(run?.running);
  if (run?.running && run.progress) {
    const { phase, done, total: all } = run.progress;
    const words: Record<string, string> = {
      restarting: 'restarting the servers that are down…',
      filling: `filling carts: ${count(done)} / ${count(all)}`,
      crashing: `crashing ${run.crashes}…`,
      reading: `reading carts back: ${count(done)} / ${count(all)}`,
    };
    text.textContent = words[phase] ?? phase;
  } else {
    text.textContent = run?.error ? `The run failed: ${run.error}` : '';
  }
}

function renderLog(): void {
  byId('log').replaceChildren(
    ...log.map((entry) =>
      el(
        'tr',
        {
          className: typeof entry.status === 'number' && entry.status < 400 ? '' : 'failed',
          data: { servedBy: entry.servedBy },
        },
        el('td', { text: entry.at.toLocaleTimeString('en-GB') }),
        el('td', { text: entry.method }),
        el('td', { className: 'path', text: entry.path }),
        el('td', { text: entry.servedBy }),
        el('td', { text: String(entry.status) }),
        el('td', { text: `${Math.round(entry.ms)} ms` }),
      ),
    ),
  );
}

function render(): void {
  renderMode();
  renderServers();
  renderBlackFridayProgress();
}

// ── wiring ──────────────────────────────────────────────────────────────────────────────────────

/** One action at a time: the buttons are off while it runs, and a failure says why. */
async function act(work: () => Promise<void>): Promise<void> {
  if (working) return;
  working = true;
  document.body.dataset.busy = 'true';
  render();
  try {
    await work();
  } catch (error) {
    notice('error', error instanceof Error ? error.message : String(error));
  }
  try {
    // What the servers hold now, before the buttons come back (not at the next second's refresh).
    await refreshState();
  } finally {
    working = false;
    document.body.dataset.busy = 'false';
    render();
  }
}

function start(): void {
  const select = byId<HTMLSelectElement>('item');
  PRESETS.forEach((item, index) => {
    const option = el('option', { text: `${item.name} — ${money(item.price)}` }) as HTMLOptionElement;
    option.value = String(index);
    select.append(option);
  });

  byId('pick').addEventListener('submit', (event) => {
    event.preventDefault();
    void act(() => add(PRESETS[Number(select.value)]));
  });
  byId('custom').addEventListener('submit', (event) => {
    event.preventDefault();
    const name = byId<HTMLInputElement>('custom-name').value;
    const price = Number(byId<HTMLInputElement>('custom-price').value);
    void act(() => add({ name, price }));
  });
  byId('empty').addEventListener('click', () => void act(empty));
  byId('cart-items').addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLElement>('button[data-action="remove"]');
    if (button) void act(() => removeAt(Number(button.dataset.index)));
  });
  byId('servers').addEventListener('click', (event) => {
    const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-action]');
    const id = button?.dataset.server;
    if (!button || !id || button.disabled) return;
    void act(() => (button.dataset.action === 'crash' ? crash(id) : restart(id)));
  });
  byId('bf').addEventListener('click', () => void act(blackFriday));

  const poll = async () => {
    await refreshState();
    setTimeout(poll, 1_000);
  };
  void act(async () => {
    await refreshState();
    await loadCart();
    document.body.dataset.ready = 'true';
  }).then(() => setTimeout(poll, 1_000));
}

start();
