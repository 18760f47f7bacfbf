import { spawn } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import type { LookupFn } from '../../src/events/callback-url';
import { MAX_CONFIGURATION_BYTES } from '../../src/instances/request';
import { getSpecQuery } from '../../src/workflows/messages';
import type { DeliveryInput, DeliveryRecord } from '../../src/workflows/types';
import { getDeliveryQuery } from '../../src/workflows/messages';
import { freePort } from '../fakes/http-server';
import {
  call,
  createInstance,
  freshbooksSeedBody,
  insightlySeedBody,
  instanceWorkflowCount,
  sleep,
  startStack,
  type Stack,
  waitForVerified,
} from './harness';

jest.setTimeout(300_000);

const root = path.resolve(__dirname, '..', '..');

/** Each attack ends with one line of counts; the assertions below check the same numbers. */
function report(attack: string, counts: Record<string, number>): void {
  process.stdout.write(
    `attack ${attack}: ${Object.entries(counts)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}\n`,
  );
}

/** Runs `fn` for 0..n-1 with at most `limit` in flight. */
async function pool(n: number, limit: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < n) await fn(next++);
    }),
  );
}

const form = 'application/x-www-form-urlencoded';
const post = (url: string, body: string, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': form, ...headers }, body }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

/** Posts `count` form bodies from a child process; resolves with the statuses it got. */
function runSender(opts: { url: string; body: string; signature: string; count: number; concurrency: number }): Promise<number[]> {
  const script = `
    let input = '';
    process.stdin.on('data', (d) => (input += d));
    process.stdin.on('end', () => run(JSON.parse(input)));
    function run({ url, body, signature, count, concurrency }) {
    const statuses = [];
    let next = 0;
    const one = async () => {
      while (next++ < count) {
        const r = await fetch(url, { method: 'POST', headers: { 'content-type': '${form}', 'x-freshbooks-hmac-sha256': signature }, body })
          .catch(() => ({ status: 0, arrayBuffer: async () => undefined }));
        await r.arrayBuffer().catch(() => undefined);
        statuses.push(r.status);
      }
    };
    Promise.all(Array.from({ length: concurrency }, one)).then(() => process.stdout.write(JSON.stringify(statuses)));
    }
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    child.stdin.end(JSON.stringify(opts));
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`sender exited ${code}`))));
  });
}

/** One request from a chosen local address (Linux routes all of 127/8 to lo). */
function requestFrom(localAddress: string, url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { localAddress, headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('attacks on an instance without credentials', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const callbacksFor = (id: number) => stack.freshbooks.callbacks().filter((c) => c.uri.endsWith(`/events/freshbooksv2/${id}`));
  async function verifiedFreshBooks(extra: Record<string, unknown> = {}) {
    const body = freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl: stack.sink.url });
    Object.assign(body.configuration, extra);
    const created = await createInstance(stack, body);
    await stack.sink.waitFor(() => callbacksFor(created.id).filter((c) => c.verified).length === 18, 30_000, 'verified callbacks');
    await waitForVerified(stack, created.id, 18);
    return created;
  }
  const receiver = (id: number) => `${stack.api}/events/freshbooksv2/${id}`;
  const historyLength = async (id: number) => (await stack.client.workflow.getHandle(`instance-${id}`).describe()).historyLength;

  test('20,000 unsigned verification posts neither grow the history nor reach Temporal per post', async () => {
    const created = await verifiedFreshBooks();
    const verifiedId = callbacksFor(created.id)[0]!.callbackid;
    const historyBefore = await historyLength(created.id);
    const callsBefore = stack.temporalCalls.length;
    const started = Date.now();

    const statuses = new Map<number, number>();
    const count = (s: number) => statuses.set(s, (statuses.get(s) ?? 0) + 1);
    // For the verified callback: answered at once from the cached view.
    await pool(20_000, 64, async (i) => {
      count(await post(receiver(created.id), `name=callback.verify&object_id=${verifiedId}&verifier=forged-${i}`));
    });
    // For callbacks the instance never registered: refused once a fresh view confirms it.
    await pool(500, 100, async (i) => {
      count(await post(receiver(created.id), `name=callback.verify&object_id=${9_000_000 + i}&verifier=forged-${i}`));
    });
    const seconds = (Date.now() - started) / 1000;
    const calls = stack.temporalCalls.slice(callsBefore);
    const grown = (await historyLength(created.id)) - historyBefore;
    report('verification flood', {
      sent: 20_500,
      'answered 200 (already verified)': statuses.get(200) ?? 0,
      'refused 404': statuses.get(404) ?? 0,
      'Temporal calls': calls.length,
      signals: calls.filter((c) => c.endsWith('/SignalWorkflowExecution')).length,
      'history events added': grown,
      harmed: 0,
    });
    expect(statuses.get(200)).toBe(20_000);
    expect(statuses.get(404)).toBe(500);
    expect(calls.filter((c) => c.endsWith('/SignalWorkflowExecution'))).toHaveLength(0);
    // The receiver reads an instance at most once a second (a describe and a query).
    expect(calls.length).toBeLessThanOrEqual(2 * Math.ceil(seconds) + 4);
    expect(grown).toBeLessThan(100);

    // Still running and delivering.
    expect(await stack.freshbooks.sendWebhook('invoice.create', 777_001)).toEqual([200]);
    await stack.sink.waitFor(() => stack.sink.acceptedEvents().some((e) => e.objectId === '777001'), 30_000, 'the genuine webhook');

    // A callback registered now is verified by FreshBooks' genuine post, as before the flood.
    const patched = await call(stack, 'PATCH', `/instances/${created.id}`, {
      json: { configuration: { 'event.objects': 'client,invoice,estimate,expense,payment,item,project' } },
    });
    expect(patched.status).toBe(200);
    await stack.sink.waitFor(() => callbacksFor(created.id).filter((c) => c.verified).length === 21, 30_000, '21 verified callbacks');
    await waitForVerified(stack, created.id, 21);
    expect((await call(stack, 'GET', `/instances/${created.id}`)).body.status.callbacks).toEqual({
      wanted: 21,
      registered: 21,
      verified: 21,
    });
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });

  test('large or junk-signed webhook bodies cost about what a small one does', async () => {
    const created = await verifiedFreshBooks();
    const small = `name=invoice.create&object_id=1&account_id=6BApk`;
    const big = `${small}&pad=${'x'.repeat(256 * 1024)}`;
    const largestAccepted = `${small}&pad=${'x'.repeat(16 * 1024 - small.length - 10)}`;
    const wellFormedWrong = createHmac('sha256', 'not-the-verifier').update(small).digest('base64');

    // The sender runs in a process of its own, so this process's CPU is the receiver's (and the idle worker's).
    async function cpuPerRequest(body: string, signature: string, count = 100): Promise<{ micros: number; statuses: number[] }> {
      const before = process.cpuUsage();
      const statuses = await runSender({ url: receiver(created.id), body, signature, count, concurrency: 8 });
      const used = process.cpuUsage(before);
      return { micros: (used.user + used.system) / count, statuses };
    }
    const kinds = {
      small: [small, wellFormedWrong],
      hugeJunk: [big, 'junk'],
      hugeSigned: [big, wellFormedWrong],
      largest: [largestAccepted, wellFormedWrong],
    } as const;
    await cpuPerRequest(small, wellFormedWrong); // warm up
    const callsBefore = stack.temporalCalls.length;
    // Interleaved rounds, each kind's ratio to the small request of its own round, then the median:
    // a collection or a burst of other work lands in one round, not in every ratio.
    const ratios: Record<string, number[]> = { hugeJunk: [], hugeSigned: [], largest: [] };
    const statuses: Record<string, number[]> = { small: [], hugeJunk: [], hugeSigned: [], largest: [] };
    for (let round = 0; round < 5; round++) {
      const measured: Record<string, number> = {};
      for (const [kind, [body, signature]] of Object.entries(kinds)) {
        const r = await cpuPerRequest(body, signature);
        measured[kind] = r.micros;
        statuses[kind]!.push(...r.statuses);
      }
      for (const kind of Object.keys(ratios)) ratios[kind]!.push(measured[kind]! / measured.small!);
    }
    const median = (xs: number[]) => Math.round([...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]! * 100) / 100;
    const calls = stack.temporalCalls.length - callsBefore;
    const all = Object.values(statuses).flat();
    report('large and junk-signed bodies', {
      sent: all.length,
      'refused 401': all.filter((s) => s === 401).length,
      'refused 413': all.filter((s) => s === 413).length,
      'CPU ratio 256 KB junk / small (median of 5)': median(ratios.hugeJunk!),
      'CPU ratio 256 KB signed / small': median(ratios.hugeSigned!),
      'CPU ratio 16 KB signed / small': median(ratios.largest!),
      'Temporal calls': calls,
      harmed: stack.sink.acceptedEvents().filter((e) => e.objectId === '1').length,
    });
    expect(statuses.small!.every((s) => s === 401)).toBe(true);
    expect(statuses.largest!.every((s) => s === 401)).toBe(true);
    for (const kind of ['hugeJunk', 'hugeSigned']) expect(statuses[kind]!.every((s) => s === 413 || s === 401)).toBe(true);
    for (const kind of Object.keys(ratios)) expect(median(ratios[kind]!)).toBeLessThanOrEqual(3);
    expect(stack.sink.acceptedEvents().filter((e) => e.objectId === '1')).toHaveLength(0);
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });

  test('the development secrets are refused once accounts are configured, and an API with no other account does not start', async () => {
    // This stack runs against TEMPORAL_ADDRESS with ELEMENTS_ACCOUNTS set.
    const devAuth = 'User dev-user-secret, Organization dev-organization-secret';
    expect((await call(stack, 'GET', '/instances', { auth: devAuth })).status).toBe(401);

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TEMPORAL_ADDRESS: process.env.TEST_TEMPORAL_ADDRESS,
      PORT: String(await freePort()),
      LOG_LEVEL: 'info',
    };
    for (const k of ['ELEMENTS_USER_SECRET', 'ELEMENTS_ORGANIZATION_SECRET', 'ELEMENTS_ACCOUNTS']) delete env[k];
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'src', 'api', 'main.ts')], { cwd: root, env });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    report('development secrets outside development', { sent: 1, refused: 1, 'API exit code': code ?? -1, harmed: 0 });
    expect(code).not.toBe(0);
    expect(output).toMatch(/ELEMENTS_USER_SECRET/);
    expect(output).toMatch(/ELEMENTS_ACCOUNTS/);
    expect(output).toMatch(/TEMPORAL_ADDRESS/);
  });

  test('values that look sealed are refused; a sealed value moved to another instance or field does not open', async () => {
    const before = await instanceWorkflowCount(stack);
    const sealedLooking = 'sealed:v2:0123abcd:AAAA';
    const insightly = insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: 15 });
    const attempts = [
      { ...insightly, configuration: { ...insightly.configuration, password: sealedLooking } },
      { ...insightly, configuration: { ...insightly.configuration, 'event.notification.signature.key': 'sealed:v1:x' } },
      (() => {
        const fb = freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl: stack.sink.url });
        fb.configuration['oauth.api.secret'] = sealedLooking;
        return fb;
      })(),
    ];
    let refused = 0;
    for (const body of attempts) {
      const res = await call(stack, 'POST', '/instances', { json: body });
      expect(res.status).toBe(400);
      expect(res.body.message).toContain('may not start with "sealed:"');
      refused++;
    }
    expect(await instanceWorkflowCount(stack)).toBe(before);

    // Two instances with signature keys; PATCH cannot smuggle a sealed value in either.
    const a = await createInstance(
      stack,
      insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: 15, signatureKey: 'key-of-a' }),
    );
    const b = await createInstance(
      stack,
      insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: 15, signatureKey: 'key-of-b' }),
    );
    const specA = await stack.client.workflow.getHandle(`instance-${a.id}`).query(getSpecQuery);
    const sealedKeyOfA = specA.events.signatureKey!;
    const patch = await call(stack, 'PATCH', `/instances/${b.id}`, {
      json: { configuration: { 'event.notification.signature.key': sealedKeyOfA } },
    });
    expect(patch.status).toBe(400);
    refused++;

    // Copied straight into Temporal (as someone with access to history could), it opens nowhere else.
    const delivered = stack.sink.received.length;
    const moved = async (instanceId: number, input: Partial<DeliveryInput>) => {
      const eventId = randomUUID();
      const handle = await stack.client.workflow.start('deliveryWorkflow', {
        taskQueue: stack.taskQueue,
        workflowId: `delivery-${eventId}`,
        args: [
          {
            eventId,
            instanceId,
            elementKey: 'insightly',
            accountId: specA.accountId,
            callbackUrl: stack.sink.url,
            firstRetrySeconds: 3600,
            maxAttempts: 2,
            body: JSON.stringify({ message: { eventId, events: [] } }),
            events: 0,
            ...input,
          } satisfies DeliveryInput,
        ],
      });
      let record: DeliveryRecord | undefined;
      for (let i = 0; i < 100 && !record?.attempts.length; i++) {
        record = await handle.query(getDeliveryQuery);
        if (!record.attempts.length) await sleep(100);
      }
      await handle.terminate('attack test: done').catch(() => undefined); // the control completes by itself
      return record!;
    };
    const toOtherInstance = await moved(b.id, { signatureKey: sealedKeyOfA });
    const toOtherField = await moved(a.id, { webhookSecret: sealedKeyOfA });
    const control = await moved(a.id, { signatureKey: sealedKeyOfA });
    report('sealed values', { sent: 6, refused: refused + 2, 'opened elsewhere': 0, harmed: 0 });
    expect(toOtherInstance.attempts[0]!.error).toMatch(/could not be opened as event.notification.signature.key of instance/);
    expect(toOtherField.attempts[0]!.error).toMatch(/could not be opened as event.notification.webhook.secret/);
    expect(control.attempts[0]!.status).toBe(200);
    // Only the control reached the callback.
    expect(stack.sink.received.length).toBe(delivered + 1);
    for (const id of [a.id, b.id]) expect((await call(stack, 'DELETE', `/instances/${id}`)).status).toBe(200);
  });
  test('a configuration over 64 KB is refused; one at the limit polls normally', async () => {
    const before = await instanceWorkflowCount(stack);
    const pad = (n: number) => 'p'.repeat(n);
    const resourceUrl = (value: string) =>
      `/hubs/crm/contacts?where=updated_after_utc='\${gmtDate:yyyy-MM-dd HH:mm:ss}' and field_name='FIRST_NAME' and field_value='${value}'`;
    const withResources = (value: string) => {
      const body = insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: '0.05' });
      const dates = (body.configuration['event.poller.configuration'] as { contacts: { datesConfiguration: unknown } }).contacts
        .datesConfiguration;
      body.configuration['event.poller.configuration'] = Object.fromEntries(
        Array.from({ length: 100 }, (_, i) => [
          `r${String(i).padStart(3, '0')}`,
          { url: resourceUrl(value), idField: 'CONTACT_ID', datesConfiguration: dates },
        ]),
      ) as never;
      return body;
    };
    // 100 resources with ~3.9 KB URLs: the 400 KB configuration that used to kill its instance.
    const tooBig = withResources(pad(3_800));
    const refused = await call(stack, 'POST', '/instances', { json: tooBig });
    expect(refused.status).toBe(400);
    expect(refused.body.message).toContain(String(MAX_CONFIGURATION_BYTES));
    expect(refused.body.errors[0].path).toBe('configuration');

    // The largest accepted: grow the value until the next character would pass the limit.
    const size = (n: number) => Buffer.byteLength(JSON.stringify(withResources(pad(n)).configuration));
    let n = 0;
    const perChar = size(1) - size(0);
    n = Math.floor((MAX_CONFIGURATION_BYTES - size(0)) / perChar);
    expect(size(n)).toBeLessThanOrEqual(MAX_CONFIGURATION_BYTES);
    expect(size(n + 1)).toBeGreaterThan(MAX_CONFIGURATION_BYTES);
    const created = await createInstance(stack, withResources(pad(n)));
    await sleep(1100);
    const contact = stack.insightly.create('Contacts', { FIRST_NAME: pad(n) });
    const ours = () => stack.sink.acceptedEvents().filter((e) => e.objectId === String(contact.CONTACT_ID));
    await stack.sink.waitFor(
      () => new Set(ours().map((e) => e.objectType)).size === 100,
      120_000,
      'all 100 resources to report the contact',
    );
    const view = (await call(stack, 'GET', `/instances/${created.id}`)).body;
    const errors = Object.values(view.status.resources as Record<string, { lastError?: string }>).filter((r) => r.lastError);
    report('configuration size', {
      'refused (400 KB)': 1,
      'accepted bytes': size(n),
      'resources reporting': new Set(ours().map((e) => e.objectType)).size,
      'resources with errors': errors.length,
      harmed: 0,
    });
    expect(errors).toHaveLength(0);
    expect(await instanceWorkflowCount(stack)).toBe(before + 1);
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });
});

describe('a verification post that never arrives', () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ env: { VERIFICATION_RESEND_SECONDS: '2' } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('lost (or crowded out by forged ones), it is asked for again until the callback is verified', async () => {
    stack.freshbooks.loseVerificationPosts = 3;
    const created = await createInstance(stack, freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl: stack.sink.url }));
    await waitForVerified(stack, created.id, 18);
    const view = (await call(stack, 'GET', `/instances/${created.id}`)).body;
    report('lost verification posts', {
      lost: 3,
      'resends asked': stack.freshbooks.resendRequests,
      verified: view.status.callbacks.verified,
    });
    expect(stack.freshbooks.resendRequests).toBeGreaterThanOrEqual(3);
    expect(view.status.callbacks).toEqual({ wanted: 18, registered: 18, verified: 18 });
    expect(await stack.freshbooks.sendWebhook('invoice.create', 880_001)).toEqual([200]);
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });
});

describe('SECRETS_KEY rotation', () => {
  const oldKey = Buffer.alloc(32, 21).toString('base64');
  const newKey = Buffer.alloc(32, 22).toString('base64');
  let stack: Stack;
  beforeAll(async () => {
    // Payload keys of their own: with keys derived from SECRETS_KEY, a worker alone on the new key would
    // write payloads this API (old key only) cannot read; this test is about the sealed secrets.
    stack = await startStack({ worker: 'none', env: { SECRETS_KEY: oldKey, PAYLOAD_KEYS: Buffer.alloc(32, 23).toString('base64') } });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  test('with the old key listed after the new one, existing instances keep polling and signing', async () => {
    const worker = await stack.spawnWorker();
    const created = await createInstance(
      stack,
      insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: '0.02', signatureKey: 'rotating' }),
    );
    await sleep(1100);
    const first = stack.insightly.create('Contacts', { FIRST_NAME: 'Before' });
    await stack.sink.waitFor(
      () => stack.sink.acceptedEvents().some((e) => e.objectId === String(first.CONTACT_ID)),
      30_000,
      'before rotation',
    );
    worker.kill('SIGKILL');
    await new Promise((r) => worker.once('exit', r));

    await stack.spawnWorker({ SECRETS_KEY: `${newKey},${oldKey}` });
    const second = stack.insightly.create('Contacts', { FIRST_NAME: 'After' });
    await stack.sink.waitFor(
      () => stack.sink.acceptedEvents().some((e) => e.objectId === String(second.CONTACT_ID)),
      60_000,
      'after rotation',
    );
    const afterRotation = stack.sink.accepted().find((r) => r.body.message.events.some((e) => e.objectId === String(second.CONTACT_ID)))!;
    const expected = `sha256=${createHmac('sha256', 'rotating').update(afterRotation.rawBody).digest('base64')}`;
    report('key rotation', { 'delivered before': 1, 'delivered after': 1, 'bad signatures': 0 });
    expect(afterRotation.headers['elements-webhook-signature']).toBe(expected);
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });
});

describe('a deployment facing the internet', () => {
  const USER = 'prod-user-secret';
  const ORG = 'prod-organization-secret';
  const AUTH = `User ${USER}, Organization ${ORG}`;
  let stack: Stack;
  let lookups = 0;
  // A resolver stub: rebind.test is public when the API checks it and loopback when the worker connects.
  const lookup: LookupFn = async (host) => {
    if (host === 'rebind.test') return [{ address: lookups++ === 0 ? '93.184.216.34' : '127.0.0.1', family: 4 }];
    if (host === 'public.test') return [{ address: '93.184.216.34', family: 4 }];
    throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  };

  beforeAll(async () => {
    stack = await startStack({
      callbackLookup: lookup,
      env: {
        // An account of its own, so other suites' instances do not count against its quota.
        ELEMENTS_USER_SECRET: USER,
        ELEMENTS_ORGANIZATION_SECRET: ORG,
        // Unset: public-only callbacks, as anywhere but the embedded dev server.
        CALLBACK_URLS_PUBLIC_ONLY: '',
        MAX_INSTANCES_PER_ACCOUNT: '3',
        AUTH_FAILURES_PER_MINUTE: '5',
        HTTP_HEADERS_TIMEOUT_SECONDS: '2',
        HTTP_MAX_CONNECTIONS_PER_ADDRESS: '100',
      },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });
  const eventsOff = (name: string) => ({
    ...insightlySeedBody({ callbackUrl: 'https://public.test/cb', refreshInterval: 15 }),
    name,
  });

  test('callbacks to the inside are refused, also through a name that rebinds to loopback', async () => {
    const port = new URL(stack.sink.url).port;
    const before = await instanceWorkflowCount(stack);
    const inside = [
      `http://127.0.0.1:${port}/callback`,
      `http://[::ffff:127.0.0.1]:${port}/callback`,
      `http://[::7f00:1]:${port}/callback`,
      'http://100.100.100.200/latest/meta-data',
      'http://169.254.169.254/latest/meta-data',
      `http://localhost:${port}/callback`,
    ];
    for (const url of inside) {
      const res = await call(stack, 'POST', '/instances', {
        auth: AUTH,
        json: insightlySeedBody({ callbackUrl: url, refreshInterval: 15 }),
      });
      expect([url, res.status]).toEqual([url, 400]);
      expect(res.body.errors[0].path).toBe('configuration.event.notification.callback.url');
    }
    expect(await instanceWorkflowCount(stack)).toBe(before);

    const created = await call(stack, 'POST', '/instances', {
      auth: AUTH,
      json: insightlySeedBody({ callbackUrl: `http://rebind.test:${port}/callback`, refreshInterval: '0.02' }),
    });
    expect(created.status).toBe(200);
    await sleep(1100);
    stack.insightly.create('Contacts', { FIRST_NAME: 'Rebound' });
    let record: DeliveryRecord | undefined;
    for (let i = 0; i < 200 && !record; i++) {
      const list = await call(stack, 'GET', `/instances/${created.body.id}/events`, { auth: AUTH });
      const eventId = list.body.events?.[0]?.eventId;
      if (eventId) {
        const r = (await call(stack, 'GET', `/instances/${created.body.id}/events/${eventId}`, { auth: AUTH })).body as DeliveryRecord;
        if (r.attempts.length) record = r;
      }
      if (!record) await sleep(150);
    }
    report('callbacks to the inside', {
      sent: inside.length + 1,
      refused: inside.length + 1,
      'requests at the target': stack.sink.received.length,
      harmed: 0,
    });
    expect(record!.attempts[0]!.error).toBe('callback refused: address not allowed');
    expect(JSON.stringify(record)).not.toContain('127.0.0.1');
    expect(lookups).toBeGreaterThanOrEqual(2);
    expect(stack.sink.received).toHaveLength(0);
    expect((await call(stack, 'DELETE', `/instances/${created.body.id}`, { auth: AUTH })).status).toBe(200);
  });

  test('slow and idle clients do not hold the API', async () => {
    const { hostname, port } = new URL(stack.api);
    // Half a request head, then nothing: answered 408 and closed at the header timeout (2 s here).
    const slow = net.connect({ host: hostname, port: Number(port) });
    let got = '';
    slow.on('data', (d) => (got += d));
    slow.write('GET /elements/api-v2/healthz HTTP/1.1\r\nHost: x\r\n');
    const closedAfter = await new Promise<number>((resolve) => {
      const started = Date.now();
      slow.on('close', () => resolve(Date.now() - started));
    });
    expect(got).toMatch(/^HTTP\/1.1 408/);
    expect(closedAfter).toBeLessThan(15_000); // generous: the point is that it is not held (it was 76 s)

    // 1,000 idle sockets from one address: past its cap they are dropped, and others are still served.
    const idle: net.Socket[] = [];
    let dropped = 0;
    await Promise.all(
      Array.from(
        { length: 1000 },
        () =>
          new Promise<void>((resolve) => {
            const s = net.connect({ host: hostname, port: Number(port), localAddress: '127.0.0.2' }, () => resolve());
            s.on('error', () => resolve());
            s.on('close', () => {
              dropped++;
              resolve();
            });
            idle.push(s);
          }),
      ),
    );
    await sleep(200);
    const served = await call(stack, 'GET', '/instances', { auth: AUTH });
    report('slow and idle clients', { 'idle sockets': 1000, dropped, 'normal request status': served.status, harmed: 0 });
    expect(served.status).toBe(200);
    expect(dropped).toBeGreaterThanOrEqual(900);
    for (const s of idle) s.destroy();
  });

  test('security headers, no-store, and authentication before any body is parsed', async () => {
    const res = await fetch(`${stack.api}/instances`, { headers: { authorization: AUTH } });
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('content-security-policy')).toBeTruthy();
    const junk = await call(stack, 'POST', '/instances', { auth: null, raw: '{"not json' });
    expect(junk.status).toBe(401);
  });

  test('Element tokens: rotated tokens stop working, and a token cannot redirect the events', async () => {
    const created = await call(stack, 'POST', '/instances', { auth: AUTH, json: eventsOff('token test') });
    expect(created.status).toBe(200);
    expect(created.body.token).toBeTruthy();
    const id = created.body.id as number;
    const asToken = (token: string) => `User ${USER}, Element ${token}`;
    const oldToken = created.body.token as string;
    expect((await call(stack, 'GET', `/instances/${id}`, { auth: asToken(oldToken) })).status).toBe(200);

    const rotated = await call(stack, 'POST', `/instances/${id}/token`, { auth: AUTH });
    expect(rotated.status).toBe(200);
    const newToken = rotated.body.token as string;
    expect(newToken).not.toBe(oldToken);
    const oldAnswer = (await call(stack, 'GET', `/instances/${id}`, { auth: asToken(oldToken) })).status;
    expect([401, 404]).toContain(oldAnswer);
    expect((await call(stack, 'GET', `/instances/${id}`, { auth: asToken(newToken) })).status).toBe(200);
    // A token may not issue tokens, nor move or re-key the events, nor change the credentials.
    expect((await call(stack, 'POST', `/instances/${id}/token`, { auth: asToken(newToken) })).status).toBe(403);
    const refused = [];
    for (const configuration of [
      { 'event.notification.callback.url': 'https://public.test/elsewhere' },
      { 'event.notification.signature.key': 'attacker' },
      { password: 'another-key' },
    ]) {
      const res = await call(stack, 'PATCH', `/instances/${id}`, { auth: asToken(newToken), json: { configuration } });
      expect(res.status).toBe(403);
      refused.push(res.status);
    }
    // It may still manage the events.
    const managed = await call(stack, 'PATCH', `/instances/${id}`, {
      auth: asToken(newToken),
      json: { configuration: { 'event.poller.refresh_interval': 30 } },
    });
    expect(managed.status).toBe(200);
    const spec = await stack.client.workflow.getHandle(`instance-${id}`).query(getSpecQuery);
    report('Element tokens', { 'old token answered': oldAnswer, 'token changes refused': refused.length + 1, harmed: 0 });
    expect(spec.events.callbackUrl).toBe('https://public.test/cb');
    expect((await call(stack, 'DELETE', `/instances/${id}`, { auth: asToken(newToken) })).status).toBe(403);
    expect((await call(stack, 'DELETE', `/instances/${id}`, { auth: AUTH })).status).toBe(200);
  });

  test('failed logins are limited per client address', async () => {
    const url = `${stack.api}/instances`;
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++)
      statuses.push(await requestFrom('127.0.0.2', url, { authorization: `User ${USER}, Organization wrong-${i}` }));
    const sameAddressRight = await requestFrom('127.0.0.2', url, { authorization: AUTH });
    const otherAddressRight = await requestFrom('127.0.0.1', url, { authorization: AUTH });
    report('login guessing', {
      sent: 7,
      'refused 401': statuses.filter((s) => s === 401).length,
      'refused 429': statuses.filter((s) => s === 429).length,
      harmed: 0,
    });
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect(sameAddressRight).toBe(429);
    expect(otherAddressRight).toBe(200);
  });

  test('MAX_INSTANCES_PER_ACCOUNT: the fourth create is 429 and leaves no workflow', async () => {
    const baseline = await instanceWorkflowCount(stack);
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(stack, 'POST', '/instances', { auth: AUTH, json: eventsOff(`quota ${i}`) });
      expect(res.status).toBe(200);
      ids.push(res.body.id);
    }
    const callsBefore = stack.temporalCalls.length;
    const fourth = await call(stack, 'POST', '/instances', { auth: AUTH, json: eventsOff('quota 4') });
    // The refusal came before any workflow was started: no start call went to Temporal.
    const starts = stack.temporalCalls.slice(callsBefore).filter((c) => c.endsWith('/StartWorkflowExecution')).length;
    report('instance quota', { created: 3, 'refused 429': fourth.status === 429 ? 1 : 0, 'workflows started by the refusal': starts });
    expect(fourth.status).toBe(429);
    expect(fourth.body.message).toContain('MAX_INSTANCES_PER_ACCOUNT');
    expect(starts).toBe(0);
    // Temporal's list may lag a moment; once it shows the three, it shows no fourth.
    for (let i = 0; i < 50 && (await instanceWorkflowCount(stack)) < baseline + 3; i++) await sleep(100);
    expect(await instanceWorkflowCount(stack)).toBe(baseline + 3);

    // Paged listing: two pages of two.
    const first = await fetch(`${stack.api}/instances?pageSize=2`, { headers: { authorization: AUTH } });
    const next = first.headers.get('elements-next-page-token');
    expect(((await first.json()) as unknown[]).length).toBe(2);
    expect(next).toBeTruthy();
    const second = await call(stack, 'GET', `/instances?pageSize=2&nextPage=${next}`, { auth: AUTH });
    expect(second.body).toHaveLength(1);
    for (const id of ids) expect((await call(stack, 'DELETE', `/instances/${id}`, { auth: AUTH })).status).toBe(200);

    // Five creates at once for three places: they see each other, so exactly three get in. Three rounds,
    // each right after the last round's deletes: a create Temporal already lists is still counted once.
    const created: number[] = [];
    for (let round = 0; round < 3; round++) {
      const burst = await Promise.all(
        Array.from({ length: 5 }, (_, i) => call(stack, 'POST', '/instances', { auth: AUTH, json: eventsOff(`burst ${round}.${i}`) })),
      );
      created.push(burst.filter((r) => r.status === 200).length);
      expect(burst.map((r) => r.status).sort()).toEqual([200, 200, 200, 429, 429]);
      for (const r of burst.filter((r) => r.status === 200))
        expect((await call(stack, 'DELETE', `/instances/${r.body.id}`, { auth: AUTH })).status).toBe(200);
    }
    report('concurrent creates', {
      rounds: 3,
      sent: 15,
      created: created.reduce((a, b) => a + b, 0),
      'rounds with exactly 3': created.filter((n) => n === 3).length,
    });
  });
});
