import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fetchWithRetry, retryAfterMs, sleep } from '../../src/elements/http';

describe('retryAfterMs', () => {
  const now = Date.UTC(2026, 10, 23, 9, 15, 0); // a whole second: HTTP dates carry no milliseconds

  test.each([
    ['1', 1000],
    ['0', 0],
    ['120', 120_000],
    [' 3 ', 3000],
  ])('%j seconds is %d ms', (header, ms) => {
    expect(retryAfterMs(header, now)).toBe(ms);
  });

  test('an HTTP date is the time until it', () => {
    expect(retryAfterMs(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(retryAfterMs('Mon, 23 Nov 2026 09:16:00 GMT', now)).toBe(60_000);
  });

  test('an HTTP date in the past is no wait at all', () => {
    expect(retryAfterMs(new Date(now - 60_000).toUTCString(), now)).toBe(0);
  });

  test.each([[null], [''], ['soon'], ['abc'], ['tomorrow']])('%j gives no hint', (header) => {
    expect(retryAfterMs(header, now)).toBeUndefined();
  });

  // V8's Date.parse is lenient ('foo 1' parses as a date in 2001); junk must fall back to backoff, not "retry now".
  test.each([['-5'], ['foo 1'], ['Retry later 5']])('garbage %j gives no hint', (header) => {
    expect(retryAfterMs(header, now)).toBeUndefined();
  });
});

interface Hit {
  at: number;
  url: string;
}

/** A real HTTP server on 127.0.0.1 whose answers are scripted per request. */
async function scriptedServer(answer: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  const hits: Hit[] = [];
  const server: Server = createServer((req, res) => {
    hits.push({ at: Date.now(), url: req.url ?? '' });
    answer(hits.length, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/thing`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const reply = (res: ServerResponse, status: number, headers: Record<string, string> = {}, body = `status ${status}`) => {
  res.writeHead(status, { 'content-type': 'text/plain', ...headers });
  res.end(body);
};

describe('fetchWithRetry against a real local server', () => {
  let server: Awaited<ReturnType<typeof scriptedServer>> | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  test('503 twice, then 200: answers 200 after 3 requests, with a retry report for each failure', async () => {
    server = await scriptedServer((n, _req, res) => (n <= 2 ? reply(res, 503) : reply(res, 200, {}, 'ok')));
    const retries: { attempt: number; reason: string }[] = [];
    const response = await fetchWithRetry(
      server.url,
      {},
      {
        retries: 3,
        maxWaitMs: 5000,
        baseDelayMs: 10,
        onRetry: ({ attempt, reason }) => retries.push({ attempt, reason }),
      },
    );
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok');
    expect(server.hits).toHaveLength(3);
    expect(retries).toEqual([
      { attempt: 1, reason: 'HTTP 503' },
      { attempt: 2, reason: 'HTTP 503' },
    ]);
  });

  test('the exponential backoff grows from baseDelayMs', async () => {
    server = await scriptedServer((n, _req, res) => (n <= 3 ? reply(res, 500) : reply(res, 200)));
    const waits: number[] = [];
    const slept: number[] = [];
    const response = await fetchWithRetry(
      server.url,
      {},
      {
        retries: 3,
        maxWaitMs: 5000,
        baseDelayMs: 20,
        onRetry: ({ waitMs }) => waits.push(waitMs),
        sleep: async (ms) => void slept.push(ms),
      },
    );
    expect(response.status).toBe(200);
    expect(waits).toEqual([20, 40, 80]);
    // What was waited before each request, not only what was reported.
    expect(slept).toEqual([20, 40, 80]);
    expect(server.hits).toHaveLength(4);
  });

  test('429 with Retry-After: 1 waits a second before the next request', async () => {
    server = await scriptedServer((n, _req, res) => (n === 1 ? reply(res, 429, { 'retry-after': '1' }) : reply(res, 200)));
    const waits: number[] = [];
    // The requests each wait came between: a wait of 1000 ms decided after the 429, before the retry.
    const slept: { ms: number; hitsBefore: number }[] = [];
    const response = await fetchWithRetry(
      server.url,
      {},
      {
        retries: 2,
        maxWaitMs: 5000,
        baseDelayMs: 10,
        onRetry: ({ waitMs }) => waits.push(waitMs),
        sleep: async (ms) => void slept.push({ ms, hitsBefore: server!.hits.length }),
      },
    );
    expect(response.status).toBe(200);
    expect(server.hits).toHaveLength(2);
    expect(waits).toEqual([1000]);
    expect(slept).toEqual([{ ms: 1000, hitsBefore: 1 }]);
  });

  test('a Retry-After longer than maxWaitMs returns the 429 at once without waiting', async () => {
    server = await scriptedServer((_n, _req, res) => reply(res, 429, { 'retry-after': '120' }));
    const waits: number[] = [];
    const response = await fetchWithRetry(
      server.url,
      {},
      { retries: 5, maxWaitMs: 2000, baseDelayMs: 10, onRetry: ({ waitMs }) => waits.push(waitMs) },
    );
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('120');
    expect(server.hits).toHaveLength(1);
    expect(waits).toEqual([]); // no wait was scheduled
  });

  test('when retries run out the last 5xx response is returned', async () => {
    server = await scriptedServer((n, _req, res) => reply(res, 502, {}, `failure ${n}`));
    const response = await fetchWithRetry(server.url, {}, { retries: 2, maxWaitMs: 5000, baseDelayMs: 5 });
    expect(response.status).toBe(502);
    expect(await response.text()).toBe('failure 3');
    expect(server.hits).toHaveLength(3);
  });

  test.each([[404], [400], [401], [200], [201]])('%d is returned at once after 1 request', async (status) => {
    server = await scriptedServer((_n, _req, res) => reply(res, status));
    const response = await fetchWithRetry(server.url, {}, { retries: 3, maxWaitMs: 5000, baseDelayMs: 5 });
    expect(response.status).toBe(status);
    expect(server.hits).toHaveLength(1);
  });

  test('request headers are sent on every attempt', async () => {
    const seen: (string | undefined)[] = [];
    server = await scriptedServer((n, req, res) => {
      seen.push(req.headers.authorization);
      if (n === 1) reply(res, 503);
      else reply(res, 200);
    });
    await fetchWithRetry(server.url, { headers: { authorization: 'Basic abc' } }, { retries: 1, maxWaitMs: 5000, baseDelayMs: 5 });
    expect(seen).toEqual(['Basic abc', 'Basic abc']);
  });

  test('a connection refused is retried, then the network error is thrown', async () => {
    const s = await scriptedServer((_n, _req, res) => reply(res, 200));
    const url = s.url;
    await s.close(); // nothing listens on that port now
    const reasons: string[] = [];
    await expect(
      fetchWithRetry(url, {}, { retries: 2, maxWaitMs: 5000, baseDelayMs: 5, onRetry: ({ reason }) => reasons.push(reason) }),
    ).rejects.toThrow();
    expect(reasons).toHaveLength(2);
  });

  test('an abort signal stops the wait between retries', async () => {
    server = await scriptedServer((_n, _req, res) => reply(res, 503, { 'retry-after': '3' }));
    const controller = new AbortController();
    const waits: number[] = [];
    // Aborted once the 3 s wait has begun (the real sleep, not a recorded one): had the abort not
    // ended the wait, the request would be sent again, and the retries would end in a 503, not a rejection.
    const outcome = fetchWithRetry(
      server.url,
      {},
      {
        retries: 3,
        maxWaitMs: 10_000,
        signal: controller.signal,
        onRetry: ({ waitMs }) => {
          waits.push(waitMs);
          setImmediate(() => controller.abort(new Error('cancelled')));
        },
      },
    );
    await expect(outcome).rejects.toThrow('cancelled');
    expect(waits).toEqual([3000]);
    expect(server.hits).toHaveLength(1);
  });

  test('a signal aborted before a wait begins ends it at once', async () => {
    const controller = new AbortController();
    controller.abort(new Error('already cancelled'));
    await expect(sleep(60_000, controller.signal)).rejects.toThrow('already cancelled');
  });
});
