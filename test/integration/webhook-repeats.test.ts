import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { freePort } from '../fakes/http-server';
import {
  call,
  createInstance,
  freshbooksSeedBody,
  repeatsAreIdentical,
  report,
  sleep,
  startStack,
  waitForVerified,
  type Stack,
  until,
} from './harness';

jest.setTimeout(180_000);

const root = path.resolve(__dirname, '..', '..');
const CALLBACKS = 18;

describe('a webhook sent again is the same event', () => {
  let stack: Stack;
  let worker: ChildProcess;
  beforeAll(async () => {
    stack = await startStack({ worker: 'none' });
    worker = await stack.spawnWorker();
  });
  const children: ChildProcess[] = [];
  afterAll(async () => {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await stack?.stop();
  });

  const callbacksFor = (id: number) => stack.freshbooks.callbacks().filter((c) => c.uri.endsWith(`/events/freshbooksv2/${id}`));
  async function verifiedInstance() {
    const created = await createInstance(stack, freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl: stack.sink.url }));
    await stack.sink.waitFor(() => callbacksFor(created.id).filter((c) => c.verified).length === CALLBACKS, 60_000, 'verified callbacks');
    await waitForVerified(stack, created.id, CALLBACKS);
    return created;
  }
  /** The eventIds the callback accepted for an object, and the events it was reported in. */
  const reportsOf = (objectId: string) => {
    const events = stack.sink.acceptedEvents().filter((e) => e.objectId === objectId);
    // At least once: a notification may be posted again (a worker killed mid-attempt), always whole
    // and under its own eventId; what must not happen is the same webhook under a second eventId.
    return {
      events: new Set(events.map((e) => `${e.eventId}/${e.date}/${e.eventType}`)).size,
      eventIds: new Set(events.map((e) => e.eventId)).size,
    };
  };
  const lastDelivery = () => stack.freshbooks.deliveries[stack.freshbooks.deliveries.length - 1]!;
  const webhookStatus = async (id: number) => (await call(stack, 'GET', `/instances/${id}`)).body.status.webhooks;

  test('posted 5 times and again after a worker restart: one event, one eventId; two different webhooks a second apart: two', async () => {
    const { freshbooks, sink } = stack;
    const created = await verifiedInstance();

    const uri = callbacksFor(created.id)[0]!.uri;
    expect(await freshbooks.sendWebhook('invoice.update', 4242, {}, { uri })).toEqual([200]);
    const original = lastDelivery();
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push(await freshbooks.resend(original));
    await sink.waitFor(() => reportsOf('4242').events >= 1, 30_000, 'the first event');

    // The key is in the instance's history: a new worker replays it and still knows the webhook.
    worker.kill('SIGKILL');
    await once(worker, 'exit');
    worker = await stack.spawnWorker();
    statuses.push(await freshbooks.resend(original));

    // The same invoice updated by two people a second apart: two webhooks that differ, two events.
    expect(await freshbooks.sendWebhook('invoice.update', 4343, { user_id: '1' }, { uri })).toEqual([200]);
    await sleep(1000);
    expect(await freshbooks.sendWebhook('invoice.update', 4343, { user_id: '2' }, { uri })).toEqual([200]);

    await sink.waitFor(() => reportsOf('4343').events >= 2, 60_000, 'both updates of 4343');
    const status = await webhookStatus(created.id);
    await sleep(2000); // anything doubled would have arrived by now
    const once4242 = reportsOf('4242');
    const postedAgain = repeatsAreIdentical(sink.accepted().filter((r) => r.body.message.events.some((e) => e.objectId === '4242')));
    const twice4343 = reportsOf('4343');
    report('same webhook 6 times', {
      sent: 6,
      'answered 200': statuses.filter((s) => s === 200).length + 1,
      'acknowledged as repeats': status.repeats,
      events: once4242.events,
      eventIds: once4242.eventIds,
      'notification posted again whole (worker restart)': postedAgain,
    });
    report('two different webhooks a second apart', { sent: 2, events: twice4343.events, eventIds: twice4343.eventIds });
    expect(statuses).toEqual([200, 200, 200, 200, 200]);
    expect(status).toMatchObject({ received: 3, repeats: 5, pending: 0 });
    expect(once4242).toEqual({ events: 1, eventIds: 1 });
    expect(postedAgain).toBeLessThanOrEqual(1); // only the restart can cause one
    // Two events; they may share a notification (up to 20 events each) or not.
    expect(twice4343.events).toBe(2);
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });

  test('the API killed after the signal is durable but before answering: the provider retries, no second eventId', async () => {
    const { freshbooks, sink } = stack;
    const created = await verifiedInstance();
    const port = await freePort();
    const api = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        path.join(root, 'test', 'fakes', 'die-before-webhook-answer.ts'),
        path.join(root, 'src', 'api', 'main.ts'),
      ],
      { cwd: root, env: { ...process.env, ...stack.env, PORT: String(port), LOG_LEVEL: 'error' }, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    children.push(api);
    const exited = once(api, 'exit');
    const base = `http://127.0.0.1:${port}`;
    await until(async () => (await fetch(`${base}/elements/api-v2/healthz`).catch(() => undefined))?.status === 200, 'the second API');

    // FreshBooks posts to the API that dies before answering: it hears nothing back.
    const uri = callbacksFor(created.id).find((c) => c.event === 'payment.create')!.uri;
    const first = await freshbooks.sendWebhook('payment.create', 5151, {}, { uri, to: (u) => `${base}${new URL(u).pathname}` });
    const [, signal] = await exited;
    // FreshBooks retries the same post; another replica (the stack's API) takes it.
    const retry = await freshbooks.resend(lastDelivery(), uri);
    await sink.waitFor(() => reportsOf('5151').events >= 1, 30_000, 'the event');
    await until(async () => (await webhookStatus(created.id)).pending === 0, 'nothing pending');
    const status = await webhookStatus(created.id);
    await sleep(2000); // a second eventId would have arrived by now
    const reported = reportsOf('5151');
    report('API killed before answering', {
      sent: 2,
      accepted: [...first, retry].filter((s) => s === 200).length,
      'acknowledged as repeats': status.repeats,
      delivered: reported.events,
      eventIds: reported.eventIds,
    });
    expect(signal).toBe('SIGKILL');
    expect(first).toEqual([0]); // no answer: the connection died with the process
    expect(retry).toBe(200);
    expect(status).toMatchObject({ received: 1, repeats: 1 });
    expect(reported).toEqual({ events: 1, eventIds: 1 });
    expect((await call(stack, 'DELETE', `/instances/${created.id}`)).status).toBe(200);
  });
});
