import { insightly } from '../../src/elements/insightly';
import type { FetchChangesArgs, PollResource } from '../../src/elements/element';
import { HttpError, ProviderError } from '../../src/errors';
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
    urls: { insightly: fake.url, freshbooks: '' },
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
  test('reads every page of 500 until a short page: 1,050 records → 500, 500, 50', async () => {
    fake.rateLimitPerSecond = 0;
    const created = Array.from({ length: 1050 }, (_, i) => fake.create('Contacts', { FIRST_NAME: `c${i}` }, SINCE + 1000 + i));
    const progress: { pages: number; records: number }[] = [];
    const pages = await collect(args({ progress: (p) => progress.push(p) }));

    expect(pages.map((p) => p.length)).toEqual([500, 500, 50]);
    const seen = pages.flatMap(ids);
    expect(new Set(seen).size).toBe(1050);
    expect(seen.sort((a, b) => a - b)).toEqual(created.map((r) => r.CONTACT_ID as number).sort((a, b) => a - b));

    const calls = fake.searchCalls('Contacts');
    expect(calls.map((c) => c.query.skip)).toEqual(['0', '500', '1000']);
    expect(calls.map((c) => c.query.top)).toEqual(['500', '500', '500']);
    for (const c of calls) {
      expect(c.status).toBe(200);
      expect(c.query.updated_after_utc).toBe('2026-11-23 09:15:00');
      expect(c.query.updated_after_utc).toBe(insightlyDate(SINCE));
    }
    expect(progress[progress.length - 1]).toEqual({ pages: 3, records: 1050 });
  });

  test('an exact multiple of the page size ends on an empty page, which is not yielded', async () => {
    fake.rateLimitPerSecond = 0;
    for (let i = 0; i < 1000; i++) fake.create('Contacts', {}, SINCE + 1000);
    const pages = await collect(args());
    expect(pages.map((p) => p.length)).toEqual([500, 500]);
    expect(fake.calls.map((c) => c.query.skip)).toEqual(['0', '500', '1000']);
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

  test('pageSize is honoured (and capped at 500)', async () => {
    fake.rateLimitPerSecond = 0;
    for (let i = 0; i < 7; i++) fake.create('Contacts', {}, SINCE + 1000);
    const pages = await collect(args({ resource: { ...polling.defaultResources.contacts!, pageSize: 3 } }));
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
    expect(fake.calls.map((c) => [c.query.top, c.query.skip])).toEqual([
      ['3', '0'],
      ['3', '3'],
      ['3', '6'],
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

  test('a 429 with Retry-After: 1 is honoured: the retry comes about a second later', async () => {
    const c = fake.create('Contacts', {}, SINCE + 1000);
    fake.failNext(1, 429, { 'Retry-After': '1' });
    const pages = await collect(args());
    expect(pages).toEqual([[c]]);
    expect(fake.calls.map((x) => x.status)).toEqual([429, 200]);
    expect(fake.calls[1]!.at - fake.calls[0]!.at).toBeGreaterThanOrEqual(900);
  });

  test("the fake's own per-second rate limit is ridden out across pages", async () => {
    fake.rateLimitPerSecond = 2;
    for (let i = 0; i < 5; i++) fake.create('Contacts', {}, SINCE + 1000);
    const pages = await collect(args({ resource: { ...polling.defaultResources.contacts!, pageSize: 2 } }));
    expect(pages.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(fake.calls.filter((x) => x.status === 200).map((x) => x.query.skip)).toEqual(['0', '2', '4']);
    expect(fake.calls.some((x) => x.status === 429)).toBe(true);
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
    await expect(insightly.connect({ urls: { insightly: fake.url, freshbooks: '' }, configuration: { password: KEY } })).resolves.toEqual(
      {},
    );
    expect(fake.calls).toHaveLength(1);
  });

  test('a wrong key rejects with status 400 (a ProviderError that does not echo the key)', async () => {
    const err = await insightly
      .connect({ urls: { insightly: `${fake.url}/`, freshbooks: '' }, configuration: { password: 'not-the-key' } })
      .then(
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
    const err = await insightly.connect({ urls: { insightly: fake.url, freshbooks: '' }, configuration: { password: KEY } }).then(
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
