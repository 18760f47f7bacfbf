import { createHash } from 'node:crypto';
import express, { Router } from 'express';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { findElement } from '../elements';
import type { ParsedWebhook } from '../elements/element';
import { badRequest, HttpError, notFound, tooMany, unauthorized } from '../errors';
import type { Logger } from '../logger';
import { countWebhookAnswers } from '../metrics/webhooks';
import type { Sealer } from '../secrets/sealer';
import { instanceWorkflowId } from '../workflows/ids';
import { callbackVerificationSignal } from '../workflows/messages';
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

/**
 * `POST /events/{elementKey}/{instanceId}`: the receiver registered with providers, open to anyone.
 * A webhook is answered 2xx only after it is durable in Temporal (the instance took the update carrying
 * it, or the signal sent instead was recorded); a bad signature
 * gets 401 and produces nothing. What an unauthenticated sender can cause is bounded: the instance's
 * state is read at most once a second however many posts come, a verification post becomes a signal
 * only for a callback that awaits one (and at most a few a minute), and a signature
 * costs one HMAC per distinct verifier.
 */
export function webhooksRouter({
  client,
  config,
  log,
  sealer,
}: {
  client: Client;
  config: Config;
  log: Logger;
  sealer: Sealer;
}): Router & { settled(): Promise<void> } {
  const router = Router();
  const batcher = new WebhookBatcher(client, {
    maxBatch: config.WEBHOOK_SIGNAL_MAX_BATCH,
    lingerMs: config.WEBHOOK_SIGNAL_MAX_BATCH > 1 ? 2 : 0,
    deadlineMs: TEMPORAL_DEADLINE_MS,
  });
  const states = new ReceiverStates(client, sealer, TEMPORAL_DEADLINE_MS);
  const verifications = new MinuteCounts();

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

  router.post(
    '/events/:elementKey/:instanceId',
    countWebhookAnswers,
    refuseDeclaredOversize,
    express.text({ type: () => true, limit: WEBHOOK_BODY_LIMIT_BYTES }),
    async (req, res) => {
      const arrival = now();
      const answerBy = Date.now() + TEMPORAL_DEADLINE_MS;
      const { elementKey, instanceId } = req.params as { elementKey: string; instanceId: string };
      const element = findElement(elementKey);
      const webhooks = element?.webhooks;
      if (!element || !webhooks) throw notFound(`No webhook receiver for element "${elementKey}"`);
      if (!/^\d{1,15}$/.test(instanceId)) throw notFound(`Instance ${instanceId} not found`);
      const raw = typeof req.body === 'string' ? req.body : '';
      const parsed = webhooks.parse(raw, req.header('content-type'));
      if (typeof parsed === 'string') throw badRequest(`Not a ${element.key} webhook: ${parsed}`);
      res.locals.webhookKind = parsed.kind;

      // Settled from the request alone, before Temporal is asked anything.
      let signedBy: ((verifier: string) => boolean) | undefined;
      if (parsed.kind === 'notification') {
        const signature = req.header(webhooks.signatureHeader);
        if (!signature) throw unauthorized(`Missing ${webhooks.signatureHeader} header`);
        signedBy = webhooks.signatureChecker(parsed, raw, signature);
        if (!signedBy) throw unauthorized(`Malformed ${webhooks.signatureHeader} header: not a base64 HMAC-SHA256`);
      }

      try {
        let snapshot = await states.current(instanceId);
        if (!snapshot.running || snapshot.elementKey !== element.key) snapshot = await states.recent(instanceId);
        if (!snapshot.running || snapshot.elementKey !== element.key) throw notFound(`Instance ${instanceId} not found`);

        if (parsed.kind === 'verification') {
          const outcome = await verification(instanceId, parsed, arrival, snapshot);
          log.info({ instanceId: Number(instanceId), callbackId: parsed.callbackId, outcome }, 'callback verification received');
          res.json({ received: true });
          return;
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
        // Counted in element_events_webhooks_received_total; its access log line goes at debug (accessLog).
        res.locals.routine = true;
        res.json({ received: true });
      } catch (err) {
        if (err instanceof HttpError) throw err;
        if (err instanceof ReceiverBusy) {
          res.locals.webhookRefusal = 'busy';
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
    },
  );
  // What the API waits for before it closes its connection to Temporal (WebhookBatcher.settled).
  return Object.assign(router, { settled: () => batcher.settled() });
}

/** 128 bits of SHA-256 over the instance and the element's delivery key: no webhook content in history. */
export const webhookKey = (instanceId: string, deliveryKey: string) =>
  createHash('sha256').update(`${instanceId}\n${deliveryKey}`).digest('base64url').slice(0, 22);

/**
 * A body declared larger than the limit is refused before a byte of it is read, and the connection is
 * closed rather than drained. (A chunked body is cut off by the parser's own limit.)
 */
const refuseDeclaredOversize: express.RequestHandler = (req, res, next) => {
  const declared = Number(req.header('content-length') ?? 0);
  if (declared > WEBHOOK_BODY_LIMIT_BYTES) {
    res.set('connection', 'close');
    throw new HttpError(413, `Webhook body is larger than the ${WEBHOOK_BODY_LIMIT_BYTES}-byte (16 KB) limit for webhooks`);
  }
  next();
};
