/**
 * The live shop (`npm run shop`), driven in a real headless Chromium: a visitor fills a cart on the
 * page, crashes the server that answered, and sees the cart gone (sticky) or still there (stateless);
 * a Black Friday crowd loses the crashed server's carts (sticky) or none (stateless); every value the
 * page shows is text, never HTML; the shop's control API refuses anything but its own commands.
 *
 * Each mode's shop (three real server processes, lesson 04's balancer, Redis for stateless) starts
 * once for its describe; one Chromium serves the file. Every wait is on what the page shows, bounded.
 * No Chromium on this machine: one test fails with the line that says how to install it.
 */
import { request } from 'node:http';
import { networkInterfaces } from 'node:os';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startedOnce } from '../spec/wait';
import { ChromiumUnavailableError, findChromium, launchChromium } from './chromium';
import {
  addCustom,
  answeringServer,
  cartItems,
  cartTotal,
  crashTheAnsweringServer,
  fillCart,
  holdsInMemory,
  logRows,
  notice,
  openShop,
  redisHolds,
  restartServer,
  runBlackFriday,
  servers,
} from './journeys';
import { type Shop, type ShopState, startShop } from './shop';

jest.setTimeout(60_000);

/** A small crowd: the same story as the 1,000 of `npm run shop`, in a second or two. */
const CROWD = 100;

const chromiumMissing = (() => {
  try {
    findChromium();
    return undefined;
  } catch (error) {
    if (error instanceof ChromiumUnavailableError) return error;
    throw error;
  }
})();

/**
 * The shops of both modes start side by side with the browser, in the file's first beforeAll (each
 * is three real processes, and most of a start is waiting); each describe awaits its own.
 */
const shops = {
  sticky: startedOnce(() => startShop({ mode: 'sticky', port: 0, blackFridayCarts: CROWD })),
  stateless: startedOnce(() => startShop({ mode: 'stateless', port: 0, blackFridayCarts: CROWD })),
};
beforeAll(() => {
  if (!chromiumMissing) shops.sticky.begin(); // the control API's specs need only the stateless one
  shops.stateless.begin();
});
afterAll(async () => {
  const begun = chromiumMissing ? [shops.stateless] : [shops.sticky, shops.stateless];
  await Promise.all(
    begun.map((shop) =>
      shop.get().then(
        (started) => started.stop(),
        () => undefined,
      ),
    ),
  );
}, 30_000);

function useShop(mode: keyof typeof shops): () => Shop {
  let shop: Shop | undefined;
  beforeAll(async () => {
    shop = await shops[mode].get();
  }, 60_000);
  return () => {
    if (!shop) throw new Error(`the ${mode} shop did not start (see the beforeAll error)`);
    return shop;
  };
}

let browser: Browser | undefined;
if (!chromiumMissing) {
  beforeAll(async () => {
    browser = await launchChromium();
  }, 60_000);
  afterAll(() => browser?.close());
}

/** A new visitor (a browser context of its own: no cookies) on the shop's page, then `first` done. */
function useVisitor(shop: () => Shop, first: (page: Page) => Promise<void> = async () => {}): () => Page {
  let context: BrowserContext | undefined;
  let page: Page | undefined;
  beforeAll(async () => {
    if (!browser) throw new Error('Chromium did not start (see the beforeAll error)');
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('dialog', (dialog) => void dialog.dismiss()); // an alert() would be a script that ran
    await openShop(page, shop().url);
    await first(page);
  }, 30_000);
  afterAll(() => context?.close());
  return () => {
    if (!page) throw new Error('the page did not open (see the beforeAll error)');
    return page;
  };
}

const browserDescribe = chromiumMissing ? describe.skip : describe;

if (chromiumMissing) {
  test('a headless Chromium is installed (the shop specs drive the page in one)', () => {
    throw chromiumMissing;
  });
}

browserDescribe('sticky: sessions in each server’s memory', () => {
  const shop = useShop('sticky');

  describe('when the answering server crashes', () => {
    let answered = '';
    let crashed = '';
    const page = useVisitor(shop, async (visitor) => {
      await fillCart(visitor);
      answered = await answeringServer(visitor);
    });

    test('the cart holds the MacBook Pro and the iPhone 15, 3,700 in all', async () => {
      expect(await cartItems(page())).toEqual(['MacBook Pro', 'iPhone 15']);
      expect(await cartTotal(page())).toBe('3,700');
    });

    test('one server answered both adds, and holds the session in its memory', async () => {
      const adds = (await logRows(page())).filter((row) => row.path === '/cart/items');
      expect(adds.map((row) => row.servedBy)).toEqual([answered, answered]);
      await holdsInMemory(page(), answered, 1);
    });

    test('the cart is empty once that server has crashed', async () => {
      crashed = await crashTheAnsweringServer(page());
      expect(crashed).toBe(answered);
      expect(await cartItems(page())).toEqual([]);
      expect(await notice(page())).toEqual({ kind: 'lost', text: expect.stringContaining('CART LOST!') });
    });

    test('another server answered the read-back, and the crashed one shows as down', async () => {
      const [readBack] = await logRows(page());
      expect(readBack).toMatchObject({ method: 'GET', path: '/cart', status: '200' });
      expect(readBack.servedBy).not.toBe(crashed);
      expect((await servers(page())).find((card) => card.id === crashed)?.status).toBe('down');
    });

    test('restarted, the server is up again with nothing in its memory, and the cart stays empty', async () => {
      await restartServer(page(), crashed);
      await holdsInMemory(page(), crashed, 0);
      expect(await notice(page())).toMatchObject({
        kind: 'info',
        text: expect.stringContaining('gone for good'),
      });
      expect(await cartItems(page())).toEqual([]);
    });
  });

  describe('on Black Friday (a crowd fills carts, then server-3 crashes)', () => {
    const page = useVisitor(shop);

    test('the carts that lived on server-3 are lost, every other cart is intact', async () => {
      const numbers = await runBlackFriday(page());
      expect(numbers.carts).toBe(CROWD);
      expect(numbers.onCrashed).toBeGreaterThan(0);
      expect(numbers.lost).toBe(numbers.onCrashed);
      expect(numbers.intact).toBe(CROWD - numbers.lost);
      expect(numbers.text).toContain('died with it');
    });
  });
});

describe('stateless: sessions in Redis', () => {
  const shop = useShop('stateless');

  browserDescribe('when the answering server crashes', () => {
    let answered = '';
    let crashed = '';
    const page = useVisitor(shop, async (visitor) => {
      await fillCart(visitor);
      answered = await answeringServer(visitor);
    });

    test('the two adds were served by two different servers, in turn', async () => {
      const adds = (await logRows(page())).filter((row) => row.path === '/cart/items');
      expect(adds).toHaveLength(2);
      expect(adds[0].servedBy).toBe(answered);
      expect(adds[1].servedBy).not.toBe(answered);
    });

    test('no server holds the session: Redis does (sessions in Redis: 1)', async () => {
      await redisHolds(page(), 1);
      expect((await servers(page())).map((card) => card.sessions)).toEqual([0, 0, 0]);
    });

    test('the cart is intact once that server has crashed', async () => {
      crashed = await crashTheAnsweringServer(page());
      expect(await cartItems(page())).toEqual(['MacBook Pro', 'iPhone 15']);
      expect(await cartTotal(page())).toBe('3,700');
      expect(await notice(page())).toEqual({
        kind: 'survived',
        text: expect.stringContaining('Cart survived!'),
      });
      const [readBack] = await logRows(page());
      expect(readBack).toMatchObject({ method: 'GET', path: '/cart', status: '200' });
      expect(readBack.servedBy).not.toBe(crashed);
    });

    test('restarted, the server is up again and the cart is still there', async () => {
      await restartServer(page(), crashed);
      expect((await servers(page())).map((card) => card.status)).toEqual(['up', 'up', 'up']);
      const [readBack] = await logRows(page());
      expect(readBack).toMatchObject({ method: 'GET', path: '/cart', status: '200' });
      expect(await cartItems(page())).toEqual(['MacBook Pro', 'iPhone 15']);
    });
  });

  browserDescribe('on Black Friday (a crowd fills carts, then server-3 crashes)', () => {
    const page = useVisitor(shop);

    test('no cart is lost: every shopper reads back exactly what they put in', async () => {
      const numbers = await runBlackFriday(page());
      expect(numbers).toMatchObject({ carts: CROWD, lost: 0, intact: CROWD });
      expect(numbers.onCrashed).toBeGreaterThan(0);
      expect(numbers.text).toContain('Sessions in Redis: 0 lost');
    });
  });

  browserDescribe('an item named <img src=x onerror=…>', () => {
    const evil = '<img src=x onerror="document.body.dataset.pwned=1">';
    const page = useVisitor(shop, (visitor) => addCustom(visitor, evil, 1));

    test('shows in the cart as those characters, not as an image', async () => {
      expect(await cartItems(page())).toEqual([evil]);
      expect(await page().$$('#cart-items img, #notice img, #log img')).toHaveLength(0);
    });

    test('runs no script', async () => {
      expect(await page().evaluate(() => document.body.dataset.pwned)).toBeUndefined();
    });
  });

  describe('the control API (the shop’s own, never a lesson server’s)', () => {
    let before: ShopState;

    beforeAll(async () => {
      before = await shop().state();
    });

    const command = (path: string, init: RequestInit = {}) =>
      fetch(`${shop().origin}${path}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
        ...init,
      }).then(async (res) => ({
        status: res.status,
        type: res.headers.get('content-type'),
        body: await res.json(),
      }));

    const refusals: Array<{ what: string; path: string; init: RequestInit; status: number; error: string }> =
      [
        {
          what: 'an unknown server id',
          path: '/shop/api/servers/server-9/crash',
          init: {},
          status: 404,
          error: 'unknown_server',
        },
        {
          what: 'a wrong method (GET)',
          path: '/shop/api/servers/server-1/crash',
          init: { method: 'GET', body: undefined },
          status: 405,
          error: 'method_not_allowed',
        },
        {
          what: 'bad JSON',
          path: '/shop/api/servers/server-1/crash',
          init: { body: '{"oops' },
          status: 400,
          error: 'invalid_json',
        },
        {
          what: 'a body with parameters',
          path: '/shop/api/servers/server-1/restart',
          init: { body: '{"id":"server-2"}' },
          status: 400,
          error: 'unexpected_body',
        },
        {
          what: 'a form post (not JSON)',
          path: '/shop/api/servers/server-1/crash',
          init: { headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: 'a=1' },
          status: 415,
          error: 'unsupported_media_type',
        },
        {
          what: 'another site’s page (Origin)',
          path: '/shop/api/servers/server-1/crash',
          init: { headers: { 'Content-Type': 'application/json', Origin: 'http://evil.example' } },
          status: 403,
          error: 'forbidden_origin',
        },
        {
          what: 'an unknown command',
          path: '/shop/api/servers/server-1/delete',
          init: {},
          status: 404,
          error: 'unknown_command',
        },
        {
          what: 'restarting a server that is up',
          path: '/shop/api/servers/server-2/restart',
          init: {},
          status: 409,
          error: 'not_down',
        },
      ];

    test.each(refusals)(
      'refuses $what: $status, JSON { error: "$error" }',
      async ({ path, init, status, error }) => {
        expect(await command(path, init)).toEqual({
          status,
          type: 'application/json; charset=utf-8',
          body: { error, message: expect.any(String) },
        });
      },
    );

    test('refuses a Host that is not this machine’s loopback name (a DNS-rebinding page)', async () => {
      const { status, body } = await rawGet(shop().port, '/shop/api/state', {
        Host: `shop.example:${shop().port}`,
      });
      expect(status).toBe(403);
      expect(JSON.parse(body)).toMatchObject({ error: 'forbidden_host' });
    });

    test('and after all of that, nothing changed: the same three processes, in the same state', async () => {
      const now = await shop().state();
      expect(now.servers.map(({ id, status, pid }) => ({ id, status, pid }))).toEqual(
        before.servers.map(({ id, status, pid }) => ({ id, status, pid })),
      );
    });

    test('the lesson servers have no such API (404), and stay up', async () => {
      const server = before.servers.find((candidate) => candidate.status === 'up');
      if (!server) throw new Error('no server is up');
      const res = await fetch(`http://127.0.0.1:${server.port}/shop/api/servers/${server.id}/crash`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
      expect(res.status).toBe(404);
      expect((await shop().state()).servers.find((now) => now.id === server.id)?.status).toBe('up');
    });

    test('it listens on 127.0.0.1 only', async () => {
      expect(shop().host).toBe('127.0.0.1');
      const outside = Object.values(networkInterfaces())
        .flat()
        .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
      if (outside) await expect(rawGet(shop().port, '/shop/', {}, outside)).rejects.toThrow(/ECONNREFUSED/);
    });
  });
});

function rawGet(
  port: number,
  path: string,
  headers: Record<string, string>,
  host = '127.0.0.1',
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, headers, agent: false, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 5 s')));
    req.on('error', reject);
    req.end();
  });
}
