import { createHmac } from 'node:crypto';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { request, type Dispatcher } from 'undici';
import { retryAfterMs } from '../elements/http';
import { attemptErrorCategory, callbackDispatcher, callbackUrlProblem, type CallbackPolicy } from '../events/callback-url';
import { elementsSignature } from '../events/notification';
import { countAttempt, countGate, failedAttemptOf, msOf } from '../metrics/delivery';
import type { Sealer } from '../secrets/sealer';
import { EndpointGate, type GateDecision } from './endpoint-gate';
import { instanceWorkflowId } from '../workflows/ids';
import { deliveryTargetQuery } from '../workflows/messages';
import type {
  AttemptFailureDetails,
  BatchedNotification,
  CallbackTarget,
  DeliveryBatchInput,
  DeliveryInput,
  DeliveryTargetState,
  FirstAttemptOutcome,
} from '../workflows/types';

/** Cloud Elements gives a callback 30 s to answer. */
export const CALLBACK_TIMEOUT_MS = 30_000;

/**
 * Standard Webhooks headers: `v1,` + base64 HMAC-SHA256 over `id.timestamp.body`, keyed with each
 * whsec_ secret, space separated (the spec's list form: a receiver accepts any one it can verify).
 */
export function standardWebhookHeaders(eventId: string, body: string, secrets: string | string[], nowMs: number): Record<string, string> {
  const timestamp = Math.floor(nowMs / 1000).toString();
  const signatures = [secrets].flat().map((secret) => {
    const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
    return `v1,${createHmac('sha256', key).update(`${eventId}.${timestamp}.${body}`, 'utf8').digest('base64')}`;
  });
  return { 'webhook-id': eventId, 'webhook-timestamp': timestamp, 'webhook-signature': signatures.join(' ') };
}

/** How long one in-order call keeps sending before it hands back to its workflow (a last callback may take its 30 s more). */
const IN_ORDER_BUDGET_MS = 30_000;
/**
 * How long an attempt may wait at the endpoint gate for a rate slot: what its activity's timeout spares
 * beside the callback's 30 s (a retry: 40 s; a batch's first attempts: 45 s; in order: 75 s). A later
 * slot holds the attempt, which asks again then.
 */
const GATE_WAIT_RETRY_MS = 5_000;
const GATE_WAIT_BATCH_MS = 10_000;

/** Failures that say something about the callback itself (not a refused address, nor a deleted instance). */
const ENDPOINT_FAILURES = new Set(['CallbackRefused', 'CallbackUnreachable']);

/** A first attempt the endpoint gate held: nothing was sent, and nothing goes on record. */
function heldOutcome(eventId: string, heldUntilMs: number, url: string): FirstAttemptOutcome {
  return {
    eventId,
    delivered: false,
    heldUntilMs,
    attempt: { attempt: 0, at: new Date().toISOString(), durationMs: 0, url, error: 'not attempted: the endpoint gate held it' },
  };
}

/** A first attempt that was not accepted, as its batch records it. */
function failedOutcome(eventId: string, err: unknown, startedMs: number, url: string): FirstAttemptOutcome {
  const failure = err instanceof ApplicationFailure ? err : undefined;
  const details = (failure?.details?.[0] as AttemptFailureDetails | undefined) ?? {};
  return {
    eventId,
    delivered: false,
    retryAfterMs: details.retryAfterMs,
    cancelled: details.instanceDeleted,
    attempt: {
      attempt: 1,
      at: new Date(startedMs).toISOString(),
      durationMs: Date.now() - startedMs,
      url: details.url ?? url,
      status: details.status,
      error: failure?.message ?? 'the attempt failed',
    },
  };
}

function attemptFailed(message: string, details: AttemptFailureDetails, type: string): ApplicationFailure {
  // The workflow runs the schedule, so no attempt is retried by Temporal itself.
  return ApplicationFailure.create({ message, type, details: [details], nonRetryable: true });
}

interface Deps {
  /** Reads the instance's target for retries; a first attempt needs none. */
  client?: Client;
  sealer: Sealer;
  callbackPolicy: CallbackPolicy;
  /**
   * How long a callback has to answer (CALLBACK_TIMEOUT_SECONDS; Cloud Elements' 30 s unless a test
   * shortens it). It stays under the attempt's 40 s startToCloseTimeout, so a silent callback is
   * recorded as this attempt's failure rather than as an activity timeout.
   */
  callbackTimeoutMs?: number;
  /** Tracing on: a span per callback POST, whose `traceparent` the request carries. */
  tracer?: Tracer;
  /** The gate to use (its owner awaits `settled()` before closing the client's connection); else one of its own. */
  endpointGate?: EndpointGate;
}

export function createDeliveryActivities({
  client,
  sealer,
  callbackPolicy,
  callbackTimeoutMs = CALLBACK_TIMEOUT_MS,
  tracer,
  endpointGate,
}: Deps) {
  // Resolves callback hosts at connect time and refuses forbidden addresses there, so a name cannot
  // pass a check and then answer with an inner address for the request (DNS rebinding).
  const dispatcher = callbackDispatcher(callbackPolicy);
  // Endpoint health and maxRate: per instance, in this worker process. No client (unit tests): no gate.
  const gate = endpointGate ?? (client ? new EndpointGate(client) : undefined);
  const admit = async (
    elementKey: string,
    instanceId: number,
    budgetMs: number,
    opts: { relaxed?: boolean } = {},
  ): Promise<GateDecision> => {
    const decision: GateDecision = gate ? await gate.admit(instanceId, budgetMs, opts) : { go: true };
    countGate(elementKey, decision);
    return decision;
  };

  /** `post`, its outcome reported to the instance's endpoint health. */
  async function postAndRecord(
    input: Pick<DeliveryInput, 'eventId' | 'instanceId' | 'body'>,
    target: CallbackTarget,
  ): Promise<{ status: number; url: string }> {
    try {
      const result = await post(input, target);
      gate?.record(input.instanceId, input.eventId, true);
      return result;
    } catch (err) {
      if (err instanceof ApplicationFailure && ENDPOINT_FAILURES.has(err.type ?? '')) gate?.record(input.instanceId, input.eventId, false);
      throw err;
    }
  }

  /**
   * Where this attempt goes: the target handed over with the notification for a first attempt; for
   * a retry or a redelivery, the instance's target now (a PATCHed URL or key applies at once), and
   * none at all once the instance is deleted.
   */
  async function targetOf(input: DeliveryInput, followInstance: boolean): Promise<CallbackTarget> {
    const handed = {
      url: input.callbackUrl,
      signatureKey: input.signatureKey,
      webhookSecret: input.webhookSecret,
      previousKeys: input.previousKeys,
    };
    return followInstance ? currentTarget(input.instanceId) : handed;
  }

  /** The instance's callback target now; throws the attempt's failure when it is deleted or has none. */
  async function currentTarget(instanceId: number): Promise<CallbackTarget> {
    if (!client) throw new Error('following the instance needs a client');
    const deleted = () => attemptFailed('not attempted: the instance was deleted', { instanceDeleted: true }, 'InstanceDeleted');
    let state: DeliveryTargetState;
    try {
      const handle = client.workflow.getHandle(instanceWorkflowId(instanceId));
      // Deleted, or terminated (then deleted through its cleanup): either way it takes no more events.
      if ((await handle.describe()).status.name !== 'RUNNING') throw deleted();
      state = await handle.query(deliveryTargetQuery);
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      if (err instanceof WorkflowNotFoundError) throw deleted();
      throw attemptFailed("not attempted: the instance's callback could not be read", {}, 'InstanceUnreadable');
    }
    if (state.deleted) throw deleted();
    // The callback URL was removed (events off): nowhere the owner still wants events sent.
    if (!state.target)
      throw attemptFailed('not attempted: the instance has no callback URL any more', { instanceDeleted: true }, 'NoCallback');
    return state.target;
  }

  /**
   * One attempt at POSTing a notification. `scheduleAttempt` (its place in the schedule, from 1) says
   * whether a failure here fails the notification; workflows from before it was passed leave it out.
   */
  async function deliverNotification(
    input: DeliveryInput,
    opts: { followInstance?: boolean; scheduleAttempt?: number } = {},
  ): Promise<{ status: number; url: string }> {
    const counted = {
      elementKey: input.elementKey,
      handedAtMs: msOf(input.carried?.createdDate),
      last: opts.scheduleAttempt !== undefined && opts.scheduleAttempt >= input.maxAttempts,
    };
    try {
      const result = await attemptOne(input, opts);
      countAttempt({ ...counted, delivered: true, status: result.status });
      return result;
    } catch (err) {
      const failed = failedAttemptOf(err);
      if (failed) countAttempt({ ...counted, delivered: false, status: failed.status });
      throw err;
    }
  }

  async function attemptOne(input: DeliveryInput, opts: { followInstance?: boolean }): Promise<{ status: number; url: string }> {
    const target = await targetOf(input, opts.followInstance ?? false);
    const decision = await admit(input.elementKey, input.instanceId, GATE_WAIT_RETRY_MS);
    if (!decision.go) {
      // Not an attempt: the schedule waits until then and asks again, without counting it.
      throw attemptFailed('not attempted: the endpoint gate held it', { heldUntilMs: decision.heldUntilMs }, 'EndpointHeld');
    }
    return postAndRecord(input, target);
  }

  /**
   * The first attempts of a batch, all at once. Never throws for an attempt: each outcome, accepted
   * or not, goes back to the batch, which moves the ones not accepted on to their own schedules.
   * In order, `headAttempt` is the first notification's place in its schedule (a retried head's).
   */
  async function deliverFirstAttempts(
    batch: DeliveryBatchInput,
    opts: { ordered?: boolean; followInstance?: boolean; headAttempt?: number } = {},
  ): Promise<FirstAttemptOutcome[]> {
    const outcomes = await firstAttempts(batch, opts);
    outcomes.forEach((outcome, i) => {
      // Held by the endpoint gate, or not made for a deleted instance: no attempt on record.
      if (outcome.heldUntilMs !== undefined || outcome.cancelled) return;
      const place = i === 0 && opts.ordered ? (opts.headAttempt ?? 1) : 1;
      countAttempt({
        elementKey: batch.elementKey,
        delivered: outcome.delivered,
        status: outcome.attempt.status,
        handedAtMs: batch.handedAtMs,
        last: place >= batch.maxAttempts,
      });
    });
    return outcomes;
  }

  async function firstAttempts(
    batch: DeliveryBatchInput,
    opts: { ordered?: boolean; followInstance?: boolean },
  ): Promise<FirstAttemptOutcome[]> {
    const attempt = async (n: BatchedNotification, target: CallbackTarget): Promise<FirstAttemptOutcome> => {
      // A batch's first attempts: the hot path, where a healthy instance's state may be up to 30 s old.
      const decision = await admit(batch.elementKey, batch.instanceId, GATE_WAIT_BATCH_MS, { relaxed: !opts.followInstance });
      if (!decision.go) return heldOutcome(n.eventId, decision.heldUntilMs, target.url);
      const startedMs = Date.now();
      const at = new Date(startedMs).toISOString();
      try {
        const { status, url } = await postAndRecord({ ...n, instanceId: batch.instanceId }, target);
        return { eventId: n.eventId, delivered: true, attempt: { attempt: 1, at, durationMs: Date.now() - startedMs, url, status } };
      } catch (err) {
        return failedOutcome(n.eventId, err, startedMs, target.url);
      }
    };
    if (!opts.ordered) return Promise.all(batch.notifications.map((n) => attempt(n, batch.target)));

    // In order: one at a time, stopping at the first not accepted (the head the workflow retries),
    // or once the time budget is spent (the workflow calls again from where this stopped).
    const startedMs = Date.now();
    let target = batch.target;
    if (opts.followInstance) {
      try {
        target = await currentTarget(batch.instanceId);
      } catch (err) {
        return [failedOutcome(batch.notifications[0]!.eventId, err, startedMs, batch.target.url)];
      }
    }
    const outcomes: FirstAttemptOutcome[] = [];
    for (const n of batch.notifications) {
      if (Date.now() - startedMs > IN_ORDER_BUDGET_MS) break;
      const outcome = await attempt(n, target);
      outcomes.push(outcome);
      // Not accepted, or held by the endpoint gate: the workflow retries (or waits for) the head.
      if (!outcome.delivered) break;
    }
    return outcomes;
  }

  /** `send`, in a CLIENT span when tracing is on: the callback receives its `traceparent`. */
  async function post(
    input: Pick<DeliveryInput, 'eventId' | 'instanceId' | 'body'>,
    target: CallbackTarget,
  ): Promise<{ status: number; url: string }> {
    if (!tracer) return send(input, target, {});
    // No URL on the span: a callback URL may carry the receiver's own token in its query.
    const span = tracer.startSpan('POST callback', {
      kind: SpanKind.CLIENT,
      attributes: {
        'http.request.method': 'POST',
        'element_events.event_id': input.eventId,
        'element_events.instance_id': input.instanceId,
      },
    });
    const traced: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), traced);
    try {
      const result = await send(input, target, traced);
      span.setAttribute('http.response.status_code', result.status);
      return result;
    } catch (err) {
      const details = err instanceof ApplicationFailure ? (err.details?.[0] as AttemptFailureDetails | undefined) : undefined;
      if (details?.status) span.setAttribute('http.response.status_code', details.status);
      // The failure's type (CallbackRefused, CallbackUnreachable...), not its text.
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as ApplicationFailure).type ?? (err as Error).name });
      throw err;
    } finally {
      span.end();
    }
  }

  /** POSTs one notification to `target`; throws the attempt's failure, with what the schedule needs to know. */
  async function send(
    input: Pick<DeliveryInput, 'eventId' | 'instanceId' | 'body'>,
    target: CallbackTarget,
    /** `traceparent` (and `tracestate`) of the POST's span, when traced. */
    traceHeaders: Record<string, string>,
  ): Promise<{ status: number; url: string }> {
    const url = target.url;
    // IP-literal hosts are never looked up, so the dispatcher cannot check them: this does.
    const problem = callbackUrlProblem(url, callbackPolicy.publicOnly);
    if (problem) throw attemptFailed(`callback refused: ${problem}`, { url }, 'CallbackRefusedAddress');

    const headers: Record<string, string> = {
      ...traceHeaders,
      'content-type': 'application/json',
      'user-agent': 'element-events',
      'elements-webhook-id': input.eventId,
    };
    const open = (value: string, field: string) => sealer.open(value, { instanceId: input.instanceId, field });
    // Within a key change's grace period both keys sign, the new one first.
    const previous = target.previousKeys && target.previousKeys.untilMs > Date.now() ? target.previousKeys : undefined;
    // Our own header keeps its single-signature form (receivers compare it whole); the replaced key's
    // signature goes in a header of its own.
    const signWith = (k: string) => elementsSignature(input.body, open(k, 'event.notification.signature.key'));
    if (target.signatureKey) headers['elements-webhook-signature'] = signWith(target.signatureKey);
    if (previous?.signatureKey) headers['elements-webhook-signature-previous'] = signWith(previous.signatureKey);
    const secrets = [target.webhookSecret, previous?.webhookSecret].filter((k): k is string => !!k);
    if (secrets.length) {
      const opened = secrets.map((s) => open(s, 'event.notification.webhook.secret'));
      Object.assign(headers, standardWebhookHeaders(input.eventId, input.body, opened, Date.now()));
    }

    // undici's request rather than fetch: a third of the CPU per POST (0.09 against 0.29-0.33 ms on this
    // machine), at one POST per notification. It follows no redirect: a redirect is a failure, since
    // following it could send signed events somewhere the app never named.
    let response: Dispatcher.ResponseData;
    try {
      response = await request(url, {
        method: 'POST',
        headers,
        body: input.body,
        dispatcher,
        signal: AbortSignal.any([AbortSignal.timeout(callbackTimeoutMs), Context.current().cancellationSignal]),
      });
    } catch (err) {
      // Only a coarse category goes on record: the error's text can name inner addresses and ports.
      const category = attemptErrorCategory(err);
      if (category === 'address not allowed')
        throw attemptFailed('callback refused: address not allowed', { url }, 'CallbackRefusedAddress');
      const timedOut = (err as Error).name === 'TimeoutError';
      throw attemptFailed(
        `callback unreachable: ${timedOut ? `no answer within ${callbackTimeoutMs / 1000} s` : category}`,
        { url },
        'CallbackUnreachable',
      );
    }
    // Nothing of the answer is kept but its status (and Retry-After), and the attempt does not wait for
    // its body: a callback that answers and then stalls or trickles would hold it to the timeout. The body
    // drains on its own (a short one keeps the connection for the next POST; past 128 KB it is cut off),
    // bounded by the same timeout.
    void response.body.dump().catch(() => undefined);
    const status = response.statusCode;
    if (status >= 200 && status < 300) return { status, url };

    const retryAfter = [response.headers['retry-after']].flat()[0] ?? null;
    const hinted = status === 429 || status === 503 ? retryAfterMs(retryAfter, Date.now()) : undefined;
    throw attemptFailed(
      `callback answered ${status}`,
      { status, url, retryAfterMs: hinted !== undefined ? Math.max(hinted, 1000) : undefined },
      'CallbackRefused',
    );
  }
  return { deliverNotification, deliverFirstAttempts };
}
