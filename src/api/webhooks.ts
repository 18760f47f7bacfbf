import express, { Router } from 'express';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Config } from '../config';
import { findElement } from '../elements';
import { badRequest, HttpError, notFound, unauthorized } from '../errors';
import type { Logger } from '../logger';
import { ElementKey } from '../temporal/search-attributes';
import { callbackVerificationSignal, webhookVerifiersQuery } from '../workflows/messages';
import { instanceWorkflowId } from './ownership';
import { SignalBatcher } from './signal-batcher';
import type { Sealer } from '../secrets/sealer';

export const WEBHOOK_BODY_LIMIT = '256kb';
const TARGET_TTL_MS = 10_000;
const VERIFIERS_TTL_MS = 60_000;
const FORCED_REFRESH_EVERY_MS = 1_000;
/** FreshBooks waits about 10 s for an answer. */
const TEMPORAL_DEADLINE_MS = 5_000;

interface Cached<T> {
  value: T;
  at: number;
}

/**
 * `POST /events/{elementKey}/{instanceId}`: the receiver registered with providers. A webhook is
 * answered 2xx only after the signal carrying it is durable in Temporal; a bad signature gets 401
 * and produces nothing.
 */
export function webhooksRouter({ client, config, log, sealer }: { client: Client; config: Config; log: Logger; sealer: Sealer }): Router {
  const router = Router();
  const batcher = new SignalBatcher(client, {
    maxBatch: config.WEBHOOK_SIGNAL_MAX_BATCH,
    lingerMs: config.WEBHOOK_SIGNAL_MAX_BATCH > 1 ? 2 : 0,
    deadlineMs: TEMPORAL_DEADLINE_MS,
  });
  // Every Temporal call here answers within the deadline, so the provider sees a 503 before its own timeout.
  const soon = <T>(fn: () => Promise<T>) => client.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, fn);
  const targets = new Map<string, Cached<string>>();
  const verifiers = new Map<string, Cached<Record<string, string[]>>>();

  /** The instance's element key, or 404 when there is no running instance of that id. */
  async function instanceElement(id: string): Promise<string> {
    const cached = targets.get(id);
    if (cached && Date.now() - cached.at < TARGET_TTL_MS) return cached.value;
    try {
      const d = await soon(() => client.workflow.getHandle(instanceWorkflowId(id)).describe());
      const key = d.typedSearchAttributes.get(ElementKey);
      if (d.status.name !== 'RUNNING' || !key) throw notFound(`Instance ${id} not found`);
      targets.set(id, { value: key, at: Date.now() });
      return key;
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw notFound(`Instance ${id} not found`);
      throw err;
    }
  }

  async function verifiersFor(id: string, force: boolean): Promise<Record<string, string[]>> {
    const cached = verifiers.get(id);
    const age = cached ? Date.now() - cached.at : Infinity;
    if (cached && (age < (force ? FORCED_REFRESH_EVERY_MS : VERIFIERS_TTL_MS))) return cached.value;
    const sealed = await soon(() => client.workflow.getHandle(instanceWorkflowId(id)).query(webhookVerifiersQuery));
    const value = Object.fromEntries(Object.entries(sealed).map(([event, list]) => [event, list.map((v) => sealer.open(v))]));
    verifiers.set(id, { value, at: Date.now() });
    return value;
  }

  router.post('/events/:elementKey/:instanceId', express.text({ type: () => true, limit: WEBHOOK_BODY_LIMIT }), async (req, res) => {
    const { elementKey, instanceId } = req.params as { elementKey: string; instanceId: string };
    const element = findElement(elementKey);
    if (!element?.webhooks) throw notFound(`No webhook receiver for element "${elementKey}"`);
    if (!/^\d{1,15}$/.test(instanceId)) throw notFound(`Instance ${instanceId} not found`);
    const raw = typeof req.body === 'string' ? req.body : '';
    const parsed = element.webhooks.parse(raw, req.header('content-type'));
    if (typeof parsed === 'string') throw badRequest(`Not a ${element.key} webhook: ${parsed}`);
    const workflowId = instanceWorkflowId(instanceId);

    try {
      if ((await instanceElement(instanceId)) !== element.key) throw notFound(`Instance ${instanceId} not found`);
      if (parsed.kind === 'verification') {
        await soon(() =>
          client.workflow.getHandle(workflowId).signal(callbackVerificationSignal, {
            callbackId: parsed.callbackId,
            verifier: sealer.seal(parsed.verifier),
          }),
        );
        log.info({ instanceId: Number(instanceId), callbackId: parsed.callbackId }, 'callback verification received');
        res.json({ received: true });
        return;
      }

      const signature = req.header(element.webhooks.signatureHeader);
      if (!signature) throw unauthorized(`Missing ${element.webhooks.signatureHeader} header`);
      const matches = (byEvent: Record<string, string[]>) =>
        // The callback for this event signs it; any of the instance's verifiers is accepted as a fallback.
        [...(byEvent[parsed.event] ?? []), ...Object.values(byEvent).flat()].some((v) =>
          element.webhooks!.signatureValid(parsed, raw, signature, v),
        );
      if (!matches(await verifiersFor(instanceId, false)) && !matches(await verifiersFor(instanceId, true))) {
        log.warn({ instanceId: Number(instanceId), event: parsed.event }, 'webhook refused: bad signature');
        throw unauthorized('Invalid webhook signature');
      }
      await batcher.add(workflowId, Object.fromEntries(parsed.fields));
      res.json({ received: true });
    } catch (err) {
      if (err instanceof HttpError) throw err;
      if (err instanceof WorkflowNotFoundError) throw notFound(`Instance ${instanceId} not found`);
      // Not accepted: the provider retries, and nothing was half-recorded.
      log.error({ err, instanceId: Number(instanceId) }, 'webhook not accepted');
      throw new HttpError(503, 'The webhook could not be recorded; try again');
    }
  });
  return router;
}
