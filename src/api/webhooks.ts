import { createHash, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import express from 'express';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { findElement } from '../elements';
import type { ParsedWebhook } from '../elements/element';
import { badRequest, HttpError, notFound, tooMany, unauthorized } from '../errors';
import type { Logger } from '../logger';
import { countWebhookAnswer, type WebhookOutcome } from '../metrics/webhooks';
import type { Sealer } from '../secrets/sealer';
import { withRequestSpan } from '../tracing/request-spans';
import { instanceWorkflowId } from '../workflows/ids';
import { callbackVerificationSignal } from '../workflows/messages';
import { BASE_PATH } from './base-path';
import { errorAnswer, logRequest } from './errors';
import { answerJson, answerText } from './plain-answers';
import { MinuteCounts } from './minute-counts';
import { now, ReceiverBusy, ReceiverStates, type ReceiverSnapshot } from './receiver-state';
import { WebhookBatcher } from './webhook-batcher';

/** Providers post small forms (FreshBooks: a handful of fields); anything larger is refused unread. */
export const WEBHOOK_BODY_LIMIT_BYTES = 16 * 1024;
/**
 * Verification posts turned into signals per minute (in each API process): per callback (FreshBooks
 * posts one, and again on a resend), and per instance (18 callbacks registered at once, twice over
 * when events are turned off and on).
 */
export const VERIFICATIONS_PER_CALLBACK_PER_MINUTE = 5;
export const VERIFICATIONS_PER_INSTANCE_PER_MINUTE = 200;
/** FreshBooks waits about 10 s for an answer. */
export const TEMPORAL_DEADLINE_MS = 5_000;

/** The receiver's route, as Express would write it (the OpenAPI document and request spans name it so). */
export const WEBHOOK_ROUTE = `${BASE_PATH}/events/:elementKey/:instanceId`;
/** Matched as Express matched it: any case, an optional trailing slash (the query and fragment are cut off first: pathOf). */
const ROUTE_PATTERN = new RegExp(`^${BASE_PATH.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/events/([^/]+)/([^/]+)/?$`, 'i');

/** The receiver, answering its posts itself; anything else is left to the caller (Express). */
export interface WebhookReceiver {
  /** Takes the request (and answers it) when it is a post to the receiver's route; false, untouched, otherwise. */
  handle(req: IncomingMessage, res: ServerResponse): boolean;
  /** Resolves once every call to Temporal it made has settled (WebhookBatcher.settled). */
  settled(): Promise<void>;
}

/**
 * `POST /events/{elementKey}/{instanceId}`: the receiver registered with providers, open to anyone.
 * A webhook is answered 2xx only after it is durable in Temporal (the instance took the update carrying
 * it, or the signal sent instead was recorded); a bad signature
 * gets 401 and produces nothing. What an unauthenticated sender can cause is bounded: the instance's
 * state is read at most once a second however many posts come, a verification post becomes a signal
 * only for a callback that awaits one (and at most a few a minute), and a signature
 * costs one HMAC per distinct verifier.
 *
 * Answered on Node's own request and response, not through Express: providers post at up to thousands
 * a second, and Express's own handling of a request (before any route) cost about 0.1 ms of CPU each,
 * a quarter of the receiver's. Every answer carries what the API's others do: the security headers,
 * `cache-control: no-store`, an `x-request-id`, the JSON error shape, an access log line, a span when
 * tracing is on; the body is read by the same parser (body-parser's text) with the same limit.
 */
export function webhookReceiver({
  client,
  config,
  log,
  sealer,
  tracer,
}: {
  client: Client;
  config: Config;
  log: Logger;
  sealer: Sealer;
  tracer?: Tracer;
}): WebhookReceiver {
  const batcher = new WebhookBatcher(client, {
    maxBatch: config.WEBHOOK_SIGNAL_MAX_BATCH,
    lingerMs: config.WEBHOOK_SIGNAL_MAX_BATCH > 1 ? 2 : 0,
    deadlineMs: TEMPORAL_DEADLINE_MS,
  });
  const states = new ReceiverStates(client, sealer, TEMPORAL_DEADLINE_MS);
  const verifications = new MinuteCounts();
  const readBody = express.text({ type: () => true, limit: WEBHOOK_BODY_LIMIT_BYTES });

  async function verification(
    instanceId: string,
    parsed: ParsedWebhook & { kind: 'verification' },
    arrival: number,
    seen: ReceiverSnapshot,
  ) {
    const { callbackId } = parsed;
    // Verified stays verified: the cached view settles the common repeat (and a flood) at once.
    if (seen.verified.has(callbackId)) return 'already verified';
    // Anything else is decided on a view read after this post arrived: a callback registered a
    // moment ago may be missing from the cached one, and one verified since may still await there.
    const snapshot = await states.newerThan(instanceId, arrival);
    if (snapshot.verified.has(callbackId)) return 'already verified';
    const expected = snapshot.awaiting.has(callbackId) || snapshot.registering;
    if (!expected) throw notFound(`No callback ${callbackId} of instance ${instanceId} awaits verification`);
    const callbackKey = `${instanceId}/${callbackId}`;
    if (
      verifications.count(instanceId) >= VERIFICATIONS_PER_INSTANCE_PER_MINUTE ||
      verifications.count(callbackKey) >= VERIFICATIONS_PER_CALLBACK_PER_MINUTE
    ) {
      throw tooMany(
        `Too many verification posts for instance ${instanceId}: at most ${VERIFICATIONS_PER_CALLBACK_PER_MINUTE} a minute per callback and ${VERIFICATIONS_PER_INSTANCE_PER_MINUTE} per instance`,
        Math.max(verifications.secondsLeft(instanceId), verifications.secondsLeft(callbackKey)),
      );
    }
    verifications.add(instanceId);
    verifications.add(callbackKey);
    await client.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () =>
      client.workflow.getHandle(instanceWorkflowId(instanceId)).signal(callbackVerificationSignal, {
        callbackId,
        verifier: sealer.seal(parsed.verifier, { instanceId: Number(instanceId), field: 'verifier' }),
      }),
    );
    return 'candidate recorded';
  }

  /** The post's answer once its body is read: `received`, or an error (HttpError for a refusal). */
  async function receive(
    req: IncomingMessage & { body?: unknown },
    elementKey: string,
    instanceId: string,
    outcome: WebhookOutcome,
  ): Promise<'routine' | 'logged'> {
    const arrival = now();
    const answerBy = Date.now() + TEMPORAL_DEADLINE_MS;
    const element = findElement(elementKey);
    const webhooks = element?.webhooks;
    if (!element || !webhooks) throw notFound(`No webhook receiver for element "${elementKey}"`);
    if (!/^\d{1,15}$/.test(instanceId)) throw notFound(`Instance ${instanceId} not found`);
    const raw = typeof req.body === 'string' ? req.body : '';
    const header = (name: string) => {
      const value = req.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    };
    const parsed = webhooks.parse(raw, header('content-type'));
    if (typeof parsed === 'string') throw badRequest(`Not a ${element.key} webhook: ${parsed}`);
    outcome.kind = parsed.kind;

    // Settled from the request alone, before Temporal is asked anything.
    let signedBy: ((verifier: string) => boolean) | undefined;
    if (parsed.kind === 'notification') {
      const signature = header(webhooks.signatureHeader);
      if (!signature) throw unauthorized(`Missing ${webhooks.signatureHeader} header`);
      signedBy = webhooks.signatureChecker(parsed, raw, signature);
      if (!signedBy) throw unauthorized(`Malformed ${webhooks.signatureHeader} header: not a base64 HMAC-SHA256`);
    }

    try {
      let snapshot = await states.current(instanceId);
      if (!snapshot.running || snapshot.elementKey !== element.key) snapshot = await states.recent(instanceId);
      if (!snapshot.running || snapshot.elementKey !== element.key) throw notFound(`Instance ${instanceId} not found`);

      if (parsed.kind === 'verification') {
        const result = await verification(instanceId, parsed, arrival, snapshot);
        log.info({ instanceId: Number(instanceId), callbackId: parsed.callbackId, outcome: result }, 'callback verification received');
        return 'logged';
      }

      // The callback for this event signs it; any of the instance's verifiers is accepted as a fallback.
      const tried = new Set<string>();
      const signed = (s: ReceiverSnapshot) =>
        [...(s.verifiers[parsed.event] ?? []), ...Object.values(s.verifiers).flat()].some((v) => {
          if (tried.has(v)) return false;
          tried.add(v);
          return signedBy!(v);
        });
      // A callback being verified may have been confirmed since the view was read: then only a view
      // newer than this request will do. Otherwise one at most a second old settles it at once.
      const verifying = snapshot.awaiting.size > 0 || snapshot.registering;
      if (!signed(snapshot) && !signed(await (verifying ? states.newerThan(instanceId, arrival) : states.recent(instanceId)))) {
        log.warn({ instanceId: Number(instanceId), event: parsed.event }, 'webhook refused: bad signature');
        throw unauthorized('Invalid webhook signature');
      }
      // The same webhook sent again (the provider retrying, or anyone replaying a signed post) has
      // the same key: the instance acknowledges it and makes nothing of it.
      const key = webhookKey(instanceId, webhooks.deliveryKey(parsed));
      await batcher.add(instanceWorkflowId(instanceId), key, Object.fromEntries(parsed.fields), answerBy);
      // Counted in element_events_webhooks_received_total; its access log line goes at debug.
      return 'routine';
    } catch (err) {
      if (err instanceof HttpError) throw err;
      if (err instanceof ReceiverBusy) {
        outcome.refusal = 'busy';
        throw new HttpError(503, err.message, [], { 'retry-after': '1' });
      }
      if (err instanceof WorkflowNotFoundError) throw notFound(`Instance ${instanceId} not found`);
      // Not accepted within the deadline (every Temporal call above is bounded by it): the
      // provider retries, and nothing was half-recorded.
      log.error({ err, instanceId: Number(instanceId) }, 'webhook not accepted');
      throw new HttpError(503, `The webhook could not be recorded within ${TEMPORAL_DEADLINE_MS / 1000} s; try again`, [], {
        'retry-after': '1',
      });
    }
  }

  function answer(req: IncomingMessage, res: ServerResponse, pathname: string, params: string[]): void {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    const outcome: WebhookOutcome = {};
    let routine = false;
    res.setHeader('x-request-id', requestId);
    res.once('finish', () => logRequest(log, started, { requestId, method: req.method, path: pathname, status: res.statusCode }, routine));
    const fail = (err: unknown) => {
      const { status, message, errors, headers } = errorAnswer(err as Error);
      if (status >= 500) log.error({ err, requestId, method: req.method, path: pathname }, 'request failed');
      answerJson(res, status, { message, requestId, errors }, headers);
    };
    // Express caught what a handler threw and answered 500; without it, a throw here would reach the
    // server's listener (and end the process), so every step is caught, and a failure to answer at all
    // closes the connection.
    const guarded =
      <A extends unknown[]>(step: (...args: A) => void) =>
      (...args: A) => {
        try {
          step(...args);
        } catch (err) {
          if (!res.headersSent) {
            try {
              return fail(err); // a 500, logged
            } catch {
              // answering failed as well: closed below
            }
          }
          log.error({ err, requestId, method: req.method, path: pathname }, 'request failed');
          res.destroy();
        }
      };
    guarded(() => {
      const decoded = params.map(decodeParam);
      countWebhookAnswer(res, decoded[0], outcome);
      const [elementKey, instanceId] = decoded;
      if (elementKey === undefined || instanceId === undefined) return fail(badRequest('Malformed percent-encoding in the path'));
      // A body declared larger than the limit is refused before a byte of it is read, and the connection
      // is closed rather than drained. (A chunked body is cut off by the parser's own limit.)
      if (Number(req.headers['content-length'] ?? 0) > WEBHOOK_BODY_LIMIT_BYTES) {
        return fail(
          new HttpError(413, `Webhook body is larger than the ${WEBHOOK_BODY_LIMIT_BYTES}-byte (16 KB) limit for webhooks`, [], {
            connection: 'close',
          }),
        );
      }
      readBody(
        req as express.Request,
        res as express.Response,
        guarded((err?: unknown) => {
          if (err) return fail(err);
          receive(req, elementKey, instanceId, outcome).then(
            guarded((how: 'routine' | 'logged') => {
              routine = how === 'routine';
              answerJson(res, 200, { received: true });
            }),
            guarded(fail),
          );
        }),
      );
    })();
  }

  return {
    handle(req, res) {
      const pathname = pathOf(req.url ?? '');
      if (req.method !== 'POST' && req.method !== 'OPTIONS') return false;
      const match = ROUTE_PATTERN.exec(pathname);
      if (!match) return false;
      if (req.method === 'OPTIONS') {
        // As Express's router answered it: the methods the route takes.
        answerText(res, 200, 'POST', { allow: 'POST' });
        return true;
      }
      const params = [match[1]!, match[2]!];
      if (tracer)
        withRequestSpan(
          tracer,
          req,
          res,
          () => WEBHOOK_ROUTE,
          () => answer(req, res, pathname, params),
        );
      else answer(req, res, pathname, params);
      return true;
    },
    settled: () => batcher.settled(),
  };
}

/**
 * The path of a request target as Express read it (parseurl): an absolute-form target's path
 * (`POST http://host/path`, which servers must accept), without its query or fragment.
 */
function pathOf(target: string): string {
  const authority = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target);
  const path = authority ? target.slice(authority[0].length) || '/' : target;
  const end = path.search(/[?#]/);
  return end === -1 ? path : path.slice(0, end);
}

/** A path parameter decoded as Express decodes it; undefined when its percent-encoding is malformed. */
function decodeParam(param: string): string | undefined {
  try {
    return decodeURIComponent(param);
  } catch {
    return undefined;
  }
}

/** 128 bits of SHA-256 over the instance and the element's delivery key: no webhook content in history. */
export const webhookKey = (instanceId: string, deliveryKey: string) =>
  createHash('sha256').update(`${instanceId}\n${deliveryKey}`).digest('base64url').slice(0, 22);
