import fc from 'fast-check';
import type { Request } from 'express';
import { canonicalJson, idempotencyKeyOf, KeyedQueue, keyedCreate, redeliveryUpdateId } from '../../src/api/idempotency';
import { HttpError } from '../../src/errors';

const withKey = (value?: string) => ({ headers: value === undefined ? {} : { 'idempotency-key': value } }) as unknown as Request;

describe('Idempotency-Key', () => {
  test('1 to 255 printable ASCII characters; anything else is a 400 naming the header', () => {
    expect(idempotencyKeyOf(withKey())).toBeUndefined();
    expect(idempotencyKeyOf(withKey('a'))).toBe('a');
    expect(idempotencyKeyOf(withKey('~'.repeat(255)))).toBe('~'.repeat(255));
    for (const bad of ['', 'x'.repeat(256), 'a\tb', 'caf\u00e9', 'a\u0000b', 'a\nb']) {
      let err: unknown;
      try {
        idempotencyKeyOf(withKey(bad));
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(HttpError);
      expect((err as HttpError).status).toBe(400);
      expect((err as HttpError).message).toMatch(/Idempotency-Key/);
      // The key is never echoed back.
      if (bad.length > 1) expect((err as HttpError).message).not.toContain(bad);
    }
  });

  test('the derived instance id is in the random ids range, stable, and scoped per account', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 255 }), fc.string(), (key, account) => {
        const { id } = keyedCreate(account, key, {});
        expect(Number.isInteger(id)).toBe(true);
        expect(id).toBeGreaterThanOrEqual(100_000);
        expect(id).toBeLessThanOrEqual(2 ** 31 - 2);
        expect(keyedCreate(account, key, { other: 1 }).id).toBe(id);
      }),
    );
    expect(keyedCreate('acct_a', 'k', {}).id).not.toBe(keyedCreate('acct_b', 'k', {}).id);
    expect(keyedCreate('acct_a', 'k', {}).keyHash).not.toBe(keyedCreate('acct_b', 'k', {}).keyHash);
  });

  test('the request hash ignores key order, not values', () => {
    const a = keyedCreate('acct', 'k', { name: 'x', configuration: { b: 1, a: [1, { d: 2, c: 3 }] } });
    const b = keyedCreate('acct', 'k', { configuration: { a: [1, { c: 3, d: 2 }], b: 1 }, name: 'x' });
    const c = keyedCreate('acct', 'k', { configuration: { a: [{ c: 3, d: 2 }, 1], b: 1 }, name: 'x' });
    expect(a.requestHash).toBe(b.requestHash);
    expect(a.requestHash).not.toBe(c.requestHash);
    fc.assert(fc.property(fc.jsonValue(), (v) => expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)))));
  });

  test('redelivery update ids differ by call kind, instance, key and event', () => {
    const ids = new Set([
      redeliveryUpdateId('single', 1, 'k', 'e'),
      redeliveryUpdateId('bulk', 1, 'k', 'e'),
      redeliveryUpdateId('single', 2, 'k', 'e'),
      redeliveryUpdateId('single', 1, 'k2', 'e'),
      redeliveryUpdateId('single', 1, 'k', 'e2'),
    ]);
    expect(ids.size).toBe(5);
    expect(redeliveryUpdateId('single', 1, 'k', 'e')).toBe(redeliveryUpdateId('single', 1, 'k', 'e'));
  });

  test('requests with one key run one after the other, also when one fails', async () => {
    const queue = new KeyedQueue();
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = queue.run('k', async () => {
      order.push('first start');
      await gate;
      order.push('first end');
      throw new Error('refused');
    });
    const second = queue.run('k', async () => order.push('second'));
    const other = queue.run('other', async () => order.push('other key'));
    await other;
    release();
    await expect(first).rejects.toThrow('refused');
    await second;
    expect(order).toEqual(['first start', 'other key', 'first end', 'second']);
  });
});
