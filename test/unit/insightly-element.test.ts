import { insightly } from '../../src/elements/insightly';
import type { FetchChangesArgs, PollResource } from '../../src/elements/element';
import { HttpError, ProviderError, ProviderQuotaError } from '../../src/errors';
import { FakeInsightly, insightlyDate } from '../fakes/insightly';

const KEY = 'insightly-api-key-0f9e8d';
const SINCE = Date.UTC(2026, 10, 23, 9, 15, 0, 789);
const polling = insightly.polling!;

let fake: FakeInsightly;

beforeEach(async () => {
  fake = new FakeInsightly(KEY);
  await fake.start();
});

afterEach(async () => {
  await fake.stop();
});

function args(overrides: Partial<FetchChangesArgs> = {}): FetchChangesArgs {
  return {
    urls: { INSIGHTLY_API_URL: fake.url },
    configuration: { password: KEY },
    resourceName: 'contacts',
    resource: polling.defaultResources.contacts!,
    sinceMs: SINCE,
    ...overrides,
  };
}

async function collect(a: FetchChangesArgs): Promise<unknown[][]> {
  const pages: unknown[][] = [];
  for await (const page of polling.fetchChanges(a)) pages.push(page);
  return pages;
}

const ids = (page: unknown[]) => page.map((r) => (r as Record<string, unknown>).CONTACT_ID as number);

describe('insightly.polling.fetchChanges against the fake Insightly', () => {
  test('reads pages of 500, each starting on the last one read, until a short page: 1,050 records → 500, 499, 51', async () => {
    fake.rateLimitPerSecond = 0;
    const created = Array.from({ length: 1050 }, (_, i) => fake.create('Contacts', { FIRST_NAME: `c${i}` }, SINCE + 1000 + i));
    const progress: { pages: number; records: number }[] = [];
    const pages = await collect(args({ progress: (p) => progress.push(p) }));

    // Each page re-reads the previous page's last record (to see the list did not shift) and yields it once.
    expect(pages.map((p) => p.length)).toEqual([500, 499, 51]);
    const seen = pages.flatMap(ids);
    expect(new Set(seen).size).toBe(1050);
    expect(seen.sort((a, b) => a - b)).toEqual(created.map((r) => r.CONTACT_ID as number).sort((a, b) => a - b));

    const calls = fake.searchCalls('Contacts');
    expect(calls.map((c) => c.query.skip)).toEqual(['0', '499', '998']);
    expect(calls.map((c) => c.query.top)).toEqual(['500', '500', '500']);
    for (const c of calls) {
      expect(c.status).toBe(200);
      expect(c.query.updated_after_utc).toBe('2026-11-23 09:15:00');
      expect(c.query.updated_after_utc).toBe(insightlyDate(SINCE));
    }
    expect(progress[progress.length - 1]).toEqual({ pages: 3, records: 1050 });
  });

  test('a last page holding only the record read already is not yielded again', async () => {
    fake.rateLimitPerSecond = 0;
    for (let i = 0; i < 999; i++) fake.create('Contacts', {}, SINCE + 1000);
    const pages = await collect(args());
    expect(pages.map((p) => p.length)).toEqual([500, 499]);
    expect(new Set(pages.flatMap(ids)).size).toBe(999);
    expect(fake.calls.map((c) => c.query.skip)).toEqual(['0', '499', '998']);
  });

  test('nothing changed: one call, no page', async () => {
    fake.create('Contacts', {}, SINCE - 60_000); // before the window
    expect(await collect(args())).toEqual([]);
    expect(fake.calls).toHaveLength(1);
  });

  test('only records updated at or after sinceMs (to the second) are returned', async () => {
    const before = fake.create('Contacts', {}, SINCE - 2000);
    const sameSecond = fake.create('Contacts', {}, Date.UTC(2026, 10, 23, 9, 15, 0, 0));
    const after = fake.create('Contacts', {}, SINCE + 5000);
    const pages = await collect(args());
    const seen = pages.flatMap(ids);
    expect(seen).toEqual([sameSecond.CONTACT_ID, after.CONTACT_ID]);
    expect(seen).not.toContain(before.CONTACT_ID);
  });

  test('pageSize is the step between pages, each read one record longer (and top is capped at 500)', async () => {
    fake.rateLimitPerSecond = 0;
    for (let i = 0; i < 7; i++) fake.create('Contacts', {}, SINCE + 1000);
    const pages = await collect(args({ resource: { ...polling.defaultResources.contacts!, pageSize: 3 } }));
    expect(pages.map((p) => p.length)).toEqual([4, 3]);
    expect(new Set(pages.flatMap(ids)).size).toBe(7);
    expect(fake.calls.map((c) => [c.query.top, c.query.skip])).toEqual([
      ['4', '0'],
      ['4', '3'],
      ['4', '6'],
    ]);

    fake.calls.length = 0;
    await collect(args({ resource: { ...polling.defaultResources.contacts!, pageSize: 2000 } }));
    expect(fake.calls[0]!.query.top).toBe('500');
  });

  test('accounts are read from Organisations; field_name/field_value are passed through', async () => {
    const acme = fake.create('Organisations', { ORGANISATION_NAME: 'Acme' }, SINCE + 1000);
    fake.create('Organisations', { ORGANISATION_NAME: 'Globex' }, SINCE + 1000);
    const resource: PollResource = {
      ...polling.defaultResources.accounts!,
      url: "/hubs/crm/accounts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}' and field_name='ORGANISATION_NAME' and field_value='Acme'",
    };
    const pages = await collect(args({ resourceName: 'accounts', resource }));
    expect(pages).toEqual([[acme]]);
    expect(fake.calls[0]!.object).toBe('Organisations');
    expect(fake.calls[0]!.query).toMatchObject({ field_name: 'ORGANISATION_NAME', field_value: 'Acme' });
  });

  test('a 500 is retried and the poll then succeeds', async () => {
    const c = fake.create('Contacts', {}, SINCE + 1000);
    fake.failNext(1, 500);
    const pages = await collect(args());
    expect(pages).toEqual([[c]]);
    expect(fake.calls.map((x) => x.status)).toEqual([500, 200]);
  });

  /** The waits the element decided before each retry, with how many requests the fake had answered by then. */
  function recordRetries() {
    const waits: { attempt: number; waitMs: number; reason: string; afterCalls: number }[] = [];
    return {
      waits,
      onRetry: (r: { attempt: number; waitMs: number; reason: string }) => waits.push({ ...r, afterCalls: fake.calls.length }),
    };
  }

  test('a 429 with Retry-After: 1 is honoured: the one retry waits the 1,000 ms asked for', async () => {
    const c = fake.create('Contacts', {}, SINCE + 1000);
    fake.failNext(1, 429, { 'Retry-After': '1' });
    const { waits, onRetry } = recordRetries();
    const pages = await collect(args({ onRetry }));
    expect(pages).toEqual([[c]]);
    expect(fake.calls.map((x) => x.status)).toEqual([429, 200]);
    expect(waits).toEqual([{ attempt: 1, waitMs: 1000, reason: 'HTTP 429', afterCalls: 1 }]);
  });

  test('429s without Retry-After: the element backs off on its own, 500 ms then twice as long each time', async () => {
    const c = fake.create('Contacts', {}, SINCE + 1000);
    fake.failNext(3, 429);
    const { waits, onRetry } = recordRetries();
    const pages = await collect(args({ onRetry }));
    expect(pages).toEqual([[c]]);
    expect(fake.calls.map((x) => x.status)).toEqual([429, 429, 429, 200]);
    expect(waits.map((w) => [w.attempt, w.waitMs, w.afterCalls])).toEqual([
      [1, 500, 1],
      [2, 1000, 2],
      [3, 2000, 3],
    ]);
  });

  test("the fake's own per-second limit, sent without Retry-After, is ridden out across pages by backing off", async () => {
    fake.rateLimitPerSecond = 2;
    fake.rateLimitRetryAfter = undefined;
    for (let i = 0; i < 5; i++) fake.create('Contacts', {}, SINCE + 1000);
    const { waits, onRetry } = recordRetries();
    const pages = await collect(args({ resource: { ...polling.defaultResources.contacts!, pageSize: 2 }, onRetry }));
    expect(new Set(pages.flatMap(ids)).size).toBe(5);
    expect(fake.calls.filter((x) => x.status === 200).map((x) => x.query.skip)).toEqual(['0', '2', '4']);
    const limited = fake.calls.filter((x) => x.status === 429).length;
    expect(limited).toBeGreaterThan(0);
    // One wait per 429, each its own backoff: never an immediate retry, which would only be refused again.
    expect(waits).toHaveLength(limited);
    for (const w of waits) expect(w.waitMs).toBe(500 * 2 ** (w.attempt - 1));
  });

  test('the daily quota used up (429, X-RateLimit-Remaining: 0, no Retry-After): one request, no retry, a clear error', async () => {
    fake.create('Contacts', {}, SINCE + 1000);
    fake.dailyQuota = 0;
    const { waits, onRetry } = recordRetries();
    const err = await collect(args({ onRetry })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderQuotaError);
    expect((err as Error).message).toMatch(/^Insightly's daily request quota is used up \(GET \/Contacts\/Search\?/);
    expect(fake.calls.map((x) => x.status)).toEqual([429]);
    expect(waits).toEqual([]);

    // The fake answers as providers.md says the daily limit does.
    const res = await fetch(`${fake.url}/Contacts/Search`, {
      headers: { authorization: `Basic ${Buffer.from(`${KEY}:`).toString('base64')}` },
    });
    await res.body?.cancel();
    expect([res.status, res.headers.get('x-ratelimit-remaining'), res.headers.get('retry-after')]).toEqual([429, '0', null]);

    // A new day: the same read succeeds.
    fake.resetDailyQuota();
    fake.dailyQuota = 100;
    expect((await collect(args())).flatMap(ids)).toHaveLength(1);
  });

  test('the daily quota running out in the middle of a read fails it at that page, without retrying', async () => {
    for (let i = 0; i < 5; i++) fake.create('Contacts', {}, SINCE + 1000);
    fake.dailyQuota = 2;
    const pages: unknown[][] = [];
    const err = await (async () => {
      for await (const page of polling.fetchChanges(args({ resource: { ...polling.defaultResources.contacts!, pageSize: 2 } })))
        pages.push(page);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderQuotaError);
    expect(pages.map((p) => p.length)).toEqual([3, 2]);
    expect(fake.calls.map((x) => [x.query.skip, x.status])).toEqual([
      ['0', 200],
      ['2', 200],
      ['4', 429],
    ]);
  });

  describe('the list shifting between page reads', () => {
    const small = { ...polling.defaultResources.contacts!, pageSize: 4 }; // top 5, pages at skip 0, 4, 8, …

    test('a record deleted from a page already read: the read starts again, and no record that stayed is lost', async () => {
      fake.rateLimitPerSecond = 0;
      const made = Array.from({ length: 10 }, () => fake.create('Contacts', {}, SINCE + 1000).CONTACT_ID as number);
      let deleted = false;
      fake.afterSearch = () => {
        if (deleted) return;
        deleted = true;
        fake.delete('Contacts', made[1]!); // page 1 read made[0..4]; now made[5] sits where made[4] was
      };
      const rereads: { rereads: number; skip: number }[] = [];
      const pages = await collect(args({ resource: small, onReread: (r) => rereads.push(r) }));
      const seen = pages.flatMap(ids);
      for (const id of made.filter((id) => id !== made[1])) expect(seen).toContain(id);
      expect(rereads).toEqual([{ rereads: 1, skip: 4 }]);
      expect(fake.calls.map((c) => c.query.skip)).toEqual(['0', '4', '0', '4', '8']);
    });

    test('listed by updated date, a record re-dated after its page was read moves to the end: read again, nothing lost', async () => {
      fake.rateLimitPerSecond = 0;
      fake.order = 'updated';
      const made = Array.from({ length: 10 }, (_, i) => fake.create('Contacts', {}, SINCE + 1000 + i * 1000).CONTACT_ID as number);
      let moved = false;
      fake.afterSearch = () => {
        if (moved) return;
        moved = true;
        fake.update('Contacts', made[0]!, { FIRST_NAME: 'again' }, SINCE + 60_000);
      };
      const rereads: unknown[] = [];
      const pages = await collect(args({ resource: small, onReread: (r) => rereads.push(r) }));
      expect(new Set(pages.flatMap(ids))).toEqual(new Set(made));
      expect(rereads).toHaveLength(1);
      // The latest state of the re-dated record was read.
      const latest = pages
        .flat()
        .filter((r) => (r as Record<string, unknown>).CONTACT_ID === made[0])
        .at(-1) as Record<string, unknown>;
      expect(latest.FIRST_NAME).toBe('again');
    });

    test('a record created between page reads (listed last) shifts nothing: no read again', async () => {
      fake.rateLimitPerSecond = 0;
      for (let i = 0; i < 10; i++) fake.create('Contacts', {}, SINCE + 1000);
      let added: number | undefined;
      fake.afterSearch = () => {
        added ??= fake.create('Contacts', {}, SINCE + 2000).CONTACT_ID as number;
      };
      const rereads: unknown[] = [];
      const pages = await collect(args({ resource: small, onReread: (r) => rereads.push(r) }));
      expect(pages.flatMap(ids)).toHaveLength(11);
      expect(pages.flatMap(ids)).toContain(added);
      expect(rereads).toEqual([]);
    });

    test('a list that keeps shifting fails the read after three reads again (the next poll reads the window again)', async () => {
      fake.rateLimitPerSecond = 0;
      for (let i = 0; i < 30; i++) fake.create('Contacts', {}, SINCE + 1000);
      // Before every read the oldest record goes: each second page finds the list shifted under it.
      fake.beforeSearch = () => fake.delete('Contacts', Math.min(...fake.records.Contacts.keys()));
      const rereads: unknown[] = [];
      const err = await collect(args({ resource: small, onReread: (r) => rereads.push(r) })).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as Error).message).toMatch(/kept shifting/);
      expect(rereads).toHaveLength(3);
      expect(fake.calls.map((c) => c.query.skip)).toEqual(['0', '4', '0', '4', '0', '4', '0', '4']);
    });
  });

  test('a wrong API key rejects with a ProviderError whose message mentions 401, without retrying', async () => {
    fake.create('Contacts', {}, SINCE + 1000);
    const err = await collect(args({ configuration: { password: 'wrong-key' } })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toContain('401');
    expect((err as Error).message).not.toContain('wrong-key');
    expect(fake.calls).toHaveLength(1);
  });

  test('an untranslatable url rejects before any request', async () => {
    const resource = { ...polling.defaultResources.contacts!, url: "/hubs/crm/widgets?where=updated_after_utc='x'" };
    await expect(collect(args({ resource }))).rejects.toThrow(/widgets/);
    expect(fake.calls).toHaveLength(0);
  });
});

describe('insightly.connect (the credentials check)', () => {
  test('resolves with the right key', async () => {
    await expect(insightly.connect({ urls: { INSIGHTLY_API_URL: fake.url }, configuration: { password: KEY } })).resolves.toEqual({});
    expect(fake.calls).toHaveLength(1);
  });

  test('a wrong key rejects with status 400 (a ProviderError that does not echo the key)', async () => {
    const err = await insightly.connect({ urls: { INSIGHTLY_API_URL: `${fake.url}/` }, configuration: { password: 'not-the-key' } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toBeInstanceOf(HttpError);
    expect((err as HttpError).status).toBe(400);
    expect((err as Error).message).not.toContain('not-the-key');
  });

  test('a provider that keeps failing is a 502', async () => {
    fake.failNext(5, 503);
    const err = await insightly.connect({ urls: { INSIGHTLY_API_URL: fake.url }, configuration: { password: KEY } }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as HttpError).status).toBe(502);
  });

  test('the configuration schema requires the password (API key)', () => {
    expect(insightly.configurationSchema.safeParse({ username: 'me' }).success).toBe(false);
    expect(insightly.configurationSchema.safeParse({ password: '' }).success).toBe(false);
    expect(insightly.configurationSchema.safeParse({ password: KEY, 'event.poller.refresh_interval': 5 }).success).toBe(true);
    expect(insightly.secretKeys).toContain('password');
  });
});
