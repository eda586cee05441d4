/**
 * Lesson 01, README Step 2 — bad input is refused and changes nothing. Run: npm test lessons/01
 *
 * The visitor here already has a cart: the specs put Alice's session (a MacBook in her cart) in the
 * store they pass as options.store, and send her signed cookie, so these tasks need no Step 3. After a
 * refused item her session in the store must be exactly as it was, and no new cookie sent.
 */
import './env';
import { isDeepStrictEqual } from 'node:util';
import request from 'supertest';
import { lesson } from '../../../kit/spec/task';
import { LIMITS, parseItem } from '../src/app';
import { check, nothingChanged, shopWithAlice } from './support';

const { topic, task } = lesson('01-sticky-problem');

/** parseItem(body), with a clear failure when it throws instead of answering. */
function parsed(body: unknown, what: string): ReturnType<typeof parseItem> {
  try {
    return parseItem(body);
  } catch (error) {
    if (error instanceof Error && error.name === 'NotImplementedError') throw error;
    throw new Error(
      `parseItem(${what}) threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}; it must answer { ok: false, message } instead (the route would answer 500).`,
    );
  }
}

function accepts(body: unknown, what: string, item: { name: string; price: number }): void {
  const answer = parsed(body, what);
  check(
    isDeepStrictEqual(answer, { ok: true, item }),
    `parseItem(${what}) should accept it as ${JSON.stringify({ ok: true, item })}; it answered ${JSON.stringify(answer)}.`,
  );
}

function refuses(body: unknown, what: string): void {
  const answer = parsed(body, what);
  check(
    answer.ok === false && typeof answer.message === 'string' && answer.message.trim() !== '',
    `parseItem(${what}) should refuse it with { ok: false, message }; it answered ${JSON.stringify(answer) ?? String(answer)}.`,
  );
}

topic('when an item is refused, nothing changes', () => {
  // [what, the body as sent, the body parseItem() receives]
  const refused: Array<[string, { json?: object; raw?: string; type?: string }, unknown]> = [
    ['a missing name', { json: { price: 10 } }, { price: 10 }],
    ['an empty name', { json: { name: '', price: 10 } }, { name: '', price: 10 }],
    ['a name of only spaces and tabs', { json: { name: ' \t  ', price: 10 } }, { name: ' \t  ', price: 10 }],
    [
      `a name of ${LIMITS.maxNameLength + 1} characters`,
      { json: { name: 'x'.repeat(101), price: 10 } },
      { name: 'x'.repeat(101), price: 10 },
    ],
    ['a name that is a number', { json: { name: 42, price: 10 } }, { name: 42, price: 10 }],
    ['a name that is a list', { json: { name: ['Socks'], price: 10 } }, { name: ['Socks'], price: 10 }],
    ['a missing price', { json: { name: 'Socks' } }, { name: 'Socks' }],
    ['a price of -0.01', { json: { name: 'Socks', price: -0.01 } }, { name: 'Socks', price: -0.01 }],
    [
      'a price of 1,000,000.01',
      { json: { name: 'Socks', price: 1_000_000.01 } },
      { name: 'Socks', price: 1_000_000.01 },
    ],
    [
      'a price of 1e400 (JSON.parse makes it Infinity)',
      { raw: '{"name":"Socks","price":1e400}' },
      { name: 'Socks', price: Number.POSITIVE_INFINITY },
    ],
    ['a price of "12", a string', { json: { name: 'Socks', price: '12' } }, { name: 'Socks', price: '12' }],
    [
      'a price of "NaN", a string',
      { json: { name: 'Socks', price: 'NaN' } },
      { name: 'Socks', price: 'NaN' },
    ],
    ['a price of null', { json: { name: 'Socks', price: null } }, { name: 'Socks', price: null }],
    ['a price of true', { json: { name: 'Socks', price: true } }, { name: 'Socks', price: true }],
    [
      'a list of items instead of one item',
      { json: [{ name: 'Socks', price: 10 }] },
      [{ name: 'Socks', price: 10 }],
    ],
    [
      'an item sent as text/plain, not JSON (no body reaches parseItem)',
      { raw: '{"name":"Socks","price":10}', type: 'text/plain' },
      undefined,
    ],
    ['a POST with no body at all', {}, undefined],
  ];

  for (const [what, sent, body] of refused) {
    task(
      `${what} is refused with 400 invalid_item, and the cart is unchanged`,
      {
        points: 1,
        step: 'Step 2',
        hint: 'Check the type and the range of each field in parseItem; the route answers 400 when it returns { ok: false }.',
      },
      async () => {
        refuses(body, what);
        const { store, app, alice } = shopWithAlice();

        let post = request(app).post('/cart/items').set('Cookie', alice);
        if (sent.raw !== undefined) post = post.set('Content-Type', sent.type ?? 'application/json');
        const res = await (sent.raw !== undefined
          ? post.send(sent.raw)
          : sent.json
            ? post.send(sent.json)
            : post);

        check(
          res.status === 400 &&
            res.body?.error === 'invalid_item' &&
            typeof res.body?.message === 'string' &&
            res.body.message.trim() !== '',
          `POST /cart/items with ${what} was answered ${res.status} ${JSON.stringify(res.body)}, not 400 { error: 'invalid_item', message }.`,
        );
        nothingChanged(store, res, `POST /cart/items with ${what}`);
      },
    );
  }
});

topic('when parseItem() decides (in process, on your parseItem)', () => {
  task(
    'it accepts the limits: a name of 100 characters, a price of 0 and one of 1,000,000',
    {
      points: 2,
      step: 'Step 2',
      hint: 'The limits belong to the good side: at most LIMITS.maxNameLength characters, from 0 to LIMITS.maxPrice.',
    },
    () => {
      const longest = 'x'.repeat(LIMITS.maxNameLength);
      accepts({ name: longest, price: 10 }, `{ name: 100 × "x", price: 10 }`, { name: longest, price: 10 });
      accepts({ name: 'Socks', price: 0 }, '{ name: "Socks", price: 0 }', { name: 'Socks', price: 0 });
      accepts({ name: 'Socks', price: 1_000_000 }, '{ name: "Socks", price: 1000000 }', {
        name: 'Socks',
        price: 1_000_000,
      });
      accepts({ name: 'S', price: 19.99 }, '{ name: "S", price: 19.99 }', { name: 'S', price: 19.99 });
    },
  );

  task(
    'it trims the name (the limit counts without the spaces around it) and keeps only name and price',
    {
      points: 2,
      step: 'Step 2',
      hint: 'Trim first, then check the trimmed name; build a new item from the two fields you checked.',
    },
    () => {
      accepts({ name: '  Socks \t', price: 5 }, '{ name: "  Socks \\t", price: 5 }', {
        name: 'Socks',
        price: 5,
      });
      const longest = 'x'.repeat(LIMITS.maxNameLength);
      accepts({ name: `  ${longest}  `, price: 5 }, '{ name: "  " + 100 × "x" + "  ", price: 5 }', {
        name: longest,
        price: 5,
      });
      refuses(
        { name: ` ${'x'.repeat(LIMITS.maxNameLength + 1)} `, price: 5 },
        '{ name: " " + 101 × "x" + " ", price: 5 }',
      );
      accepts(
        { name: 'Socks', price: 5, discount: 100, admin: true },
        '{ name: "Socks", price: 5, discount: 100, admin: true }',
        { name: 'Socks', price: 5 },
      );
    },
  );

  task(
    'it refuses NaN and ±Infinity, which code can pass even where JSON cannot',
    {
      points: 1,
      step: 'Step 2',
      hint: 'NaN is a number to typeof, and NaN < 0 and NaN > max are both false: there is a check for "finite".',
    },
    () => {
      refuses({ name: 'Socks', price: Number.NaN }, '{ name: "Socks", price: NaN }');
      refuses({ name: 'Socks', price: Number.POSITIVE_INFINITY }, '{ name: "Socks", price: Infinity }');
      refuses({ name: 'Socks', price: Number.NEGATIVE_INFINITY }, '{ name: "Socks", price: -Infinity }');
    },
  );

  task(
    'it refuses anything that is not one item object (null, undefined, text, numbers, lists) without throwing',
    {
      points: 1,
      step: 'Step 2',
      hint: 'Check that the body is a plain object before you read its fields.',
    },
    () => {
      for (const [body, what] of [
        [null, 'null'],
        [undefined, 'undefined'],
        ['Socks', '"Socks"'],
        [42, '42'],
        [true, 'true'],
        [[], '[]'],
        [[{ name: 'Socks', price: 10 }], '[{ name: "Socks", price: 10 }]'],
      ] as Array<[unknown, string]>) {
        refuses(body, what);
      }
    },
  );
});
