import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createDeliveryActivities } from '../../src/activities/deliver';
import { resolvedCallbackProblem, type CallbackPolicy, type LookupFn } from '../../src/events/callback-url';
import { Sealer } from '../../src/secrets/sealer';
import type { DeliveryInput } from '../../src/workflows/types';
import { freePort } from '../fakes/http-server';

// Real HTTP on loopback: a sink that counts what reaches it.
let server: Server;
let port: number;
let received = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    received += 1;
    req.resume().on('end', () => res.writeHead(204).end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  received = 0;
});

const sealer = new Sealer(randomBytes(32));

const input = (callbackUrl: string): DeliveryInput => ({
  eventId: 'evt-1',
  instanceId: 1,
  elementKey: 'insightly',
  accountId: 'acct',
  callbackUrl,
  firstRetrySeconds: 60,
  maxAttempts: 1,
  body: JSON.stringify({ message: { events: [] } }),
  events: 0,
});

/** A name that answers a public address the first time it is asked, and loopback ever after. */
function rebinding(): { lookup: LookupFn; calls: () => number } {
  let calls = 0;
  const lookup: LookupFn = async () => {
    calls += 1;
    return [calls === 1 ? { address: '93.184.216.34', family: 4 } : { address: '127.0.0.1', family: 4 }];
  };
  return { lookup, calls: () => calls };
}

// Failed attempts are the point here: keep the SDK's 'Activity failed' warnings out of the output.
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

async function attempt(policy: CallbackPolicy, url: string, callbackTimeoutMs?: number): Promise<{ status: number } | ApplicationFailure> {
  const { deliverNotification } = createDeliveryActivities({ sealer, callbackPolicy: policy, callbackTimeoutMs });
  try {
    return await new MockActivityEnvironment(undefined, { logger: quiet }).run(deliverNotification, input(url));
  } catch (err) {
    if (err instanceof ApplicationFailure) return err;
    throw err;
  }
}

describe('callback delivery and where it may connect', () => {
  test('a name rebound to loopback after the check is refused at connect time', async () => {
    const { lookup, calls } = rebinding();
    const policy = { publicOnly: true, lookup };
    const url = `http://rebind.test:${port}/cb`;
    expect(await resolvedCallbackProblem(url, policy)).toBeUndefined(); // first answer: public

    const result = await attempt(policy, url);
    expect(result).toBeInstanceOf(ApplicationFailure);
    const failure = result as ApplicationFailure;
    expect(failure.message).toBe('callback refused: address not allowed');
    expect(failure.type).toBe('CallbackRefusedAddress');
    expect(failure.nonRetryable).toBe(true);
    expect(calls()).toBe(2); // the connection resolved the name itself
    expect(received).toBe(0);
  });

  test('where loopback is allowed, the same name delivers', async () => {
    const { lookup, calls } = rebinding();
    const policy = { publicOnly: false, lookup };
    const url = `http://rebind.test:${port}/cb`;
    expect(await resolvedCallbackProblem(url, policy)).toBeUndefined();
    expect(await attempt(policy, url)).toEqual({ status: 204, url });
    expect(calls()).toBe(2);
    expect(received).toBe(1);
  });

  test('a name with a metadata address among its answers is refused in every deployment', async () => {
    const lookup: LookupFn = async () => [
      { address: '127.0.0.1', family: 4 },
      { address: '169.254.169.254', family: 4 },
    ];
    const result = await attempt({ publicOnly: false, lookup }, `http://meta.test:${port}/cb`);
    expect((result as ApplicationFailure).message).toBe('callback refused: address not allowed');
    expect(received).toBe(0);
  });

  test('a closed port is reported as refused, without the address', async () => {
    const closed = await freePort();
    const result = await attempt({ publicOnly: false }, `http://127.0.0.1:${closed}/cb`);
    const failure = result as ApplicationFailure;
    expect(failure.message).toBe('callback unreachable: connection refused');
    expect(failure.type).toBe('CallbackUnreachable');
    // The record names the URL the attempt went to (the one configured), and nothing of the error's text.
    expect(failure.details).toEqual([{ url: `http://127.0.0.1:${closed}/cb` }]);
    expect(JSON.stringify({ ...failure, details: [] })).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/);

    // The same through a name, resolved by the dispatcher. (A name with several addresses fails with
    // Node's AggregateError, which undici cannot recognise as an Error inside jest's sandbox, another
    // realm: the unit test of attemptErrorCategory covers that shape instead.)
    const lookup: LookupFn = async () => [{ address: '127.0.0.1', family: 4 }];
    const viaName = (await attempt({ publicOnly: false, lookup }, `http://closed.test:${closed}/cb`)) as ApplicationFailure;
    expect(viaName.message).toBe('callback unreachable: connection refused');
    expect(JSON.stringify(viaName)).not.toMatch(/127\.0\.0\.1|ECONNREFUSED/); // the address behind the name stays unsaid
  });

  test('a name that does not resolve is a DNS failure, not a refusal', async () => {
    const lookup: LookupFn = async (host) => {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    };
    const result = (await attempt({ publicOnly: true, lookup }, `http://nowhere.test:${port}/cb`)) as ApplicationFailure;
    expect(result.message).toBe('callback unreachable: DNS lookup failed');
    expect(result.type).toBe('CallbackUnreachable');
  });

  test('an IP-literal loopback callback is refused before any request when only public addresses are', async () => {
    for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]', '[::7f00:1]']) {
      const result = (await attempt({ publicOnly: true }, `http://${host}:${port}/cb`)) as ApplicationFailure;
      expect(result.message).toMatch(/^callback refused: .* is a loopback address, refused for callbacks here$/);
      expect(result.type).toBe('CallbackRefusedAddress');
    }
    expect(received).toBe(0);
    // And the same literal delivers where loopback is allowed.
    expect(await attempt({ publicOnly: false }, `http://127.0.0.1:${port}/cb`)).toEqual({
      status: 204,
      url: `http://127.0.0.1:${port}/cb`,
    });
    expect(received).toBe(1);
  });
});

describe('what a callback answers', () => {
  let answering: Server;
  let at = '';
  beforeAll(async () => {
    answering = createServer((req, res) => {
      req.resume();
      if (req.url === '/moved') res.writeHead(302, { location: `http://127.0.0.1:${port}/cb` }).end();
      else if (req.url === '/busy') res.writeHead(503, { 'retry-after': '7' }).end('busy');
      else if (req.url === '/large') res.writeHead(200).end('x'.repeat(1024 * 1024));
      else if (req.url === '/stalling') res.writeHead(200).write('{"received":'); // and never ends
      // '/silent' never answers.
    });
    await new Promise<void>((resolve) => answering.listen(0, '127.0.0.1', resolve));
    at = `http://127.0.0.1:${(answering.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    answering.closeAllConnections();
    await new Promise((resolve) => answering.close(resolve));
  });

  const attemptAt = (url: string, callbackTimeoutMs?: number) => attempt({ publicOnly: false }, url, callbackTimeoutMs);

  test('a redirect is a failure and is not followed: signed events go only where the app said', async () => {
    const result = (await attemptAt(`${at}/moved`)) as ApplicationFailure;
    expect(result.message).toBe('callback answered 302');
    expect(result.details).toEqual([{ status: 302, url: `${at}/moved` }]);
    expect(received).toBe(0);
  });

  test("a 503's Retry-After goes to the schedule", async () => {
    const result = (await attemptAt(`${at}/busy`)) as ApplicationFailure;
    expect(result.message).toBe('callback answered 503');
    expect(result.details).toEqual([{ status: 503, url: `${at}/busy`, retryAfterMs: 7000 }]);
  });

  test('a large answer is not read, and the attempt counts as delivered', async () => {
    expect(await attemptAt(`${at}/large`)).toEqual({ status: 200, url: `${at}/large` });
  });

  test('an answer whose body stalls counts at its status, without waiting for the body', async () => {
    // A timeout far past the test's own (5 s): an attempt that waited for this body would fail the test.
    expect(await attemptAt(`${at}/stalling`, 120_000)).toEqual({ status: 200, url: `${at}/stalling` });
  });

  test('a callback that does not answer in time is unreachable, with the time it had', async () => {
    const result = (await attemptAt(`${at}/silent`, 300)) as ApplicationFailure;
    expect(result.message).toBe('callback unreachable: no answer within 0.3 s');
    expect(result.type).toBe('CallbackUnreachable');
  });
});
