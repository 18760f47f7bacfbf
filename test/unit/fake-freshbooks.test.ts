import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import { FakeFreshBooks, freshbooksSignature, pythonJsonDumps } from '../fakes/freshbooks';
import { cases, realPython } from './python-json';

describe('pythonJsonDumps matches Python json.dumps byte for byte', () => {
  test.each(Object.entries(cases))('%s', (_name, pairs) => {
    const ours = pythonJsonDumps(pairs);
    const theirs = realPython(pairs);
    expect(Buffer.from(ours, 'utf8').equals(Buffer.from(theirs, 'utf8'))).toBe(true);
    expect(ours).toBe(theirs);
  });

  test('a repeated key behaves like dict(): first position, last value', () => {
    const pairs: [string, string][] = [
      ['a', '1'],
      ['b', '2'],
      ['a', '3'],
    ];
    expect(pythonJsonDumps(pairs)).toBe(realPython(pairs));
  });
});

interface Captured {
  headers: Record<string, string | string[] | undefined>;
  raw: string;
  fields: [string, string][];
}

async function receiver(): Promise<{ url: string; got: Captured[]; close(): Promise<void> }> {
  const got: Captured[] = [];
  const app = express();
  app.post('/hook', express.text({ type: '*/*' }), (req, res) => {
    const raw = typeof req.body === 'string' ? req.body : '';
    got.push({ headers: req.headers, raw, fields: [...new URLSearchParams(raw).entries()] });
    res.status(200).send('ok');
  });
  const server = await new Promise<Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    got,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

describe('FakeFreshBooks end to end', () => {
  const fb = new FakeFreshBooks({ clientId: 'cid', clientSecret: 'secret', redirectUri: 'https://app.example/cb' });
  let base = '';
  let sink: Awaited<ReturnType<typeof receiver>>;

  beforeAll(async () => {
    base = await fb.start();
    sink = await receiver();
  });
  afterAll(async () => {
    await fb.stop();
    await sink.close();
  });

  const tokenCall = (body: Record<string, string>, form = false) =>
    fetch(`${base}/auth/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': form ? 'application/x-www-form-urlencoded' : 'application/json' },
      body: form ? new URLSearchParams(body).toString() : JSON.stringify(body),
    });

  const api = (method: string, path: string, accessToken: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${accessToken}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });

  test('OAuth, identity, callbacks and signed notifications', async () => {
    // Code exchange (form-encoded); a code works once.
    const code = fb.issueCode();
    const codeGrant = {
      grant_type: 'authorization_code',
      client_id: 'cid',
      client_secret: 'secret',
      redirect_uri: 'https://app.example/cb',
      code,
    };
    const first = await tokenCall(codeGrant, true);
    expect(first.status).toBe(200);
    const tokens = (await first.json()) as Record<string, unknown>;
    expect(tokens).toEqual({
      access_token: expect.any(String),
      refresh_token: expect.any(String),
      token_type: 'Bearer',
      expires_in: 43200,
      scope: expect.any(String),
      created_at: expect.any(Number),
    });
    const again = await tokenCall(codeGrant);
    expect(again.status).toBe(401);
    expect(((await again.json()) as { error: string }).error).toBe('invalid_grant');

    // Bad client.
    const bad = await tokenCall({ ...codeGrant, code: fb.issueCode(), client_secret: 'nope' });
    expect(bad.status).toBe(401);
    expect(await bad.json()).toEqual({ error: 'invalid_client' });

    // Refresh once OK (JSON), reuse rejected.
    const refreshGrant = {
      grant_type: 'refresh_token',
      client_id: 'cid',
      client_secret: 'secret',
      refresh_token: tokens.refresh_token as string,
    };
    const refreshed = await tokenCall(refreshGrant);
    expect(refreshed.status).toBe(200);
    const tokens2 = (await refreshed.json()) as Record<string, string>;
    expect(tokens2.refresh_token).not.toBe(tokens.refresh_token);
    const reuse = await tokenCall(refreshGrant);
    expect(reuse.status).toBe(401);
    expect(((await reuse.json()) as { error: string }).error).toBe('invalid_grant');
    expect(fb.refreshes).toBe(1);
    expect(fb.refreshTokenReuses).toBe(1);
    expect(fb.tokenRequests.map((t) => t.status)).toEqual([200, 401, 401, 200, 401]);

    // The old access token stays valid; an unknown one does not.
    const access = tokens2.access_token!;
    expect((await api('GET', '/auth/api/v1/users/me', tokens.access_token as string)).status).toBe(200);
    const unauth = await api('GET', '/auth/api/v1/users/me', 'bogus');
    expect(unauth.status).toBe(401);
    expect(await unauth.json()).toEqual({ error: 'unauthenticated' });

    // users/me shape.
    const me = (await (await api('GET', '/auth/api/v1/users/me', access)).json()) as {
      response: { id: number; first_name: string; business_memberships: { role: string; business: Record<string, unknown> }[] };
    };
    expect(me.response.id).toBe(1234);
    expect(me.response.first_name).toBe('Ada');
    expect(me.response.business_memberships).toEqual([
      { role: 'owner', business: { id: 6543, account_id: '6BApk', name: 'MyBiz', business_uuid: expect.any(String) } },
    ]);

    // Register a callback; the verification post arrives at the receiver.
    const created = await api('POST', '/events/account/6BApk/events/callbacks', access, {
      callback: { event: 'invoice.create', uri: sink.url },
    });
    expect(created.status).toBe(200);
    const cb = ((await created.json()) as { response: { result: { callback: Record<string, unknown> } } }).response.result.callback;
    expect(cb).toEqual({
      callbackid: expect.any(Number),
      event: 'invoice.create',
      uri: sink.url,
      verified: false,
      updated_at: expect.any(String),
    });
    expect(
      (await api('POST', '/events/account/nope/events/callbacks', access, { callback: { event: 'invoice.create', uri: sink.url } })).status,
    ).toBe(404);
    expect(
      (await api('POST', '/events/account/6BApk/events/callbacks', access, { callback: { event: 'invoice', uri: sink.url } })).status,
    ).toBe(422);

    await fb.idle();
    expect(sink.got).toHaveLength(1);
    const verification = sink.got[0]!;
    expect(verification.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const vf = Object.fromEntries(verification.fields);
    expect(vf.name).toBe('callback.verify');
    expect(vf.object_id).toBe(String(cb.callbackid));
    expect(vf.verifier).toBe(fb.callbacks()[0]!.verifier);
    expect(fb.verificationPosts[0]!.status).toBe(200);

    // Wrong verifier, then the right one.
    const path = `/events/account/6BApk/events/callbacks/${cb.callbackid}`;
    const wrong = await api('PUT', path, access, { callback: { verifier: 'nope' } });
    expect(wrong.status).toBe(422);
    expect(await wrong.json()).toEqual({ message: 'invalid verifier' });
    const put = await api('PUT', path, access, { callback: { verifier: vf.verifier } });
    expect(put.status).toBe(200);
    expect(((await put.json()) as { response: { result: { callback: { verified: boolean } } } }).response.result.callback.verified).toBe(
      true,
    );

    // List.
    const list = (await (await api('GET', '/events/account/6BApk/events/callbacks', access)).json()) as {
      response: { result: { callbacks: unknown[]; page: number; pages: number; per_page: number; total: number } };
    };
    expect(list.response.result).toMatchObject({ page: 1, pages: 1, per_page: 15, total: 1 });

    // A signed notification whose signature recomputes on the receiving side.
    expect(await fb.sendWebhook('invoice.create', 1234567, { extra: 'é "x"' })).toEqual([200]);
    expect(await fb.sendWebhook('invoice.update', 1)).toEqual([]);
    const note = sink.got[1]!;
    expect(note.fields).toEqual([
      ['name', 'invoice.create'],
      ['object_id', '1234567'],
      ['account_id', '6BApk'],
      ['business_id', '6543'],
      ['identity_id', '1234'],
      ['user_id', '1'],
      ['extra', 'é "x"'],
    ]);
    expect(note.headers['x-freshbooks-hmac-sha256']).toBe(freshbooksSignature(note.fields, vf.verifier!));

    // wrong / missing / tamper variants do not verify.
    await fb.sendWebhook('invoice.create', 7, {}, { signature: 'wrong' });
    await fb.sendWebhook('invoice.create', 7, {}, { signature: 'missing' });
    await fb.sendWebhook('invoice.create', 7, {}, { tamper: true });
    const [w, m, t] = sink.got.slice(2);
    expect(w!.headers['x-freshbooks-hmac-sha256']).not.toBe(freshbooksSignature(w!.fields, vf.verifier!));
    expect(m!.headers['x-freshbooks-hmac-sha256']).toBeUndefined();
    expect(Object.fromEntries(t!.fields).object_id).not.toBe('7');
    expect(t!.headers['x-freshbooks-hmac-sha256']).not.toBe(freshbooksSignature(t!.fields, vf.verifier!));

    // resend: a new verification post with a new code, which then signs notifications.
    expect((await api('PUT', path, access, { callback: { resend: true } })).status).toBe(200);
    await fb.idle();
    const resent = Object.fromEntries(sink.got[5]!.fields);
    expect(resent).toMatchObject({ name: 'callback.verify', object_id: String(cb.callbackid) });
    expect(resent.verifier).not.toBe(vf.verifier);
    expect(fb.callbacks()[0]!.verifier).toBe(resent.verifier);
    await fb.sendWebhook('invoice.create', 9);
    expect(sink.got[6]!.headers['x-freshbooks-hmac-sha256']).toBe(freshbooksSignature(sink.got[6]!.fields, resent.verifier!));

    // Delete removes it.
    expect((await api('DELETE', path, access)).status).toBe(204);
    expect((await api('DELETE', path, access)).status).toBe(404);
    expect(fb.callbacks()).toEqual([]);
    expect(await fb.sendWebhook('invoice.create', 8)).toEqual([]);

    // Expired access tokens answer 401.
    fb.expireAccessTokens();
    expect((await api('GET', '/auth/api/v1/users/me', access)).status).toBe(401);
    expect(fb.requests.length).toBeGreaterThan(0);
    expect(fb.requests[0]).toMatchObject({ method: 'GET', path: '/auth/api/v1/users/me' });
  });
});

describe('FakeFreshBooks fault injection', () => {
  const fb = new FakeFreshBooks({ clientId: 'cid', clientSecret: 'secret', redirectUri: 'https://app.example/cb' });
  let base = '';
  let sink: Awaited<ReturnType<typeof receiver>>;
  let access = '';
  let refresh = '';
  beforeAll(async () => {
    base = await fb.start();
    sink = await receiver();
    const res = await fetch(`${base}/auth/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        grant_type: 'authorization_code',
        client_id: 'cid',
        client_secret: 'secret',
        redirect_uri: 'https://app.example/cb',
        code: fb.issueCode(),
      }),
    });
    ({ access_token: access, refresh_token: refresh } = (await res.json()) as { access_token: string; refresh_token: string });
  });
  afterAll(async () => {
    await fb.stop();
    await sink.close();
  });
  afterEach(() => fb.clearFaults());

  const CALLBACKS = '/events/account/6BApk/events/callbacks';
  const api = (method: string, path: string, body?: unknown) =>
    fetch(`${base}${path}`, {
      method,
      headers: { Authorization: `Bearer ${access}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
  const register = (event: string) => api('POST', CALLBACKS, { callback: { event, uri: sink.url } });

  test('a status alone refuses `times` requests and does nothing; then the route works again', async () => {
    fb.fail('register', { status: 503, times: 2 });
    const before = fb.callbacks().length;
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await register('client.create')).status);
    expect(statuses).toEqual([503, 503, 200]);
    expect(fb.callbacks().length).toBe(before + 1);
    expect(fb.faultsHit.slice(-2).map((h) => [h.route, h.status, h.workDone])).toEqual([
      ['register', 503, false],
      ['register', 503, false],
    ]);
  });

  test('dropAfterSuccess does the work and answers 500; a refusal underneath is answered as it is', async () => {
    fb.fail('remove', { dropAfterSuccess: true, times: 2 });
    const id = fb.addStrayCallback('6BApk', 'item.create', sink.url);
    const dropped = await api('DELETE', `${CALLBACKS}/${id}`);
    expect(dropped.status).toBe(500);
    expect(((await dropped.json()) as { message: string }).message).toMatch(/fault injected on remove/);
    expect(fb.callbacks().some((c) => c.callbackid === id)).toBe(false);
    // Already gone: the 404 is FreshBooks' own answer, not replaced.
    expect((await api('DELETE', `${CALLBACKS}/${id}`)).status).toBe(404);
    expect(fb.faultsHit.slice(-2).map((h) => [h.route, h.status, h.workDone])).toEqual([
      ['remove', 500, true],
      ['remove', 404, true],
    ]);
  });

  test('PUT is told apart by its body (verify, resend); list and identity have faults of their own', async () => {
    const id = fb.addStrayCallback('6BApk', 'tax.create', sink.url);
    fb.fail('resend', { status: 502 });
    fb.fail('verify', { status: 429 });
    fb.fail('list', { status: 500 });
    fb.fail('identity', { status: 503 });
    const resendsBefore = fb.resendRequests;
    expect((await api('PUT', `${CALLBACKS}/${id}`, { callback: { resend: true } })).status).toBe(502);
    expect(fb.resendRequests).toBe(resendsBefore);
    const verifier = fb.callbacks().find((c) => c.callbackid === id)!.verifier;
    expect((await api('PUT', `${CALLBACKS}/${id}`, { callback: { verifier } })).status).toBe(429);
    expect(fb.callbacks().find((c) => c.callbackid === id)!.verified).toBe(false);
    expect((await api('GET', CALLBACKS)).status).toBe(500);
    expect((await api('GET', '/auth/api/v1/users/me')).status).toBe(503);
    expect((await api('PUT', `${CALLBACKS}/${id}`, { callback: { verifier } })).status).toBe(200);
    expect(fb.faultsHit.slice(-4).map((h) => h.route)).toEqual(['resend', 'verify', 'list', 'identity']);
  });

  test('a delayed token answer: the refresh token is used when the request arrives, the answer follows', async () => {
    fb.fail('token', { delayMs: 300 });
    let usedBeforeAnswer: number | undefined;
    fb.onFaultAnswered = () => (usedBeforeAnswer = fb.refreshes);
    const refreshesBefore = fb.refreshes;
    const answer = fetch(`${base}/auth/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ grant_type: 'refresh_token', client_id: 'cid', client_secret: 'secret', refresh_token: refresh }),
    });
    const res = await answer;
    fb.onFaultAnswered = undefined;
    expect(res.status).toBe(200);
    const body = (await res.json()) as { refresh_token: string };
    expect(body.refresh_token).not.toBe(refresh);
    refresh = body.refresh_token;
    expect(usedBeforeAnswer).toBe(refreshesBefore + 1);
    expect(fb.faultsHit[fb.faultsHit.length - 1]).toMatchObject({ route: 'token', status: 200, workDone: true });
  });

  test('a refused token request (400 invalid_grant) leaves the refresh token usable and is recorded', async () => {
    fb.fail('token', { status: 400, body: { error: 'invalid_grant' } });
    const grant = { grant_type: 'refresh_token', client_id: 'cid', client_secret: 'secret', refresh_token: refresh };
    const post = () =>
      fetch(`${base}/auth/oauth/token`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(grant) });
    const refused = await post();
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: 'invalid_grant' });
    expect(fb.tokenRequests[fb.tokenRequests.length - 1]).toMatchObject({
      grant_type: 'refresh_token',
      status: 400,
      error: 'invalid_grant',
    });
    expect((await post()).status).toBe(200);
  });
});
