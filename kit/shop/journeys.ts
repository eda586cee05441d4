/**
 * What a visitor does on the live shop's page, step by step, through a real (headless) Chromium: the
 * shop's browser specs and `npm run shop:screenshots` run these same steps. Each step waits for what
 * the page shows afterwards (a real condition, bounded), never for a fixed time.
 */
/// <reference lib="dom" />
import type { Page } from 'playwright-core';

/** Generous: two cores shared with other spec runs. */
export const STEP_TIMEOUT_MS = 15_000;

export interface ServerCard {
  id: string;
  status: string;
  answered: boolean;
  /** Sticky: sessions in its memory; stateless: 0 (see redisSessions). */
  sessions: number;
  redisSessions: number | null;
  text: string;
}

export interface LogRow {
  method: string;
  path: string;
  servedBy: string;
  status: string;
}

export async function openShop(page: Page, url: string): Promise<void> {
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: STEP_TIMEOUT_MS });
  await idle(page);
}

/** The page has finished its current action (every button is back). */
export async function idle(page: Page): Promise<void> {
  await page.waitForSelector('body[data-busy="false"]', { timeout: STEP_TIMEOUT_MS });
}

export async function addPreset(page: Page, name: string): Promise<void> {
  const before = await logLength(page);
  const option = await page.$$eval(
    '[data-testid="item"] option',
    (options, wanted) =>
      options.find((option) => option.textContent?.startsWith(`${wanted} —`))?.getAttribute('value'),
    name,
  );
  if (option == null) throw new Error(`The item picker has no "${name}"`);
  await page.selectOption('[data-testid="item"]', option);
  await page.click('[data-testid="add"]');
  await afterRequests(page, before);
}

export async function addCustom(page: Page, name: string, price: number): Promise<void> {
  const before = await logLength(page);
  await page.fill('[data-testid="custom-name"]', name);
  await page.fill('[data-testid="custom-price"]', String(price));
  await page.click('[data-testid="add-custom"]');
  await afterRequests(page, before);
}

export async function removeItem(page: Page, index: number): Promise<void> {
  const before = await logLength(page);
  await page.click(`[data-testid="cart-item"]:nth-child(${index + 1}) button[data-action="remove"]`);
  await afterRequests(page, before);
}

export async function emptyCart(page: Page): Promise<void> {
  const before = await logLength(page);
  await page.click('[data-testid="empty"]');
  await afterRequests(page, before);
}

export async function cartItems(page: Page): Promise<string[]> {
  return page.$$eval('[data-testid="cart-item"] .name', (names) =>
    names.map((name) => name.textContent ?? ''),
  );
}

export async function cartTotal(page: Page): Promise<string> {
  return (await page.textContent('[data-testid="cart-total"]')) ?? '';
}

export async function notice(page: Page): Promise<{ kind: string; text: string }> {
  return page.$eval('[data-testid="notice"]', (box) => ({
    kind: (box as HTMLElement).dataset.kind ?? '',
    text: box.textContent ?? '',
  }));
}

export async function servers(page: Page): Promise<ServerCard[]> {
  return page.$$eval('article[data-server]', (cards) =>
    cards.map((card) => {
      const node = card as HTMLElement;
      const holds = node.querySelector('[data-testid="holds"]') as HTMLElement | null;
      return {
        id: node.dataset.server ?? '',
        status: node.dataset.status ?? '',
        answered: node.dataset.answered === 'true',
        sessions: Number(holds?.dataset.sessions ?? 'NaN'),
        redisSessions:
          holds?.dataset.redisSessions === undefined ? null : Number(holds.dataset.redisSessions),
        text: node.textContent ?? '',
      };
    }),
  );
}

export async function answeringServer(page: Page): Promise<string> {
  const answered = (await servers(page)).filter((card) => card.answered);
  if (answered.length !== 1)
    throw new Error(`Expected one server card marked as answering, found ${answered.length}`);
  return answered[0].id;
}

/** Newest first, as the page shows them. */
export async function logRows(page: Page): Promise<LogRow[]> {
  return page.$$eval('[data-testid="log"] tr', (rows) =>
    rows.map((row) => {
      const cells = Array.from(row.querySelectorAll('td')).map((cell) => cell.textContent ?? '');
      return { method: cells[1], path: cells[2], servedBy: cells[3], status: cells[4] };
    }),
  );
}

export async function crashServer(page: Page, id: string): Promise<void> {
  await page.click(`[data-server="${id}"] button[data-action="crash"]`);
  await page.waitForSelector(`[data-server="${id}"][data-status="down"]`, { timeout: STEP_TIMEOUT_MS });
  await idle(page);
}

export async function restartServer(page: Page, id: string): Promise<void> {
  await page.click(`[data-server="${id}"] button[data-action="restart"]`);
  await page.waitForSelector(`[data-server="${id}"][data-status="up"]`, { timeout: STEP_TIMEOUT_MS });
  await idle(page);
}

export interface BlackFridayNumbers {
  carts: number;
  lost: number;
  intact: number;
  onCrashed: number;
  text: string;
}

export async function runBlackFriday(page: Page, timeoutMs = 60_000): Promise<BlackFridayNumbers> {
  await page.click('[data-testid="black-friday"]');
  await page.waitForSelector('[data-testid="bf-result"]:not([hidden])', { timeout: timeoutMs });
  await idle(page);
  return page.$eval('[data-testid="bf-result"]', (box) => {
    const data = (box as HTMLElement).dataset;
    return {
      carts: Number(data.carts),
      lost: Number(data.lost),
      intact: Number(data.intact),
      onCrashed: Number(data.onCrashed),
      text: box.textContent ?? '',
    };
  });
}

async function logLength(page: Page): Promise<number> {
  return page.$eval('body', (body) => Number((body as HTMLElement).dataset.requests ?? 0));
}

/** Waits until the page sent a request after the `before`-th one, and finished the action. */
async function afterRequests(page: Page, before: number): Promise<void> {
  await page.waitForFunction((previous) => Number(document.body.dataset.requests ?? 0) > previous, before, {
    timeout: STEP_TIMEOUT_MS,
  });
  await idle(page);
}

/** Waits until a server's card shows `status` (the page refreshes the shop's state every second). */
export async function serverIs(page: Page, id: string, status: string): Promise<void> {
  await page.waitForSelector(`[data-server="${id}"][data-status="${status}"]`, { timeout: STEP_TIMEOUT_MS });
}

/** Waits until a server's card says it holds `sessions` sessions in its memory (sticky). */
export async function holdsInMemory(page: Page, id: string, sessions: number): Promise<void> {
  await page.waitForSelector(`[data-server="${id}"] [data-testid="holds"][data-sessions="${sessions}"]`, {
    timeout: STEP_TIMEOUT_MS,
  });
}

/** Waits until every card says Redis holds `sessions` sessions (stateless). */
export async function redisHolds(page: Page, sessions: number): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const counts = Array.from(document.querySelectorAll<HTMLElement>('[data-testid="holds"]')).map(
        (holds) => holds.dataset.redisSessions,
      );
      return counts.length === 3 && counts.every((count) => count === String(wanted));
    },
    sessions,
    { timeout: STEP_TIMEOUT_MS },
  );
}

// ── the stories: the specs check them, `npm run shop:screenshots` photographs them ────────────────

/** The course's shopper: a MacBook Pro (2500) and an iPhone 15 (1200), 3700 in all. */
export async function fillCart(page: Page): Promise<void> {
  await addPreset(page, 'MacBook Pro');
  await addPreset(page, 'iPhone 15');
}

/** Crashes the server that answered the last request (its card is highlighted); returns its id. */
export async function crashTheAnsweringServer(page: Page): Promise<string> {
  const id = await answeringServer(page);
  await crashServer(page, id);
  return id;
}
