import type { AddressInfo } from 'node:net';
import { request as httpRequest } from 'node:http';
import type { Client } from '@temporalio/client';
import { BASE_PATH } from '../../src/api/app';
import { apiServer, type ApiServer } from '../../src/api/main';
import { WEBHOOK_BODY_LIMIT_BYTES } from '../../src/api/webhooks';
import { depsWithoutTemporal } from './harness';

/**
 * The webhook receiver answers on Node's own response, ahead of Express (src/api/webhooks.ts). These
 * are its answers that need no Temporal (refusals settled from the request alone), held to what Express
 * gives every other route: the same security headers, no-store, a request id, the JSON error shape.
 * Behind it, everything else still reaches Express.
 */
let server: ApiServer;
let client: Client;
let base: string;

beforeAll(async () => {
  const deps = depsWithoutTemporal();
  client = deps.client;
  server = apiServer(deps);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}${BASE_PATH}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await client.connection.close();
});

const FORM = 'application/x-www-form-urlencoded';
const notification = 'name=invoice.update&object_id=1&account_id=6BApk&business_id=6543&identity_id=1234&user_id=1';
/** Headers that differ between any two answers, whoever makes them. */
const PER_ANSWER = new Set(['date', 'content-length', 'x-request-id', 'connection', 'keep-alive']);

const post = (path: string, body: string, headers: Record<string, string> = { 'content-type': FORM }) =>
  fetch(`${base}${path}`, { method: 'POST', body, headers });

async function expectErrorShape(res: Response, status: number, message: RegExp) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  const body = (await res.json()) as { message: string; requestId: string; errors: unknown[] };
  expect(body).toEqual({ message: expect.stringMatching(message), requestId: res.headers.get('x-request-id'), errors: [] });
  expect(body.requestId).toMatch(/^[0-9a-f-]{36}$/);
}

const sharedHeaders = (res: Response) => Object.fromEntries([...res.headers].filter(([name]) => !PER_ANSWER.has(name)));

test("a refusal carries the headers of Express's answers, and the error shape", async () => {
  const refused = await post('/events/freshbooksv2/123', notification);
  const fromExpress = await fetch(`${base}/instances`);
  await expectErrorShape(refused, 401, /^Missing x-freshbooks-hmac-sha256 header$/);
  await expectErrorShape(fromExpress, 401, /^Missing Authorization header/);
  expect(sharedHeaders(refused)).toEqual(sharedHeaders(fromExpress));
  expect(refused.headers.get('content-security-policy')).toBeTruthy();
  expect(refused.headers.get('cache-control')).toBe('no-store');
});

test('the route matches as Express matched it: any case, a trailing slash, a query string', async () => {
  for (const path of ['/events/freshbooksv2/123/', '/EVENTS/freshbooksv2/123', '/events/freshbooksv2/123?x=1']) {
    await expectErrorShape(await post(path, notification), 401, /^Missing x-freshbooks-hmac-sha256 header$/);
  }
  await expectErrorShape(await post('/events/nope/123', notification), 404, /^No webhook receiver for element "nope"$/);
  await expectErrorShape(await post('/events/freshbooksv2/12a', notification), 404, /^Instance 12a not found$/);
  await expectErrorShape(await post('/events/freshbooksv2/%E0%A4%A', notification), 400, /^Malformed percent-encoding in the path$/);
  await expectErrorShape(await post('/events/freshbooksv2/123', 'name=invoice.update'), 400, /^Not a freshbooksv2 webhook/);
});

/** A raw request, its target sent as given (absolute-form, a fragment). */
function rawRequest(
  method: string,
  target: string,
  body = '',
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path: target, headers: { 'content-type': FORM } });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test("targets Express also took: absolute-form, a fragment; OPTIONS answered with the route's methods", async () => {
  const { port } = server.address() as AddressInfo;
  for (const target of [`http://127.0.0.1:${port}${BASE_PATH}/events/freshbooksv2/123`, `${BASE_PATH}/events/freshbooksv2/123#x`]) {
    const res = await rawRequest('POST', target, notification);
    expect({ target, status: res.status, message: JSON.parse(res.body).message }).toEqual({
      target,
      status: 401,
      message: 'Missing x-freshbooks-hmac-sha256 header',
    });
  }
  const options = await rawRequest('OPTIONS', `${BASE_PATH}/events/freshbooksv2/123`);
  expect(options).toMatchObject({ status: 200, body: 'POST', headers: { allow: 'POST', 'cache-control': 'no-store' } });
  expect(options.headers['content-security-policy']).toBeTruthy();
});

test('anything but a post to the route goes on to Express (which asks for credentials under the base path)', async () => {
  await expectErrorShape(await fetch(`${base}/events/freshbooksv2/123`), 401, /^Missing Authorization header/);
  await expectErrorShape(await post('/events/freshbooksv2/123/extra', notification), 401, /^Missing Authorization header/);
  expect((await fetch(`${base}/openapi.json`)).status).toBe(200);
});

test('bodies over the limit: declared ones refused unread with the connection closed, chunked ones cut off', async () => {
  const declared = await new Promise<{ status: number; connection?: string; body: string }>((resolve, reject) => {
    const req = httpRequest(`${base}/events/freshbooksv2/123`, {
      method: 'POST',
      headers: { 'content-type': FORM, 'content-length': String(WEBHOOK_BODY_LIMIT_BYTES + 1) },
    });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, connection: res.headers.connection, body }));
    });
    req.on('error', reject);
    req.flushHeaders(); // the head alone: the answer comes before any of the body is sent
  });
  expect(declared).toMatchObject({ status: 413, connection: 'close' });
  expect(JSON.parse(declared.body).message).toBe(
    `Webhook body is larger than the ${WEBHOOK_BODY_LIMIT_BYTES}-byte (16 KB) limit for webhooks`,
  );

  const big = `${notification}&pad=${'9'.repeat(WEBHOOK_BODY_LIMIT_BYTES)}`;
  // A stream has no declared length: it goes chunked, and the parser's own limit stops it.
  const chunked = await fetch(`${base}/events/freshbooksv2/123`, {
    method: 'POST',
    headers: { 'content-type': FORM },
    body: new Blob([big]).stream(),
    duplex: 'half',
  } as RequestInit);
  await expectErrorShape(chunked, 413, new RegExp(`^Request body is larger than the ${WEBHOOK_BODY_LIMIT_BYTES}-byte limit`));
});
