/**
 * `npm run shop:screenshots` — the PNGs of kit/shop/screenshots/, regenerated from the same journeys
 * the browser specs run (kit/shop/journeys.ts), on both shops, in a headless Chromium:
 *
 *   sticky-cart-lost.png          a cart filled, the server that answered crashed: CART LOST!
 *   stateless-cart-survived.png   the same on the stateless shop: Cart survived!
 *   sticky-black-friday.png       the Black Friday crowd on the sticky shop: server-3's carts lost
 *   stateless-black-friday.png    the same crowd on the stateless shop: none lost
 *
 *   npm run shop:screenshots                  the default crowd (1,000 carts, as `npm run shop`)
 *   npm run shop:screenshots -- --carts 200   a smaller one
 */
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ROOT } from '../jest/target';
import { launchChromium } from './chromium';
import { crashTheAnsweringServer, fillCart, openShop, runBlackFriday } from './journeys';
import { DEFAULT_CARTS, type Shop, startShop } from './shop';

export const SCREENSHOTS_DIR = join(__dirname, 'screenshots');
const VIEWPORT = { width: 1280, height: 900 };

async function onNewPage(browser: Browser, shop: Shop, story: (page: Page) => Promise<void>): Promise<void> {
  const context = await browser.newContext({ viewport: VIEWPORT, deviceScaleFactor: 1 });
  try {
    const page = await context.newPage();
    await openShop(page, shop.url);
    await story(page);
  } finally {
    await context.close();
  }
}

async function shoot(page: Page, name: string): Promise<void> {
  const path = join(SCREENSHOTS_DIR, name);
  await page.screenshot({ path, fullPage: true, animations: 'disabled' });
  console.log(`  ${relative(ROOT, path)}`);
}

async function main(): Promise<void> {
  const at = process.argv.indexOf('--carts');
  const carts = at > 0 ? Number(process.argv[at + 1]) : DEFAULT_CARTS;
  if (!Number.isInteger(carts) || carts < 1) {
    console.error('shop:screenshots: --carts needs a whole number');
    process.exit(2);
  }
  mkdirSync(SCREENSHOTS_DIR, { recursive: true });
  const started = performance.now();
  const [browser, sticky, stateless] = await Promise.allSettled([
    launchChromium(),
    startShop({ mode: 'sticky', port: 0, blackFridayCarts: carts }),
    startShop({ mode: 'stateless', port: 0, blackFridayCarts: carts }),
  ]);
  try {
    for (const part of [browser, sticky, stateless]) if (part.status === 'rejected') throw part.reason;
    const chromium = (browser as PromiseFulfilledResult<Browser>).value;
    const shops = {
      sticky: (sticky as PromiseFulfilledResult<Shop>).value,
      stateless: (stateless as PromiseFulfilledResult<Shop>).value,
    };
    console.log('shop:screenshots → kit/shop/screenshots/');
    const crashStory = (name: string) => async (page: Page) => {
      await fillCart(page);
      await crashTheAnsweringServer(page);
      await shoot(page, name);
    };
    await onNewPage(chromium, shops.sticky, crashStory('sticky-cart-lost.png'));
    await onNewPage(chromium, shops.stateless, crashStory('stateless-cart-survived.png'));
    const crowdStory = (name: string) => async (page: Page) => {
      await runBlackFriday(page, 180_000);
      await shoot(page, name);
    };
    await onNewPage(chromium, shops.sticky, crowdStory('sticky-black-friday.png'));
    await onNewPage(chromium, shops.stateless, crowdStory('stateless-black-friday.png'));
    console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    await Promise.all([
      browser.status === 'fulfilled' ? browser.value.close() : undefined,
      sticky.status === 'fulfilled' ? sticky.value.stop() : undefined,
      stateless.status === 'fulfilled' ? stateless.value.stop() : undefined,
    ]);
  }
}

if (require.main === module)
  main().catch((error: unknown) => {
    console.error(`shop:screenshots: ${error instanceof Error ? error.message : String(error)}`);
    process.exitCode = 1;
  });
