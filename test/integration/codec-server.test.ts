import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { createApp } from '../../src/api/app';
import { CODEC_MAX_BODY_BYTES, CODEC_MAX_PAYLOADS } from '../../src/api/codec-server';
import { resolveTemporalTool, TEMPORAL_CLI } from '../../src/temporal/cli';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA, loadPayloadCodec } from '../../src/temporal/payload-codec';
import {
  depsWithoutTemporal,
  report,
  startStack,
  TEST_ORGANIZATION_SECRET,
  TEST_SECRETS_KEY,
  TEST_USER_SECRET,
  type Stack,
} from './harness';

jest.setTimeout(120_000);

const execFileAsync = promisify(execFile);

const OPERATOR_TOKEN = 'codec-test-operator-token-7f3a9c';
const UI_ORIGIN = 'http://localhost:8233';
// A customer record as a poll would carry it: these values must leave only through the codec server.
const CONTACT = { CONTACT_ID: 48151623, FIRST_NAME: 'Ada', EMAIL_ADDRESS: 'ada.codec-probe@example.com', PHONE: '+44 20 7946 0958' };

/** A payload in proto JSON, the form the Temporal UI and `temporal` send to a codec server. */
interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});
const text = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

describe('codec server (POST /codec/decode, /codec/encode) for the Temporal UI', () => {
  let stack: Stack;
  let origin: string;
  let encrypting: Client;
  const codec = loadPayloadCodec({ secretsKey: TEST_SECRETS_KEY, dataDir: '.' });
  const workflowIds: string[] = [];

  const request = async (
    method: string,
    route: string,
    opts: { json?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<Answer> => {
    const headers: Record<string, string> = { ...(opts.json !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers };
    const body = opts.raw ?? (opts.json !== undefined ? JSON.stringify(opts.json) : undefined);
    const res = await fetch(`${origin}${route}`, { method, headers, body, redirect: 'manual' });
    const answer = await res.text();
    let parsed: unknown;
    try {
      parsed = answer ? JSON.parse(answer) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text: answer, body: parsed };
  };
  const bearer = { authorization: `Bearer ${OPERATOR_TOKEN}` };

  /** The encrypted input of a workflow a codec-using client started, read back through a client without the codec. */
  const encryptedInputFromHistory = async (): Promise<Payload> => {
    const workflowId = `codec-server-probe-${randomUUID()}`;
    workflowIds.push(workflowId);
    // Nobody polls this task queue: the workflow only has to be started for its input to be in history.
    await encrypting.workflow.start('codecServerProbe', { taskQueue: `codec-probe-${randomUUID()}`, workflowId, args: [CONTACT] });
    const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
    const input = history.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
    if (!input) throw new Error(`no input in the history of ${workflowId}`);
    return input as Payload;
  };

  beforeAll(async () => {
    stack = await startStack({ worker: 'none', env: { OPERATOR_TOKEN, TEMPORAL_UI_URL: `${UI_ORIGIN}/namespaces/default` } });
    origin = new URL(stack.api).origin;
    encrypting = new Client({
      connection: stack.client.connection,
      namespace: stack.config.TEMPORAL_NAMESPACE,
      dataConverter: { payloadCodecs: [codec] },
    });
  });
  afterAll(async () => {
    for (const id of workflowIds) await stack.client.workflow.getHandle(id).terminate('codec server test done');
    await stack?.stop();
  });

  test('without the operator credential: 401 and nothing decoded', async () => {
    const input = await encryptedInputFromHistory();
    // The history holds it encrypted: a client without the codec reads no field of the contact.
    expect(Buffer.from(input.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(input.data!).toString('latin1')).not.toContain(CONTACT.EMAIL_ADDRESS);
    const body = { payloads: [toJson(input)] };

    const attempts: Record<string, Record<string, string>> = {
      'no credential': {},
      'an account (not an operator)': { authorization: `User ${TEST_USER_SECRET}, Organization ${TEST_ORGANIZATION_SECRET}` },
      'a wrong token': { authorization: 'Bearer not-the-operator-token-at-all' },
      'a forged session cookie': { cookie: `ee_operator_session=v1.9999999999.${'A'.repeat(22)}.${'B'.repeat(43)}` },
      'the UI origin without sign-in': { origin: UI_ORIGIN },
    };
    const statuses: number[] = [];
    for (const [what, headers] of Object.entries(attempts)) {
      const res = await request('POST', '/codec/decode', { json: body, headers });
      statuses.push(res.status);
      expect({ what, status: res.status }).toEqual({ what, status: 401 });
      expect(res.text).not.toContain(CONTACT.EMAIL_ADDRESS);
      expect(res.text).not.toContain('payloads');
      expect(res.body.message).toMatch(/for operators/);
    }
    // The UI may read the refusal (so it says "could not decode" rather than a network error).
    const fromUi = await request('POST', '/codec/decode', { json: body, headers: { origin: UI_ORIGIN } });
    expect(fromUi.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    report('codec refusals', { attempts: statuses.length, answered401: statuses.filter((s) => s === 401).length });
  });

  test('with the operator token, a payload from a real encrypted history decodes to the original', async () => {
    const input = await encryptedInputFromHistory();
    const res = await request('POST', '/codec/decode', {
      json: { payloads: [toJson(input)] },
      headers: { ...bearer, 'x-namespace': stack.config.TEMPORAL_NAMESPACE },
    });
    expect(res.status).toBe(200);
    expect(res.body.payloads).toHaveLength(1);
    const [decoded] = res.body.payloads as JsonPayload[];
    expect(text(decoded!.metadata!.encoding)).toBe('json/plain');
    expect(JSON.parse(text(decoded!.data))).toEqual(CONTACT);
    report('codec decode of a history payload', {
      payloads: res.body.payloads.length,
      fields: Object.keys(JSON.parse(text(decoded!.data))).length,
    });
  });

  test("Temporal's own codec client, the temporal CLI, shows a history decoded through it", async () => {
    await encryptedInputFromHistory();
    const workflowId = workflowIds[workflowIds.length - 1]!;
    const cli = resolveTemporalTool(TEMPORAL_CLI);
    const show = async (codecArgs: string[]) => {
      const { stdout } = await execFileAsync(
        cli,
        ['workflow', 'show', '-w', workflowId, '--address', process.env.TEST_TEMPORAL_ADDRESS!, '--output', 'json', ...codecArgs],
        { maxBuffer: 10 * 1024 * 1024 },
      );
      return stdout;
    };
    const contactJson = Buffer.from(JSON.stringify(CONTACT)).toString('base64');
    const shows = (out: string) => out.includes(CONTACT.EMAIL_ADDRESS) || out.includes(contactJson);
    const plain = await show([]);
    const decoded = await show(['--codec-endpoint', `${origin}/codec`, '--codec-auth', `Bearer ${OPERATOR_TOKEN}`]);
    expect(plain).toContain(Buffer.from(ENCRYPTED_ENCODING).toString('base64'));
    expect(shows(plain)).toBe(false);
    expect(shows(decoded)).toBe(true);
    report('codec via the temporal CLI', { withoutCodecShowsContact: Number(shows(plain)), withCodecShowsContact: Number(shows(decoded)) });
  });

  test('encode then decode gives back the very payloads; unencrypted payloads pass through decode', async () => {
    const originals = [CONTACT, 'a string', 42, null, { nested: { list: [1, 2, 3] } }].map((v) =>
      toJson(defaultPayloadConverter.toPayload(v)),
    );
    const encoded = await request('POST', '/codec/encode', { json: { payloads: originals }, headers: bearer });
    expect(encoded.status).toBe(200);
    const sealed = encoded.body.payloads as JsonPayload[];
    expect(sealed).toHaveLength(originals.length);
    for (const p of sealed) {
      expect(text(p.metadata!.encoding)).toBe(ENCRYPTED_ENCODING);
      expect(text(p.metadata![KEY_ID_METADATA])).toBe(codec.currentKeyId);
    }
    expect(encoded.text).not.toContain(Buffer.from(JSON.stringify(CONTACT)).toString('base64'));
    expect(sealed.map((p) => text(p.data)).join('')).not.toContain(CONTACT.EMAIL_ADDRESS);
    // What the server encrypted, this process's codec opens too (the same key set).
    const opened = await codec.decode([
      {
        metadata: {
          encoding: Buffer.from(text(sealed[0]!.metadata!.encoding)),
          [KEY_ID_METADATA]: Buffer.from(text(sealed[0]!.metadata![KEY_ID_METADATA])),
        },
        data: Buffer.from(sealed[0]!.data!, 'base64'),
      },
    ]);
    expect(defaultPayloadConverter.fromPayload(opened[0]!)).toEqual(CONTACT);

    const decoded = await request('POST', '/codec/decode', { json: { payloads: [...sealed, originals[1]] }, headers: bearer });
    expect(decoded.status).toBe(200);
    expect(decoded.body.payloads).toEqual([...originals, originals[1]]);
    report('codec round trip', { encoded: sealed.length, decoded: decoded.body.payloads.length, passedThrough: 1 });
  });

  test('an operator signs in with a form: an HttpOnly, SameSite=Strict session cookie (not the token) decodes; sign-out drops it', async () => {
    const page = await request('GET', '/codec/sign-in');
    expect(page.status).toBe(200);
    expect(page.text).toContain('<label for="token">Operator token</label>');

    const wrong = await request('POST', '/codec/sign-in', {
      raw: new URLSearchParams({ token: 'guessing-the-operator-token' }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();

    const signedIn = await request('POST', '/codec/sign-in', {
      raw: new URLSearchParams({ token: OPERATOR_TOKEN }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
    });
    expect(signedIn.status).toBe(200);
    const setCookie = signedIn.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^ee_operator_session=v1\./);
    expect(setCookie).toMatch(/; HttpOnly/);
    expect(setCookie).toMatch(/; SameSite=Strict/);
    expect(setCookie).toMatch(/; Path=\/codec(;|$)/);
    expect(setCookie).not.toContain(OPERATOR_TOKEN);
    const cookie = setCookie.split(';')[0]!;

    const input = await encryptedInputFromHistory();
    const decoded = await request('POST', '/codec/decode', { json: { payloads: [toJson(input)] }, headers: { cookie, origin: UI_ORIGIN } });
    expect(decoded.status).toBe(200);
    expect(JSON.parse(text(decoded.body.payloads[0].data))).toEqual(CONTACT);
    expect(decoded.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(decoded.headers.get('access-control-allow-credentials')).toBe('true');

    // Another site's page cannot use the operator's cookie, nor plant a session of its own.
    const foreign = await request('POST', '/codec/decode', {
      json: { payloads: [toJson(input)] },
      headers: { cookie, origin: 'https://evil.example' },
    });
    expect(foreign.status).toBe(403);
    expect(foreign.text).not.toContain(CONTACT.EMAIL_ADDRESS);
    const planted = await request('POST', '/codec/sign-in', {
      raw: new URLSearchParams({ token: OPERATOR_TOKEN }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
    });
    expect(planted.status).toBe(403);
    expect(planted.headers.get('set-cookie')).toBeNull();

    const out = await request('POST', '/codec/sign-out', { headers: { cookie } });
    expect(out.status).toBe(200);
    expect(out.headers.get('set-cookie')).toMatch(/^ee_operator_session=;.*Expires=Thu, 01 Jan 1970/);
    report('codec operator session', {
      signInRefused: wrong.status,
      signedIn: signedIn.status,
      decodedWithCookie: decoded.status,
      foreignOrigin: foreign.status,
    });
  });

  test('CORS: a preflight from the UI origin is allowed for the headers the UI sends; another origin is not', async () => {
    const preflight = (from: string) =>
      request('OPTIONS', '/codec/decode', {
        headers: { origin: from, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-namespace' },
      });
    const allowed = await preflight(UI_ORIGIN);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-allow-methods')).toBe('POST');
    const allowedHeaders = (allowed.headers.get('access-control-allow-headers') ?? '').toLowerCase().split(/,\s*/);
    expect(allowedHeaders).toEqual(expect.arrayContaining(['content-type', 'x-namespace', 'authorization']));
    expect(allowed.headers.get('vary')).toMatch(/Origin/);

    const refused = await preflight('http://localhost:9999');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('access-control-allow-origin')).toBeNull();
    expect(refused.body.message).toMatch(/may not call the codec server: only the Temporal UI at http:\/\/localhost:8233/);
    report('codec CORS preflight', { uiOrigin: allowed.status, otherOrigin: refused.status });
  });

  test('limits and bad requests: oversize 413, too many payloads 413, not JSON 415/400, another namespace 400, a payload that does not open 400', async () => {
    const oversize = await request('POST', '/codec/decode', {
      raw: 'x'.repeat(CODEC_MAX_BODY_BYTES + 1),
      headers: { ...bearer, 'content-type': 'application/json' },
    });
    expect(oversize.status).toBe(413);
    expect(oversize.body.message).toMatch(String(CODEC_MAX_BODY_BYTES));

    const many = Array.from({ length: CODEC_MAX_PAYLOADS + 1 }, () => ({ metadata: {}, data: '' }));
    const tooMany = await request('POST', '/codec/decode', { json: { payloads: many }, headers: bearer });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.message).toMatch(`At most ${CODEC_MAX_PAYLOADS} payloads`);

    const form = await request('POST', '/codec/decode', {
      raw: 'payloads=1',
      headers: { ...bearer, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(form.status).toBe(415);
    const badJson = await request('POST', '/codec/decode', {
      raw: '{"payloads": [',
      headers: { ...bearer, 'content-type': 'application/json' },
    });
    expect(badJson.status).toBe(400);
    const badShape = await request('POST', '/codec/decode', { json: { payloads: [{ data: 'not base64 !' }] }, headers: bearer });
    expect(badShape.status).toBe(400);
    expect(badShape.body.errors[0].path).toBe('payloads.0.data');

    const input = toJson(await encryptedInputFromHistory());
    const otherNamespace = await request('POST', '/codec/decode', {
      json: { payloads: [input] },
      headers: { ...bearer, 'x-namespace': 'someone-else' },
    });
    expect(otherNamespace.status).toBe(400);
    expect(otherNamespace.body.message).toMatch(/namespace default, not of someone-else/);

    const tampered = {
      ...input,
      data: Buffer.from(Buffer.from(input.data!, 'base64').map((b, i) => (i === 20 ? b ^ 1 : b))).toString('base64'),
    };
    const altered = await request('POST', '/codec/decode', { json: { payloads: [input, tampered] }, headers: bearer });
    expect(altered.status).toBe(400);
    expect(altered.body.errors).toEqual([{ path: 'payloads.1', message: expect.stringMatching(/does not open/) }]);
    expect(altered.text).not.toContain(CONTACT.EMAIL_ADDRESS);
    report('codec limits', {
      oversize: oversize.status,
      tooMany: tooMany.status,
      notJson: form.status,
      badJson: badJson.status,
      otherNamespace: otherNamespace.status,
      tampered: altered.status,
    });
  });

  /** An app of its own (its Temporal client never connects: the codec routes do not need Temporal), on a free port. */
  const ownApp = async (env: Record<string, string>, use: (base: string) => Promise<void>) => {
    const { client, ...deps } = depsWithoutTemporal({ TEMPORAL_UI_URL: UI_ORIGIN, ...env });
    const app = createApp({ client, ...deps });
    const server: Server = await new Promise((resolve) => {
      const s = createServer(app.listener).listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      await use(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    } finally {
      server.close();
      await client.connection.close();
    }
  };

  test('without OPERATOR_TOKEN (outside development) the codec endpoints do not exist', async () => {
    await ownApp({}, async (base) => {
      const statuses = await Promise.all(
        [
          fetch(`${base}/codec/decode`, {
            method: 'POST',
            headers: { ...bearer, 'content-type': 'application/json' },
            body: '{"payloads":[]}',
          }),
          fetch(`${base}/codec/decode`, { method: 'OPTIONS', headers: { origin: UI_ORIGIN, 'access-control-request-method': 'POST' } }),
          fetch(`${base}/codec/sign-in`),
        ].map(async (r) => (await r).status),
      );
      expect(statuses).toEqual([404, 404, 404]);
      report('codec off without OPERATOR_TOKEN', { answered404: statuses.filter((s) => s === 404).length });
    });
  });

  test('guesses are limited per address (AUTH_FAILURES_PER_MINUTE); a UI calling before sign-in is not counted', async () => {
    await ownApp({ OPERATOR_TOKEN, AUTH_FAILURES_PER_MINUTE: '3' }, async (base) => {
      const decode = async (headers: Record<string, string>) =>
        (
          await fetch(`${base}/codec/decode`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...headers },
            body: '{"payloads":[]}',
          })
        ).status;
      const signIn = async (token: string) =>
        (
          await fetch(`${base}/codec/sign-in`, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams({ token }).toString(),
          })
        ).status;
      // A UI opened before signing in: many calls without any credential, none a guess.
      const withoutCredential: number[] = [];
      for (let i = 0; i < 10; i++) withoutCredential.push(await decode({ origin: UI_ORIGIN }));
      expect(withoutCredential.every((s) => s === 401)).toBe(true);
      expect(await decode(bearer)).toBe(200);
      // Guesses: a wrong token, a forged cookie, a wrong sign-in; then the address waits out the minute.
      const guesses = [
        await decode({ authorization: 'Bearer guess-one-guess-one' }),
        await decode({ cookie: `ee_operator_session=v1.9999999999.${'A'.repeat(22)}.${'B'.repeat(43)}` }),
        await signIn('guess-three-guess-three'),
      ];
      expect(guesses).toEqual([401, 401, 401]);
      const afterwards = [await decode(bearer), await signIn(OPERATOR_TOKEN)];
      expect(afterwards).toEqual([429, 429]);
      report('codec guess limit', {
        withoutCredential401: withoutCredential.length,
        guesses401: guesses.length,
        thenRefused429: afterwards.length,
      });
    });
  });
});
