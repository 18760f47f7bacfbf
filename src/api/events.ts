import { Router } from 'express';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { z } from 'zod';
import type { Config } from '../config';
import { HttpError, notFound } from '../errors';
import { parseOrThrow } from '../instances/request';
import { memoValue, payloadValue } from '../temporal/payloads';
import type { Logger } from '../logger';
import type { Sealer } from '../secrets/sealer';
import { retryAbortedUpdate } from '../temporal/updates';
import { redeliverUpdate } from '../workflows/messages';
import type { DeliveryRecord } from '../workflows/types';
import type { Caller } from './auth';
import { eventIdOf, instanceIdOf } from '../workflows/ids';
import { BadPageToken, findRecord, listRecords } from './delivery-records';
import { findOwnedInstance } from './ownership';
import { NEXT_PAGE_HEADER } from './paging';
import { idempotencyKeyOf, redeliveryUpdateId } from './idempotency';

export const listQuery = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed', 'gone', 'cancelled']).optional(),
  pageSize: z.coerce.number().int().min(1).max(200).default(50),
  nextPage: z.string().max(4096).optional(),
});

const eventIdPattern = /^[0-9a-f-]{36}$/;

/** A keyed bulk redelivery retried within this long answers the same list (notifications closed earlier are not asked again). */
const BULK_REPLAY_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * A notification's record: `GET /instances/{id}/events` (newest first, paged, by status),
 * `GET …/events/{eventId}` with its attempts, and redelivery of failed ones, singly or in bulk.
 */
export function eventsRouter({ client, config, log, sealer }: { client: Client; config: Config; log: Logger; sealer: Sealer }): Router {
  const router = Router();
  const caller = (req: { caller?: Caller }) => req.caller!;
  const scope = { client, namespace: config.TEMPORAL_NAMESPACE, sealer };

  /** Notifications in workflows of their own: the only ones that can be failed, hence redelivered. */
  async function list(instanceId: number, status: string | undefined, pageSize: number, nextPage?: string, where?: string) {
    let query = `WorkflowType = 'deliveryWorkflow' AND ElementInstanceId = ${instanceId}`;
    if (status) query += ` AND DeliveryStatus = '${status}'`;
    if (where) query += ` AND (${where})`;
    const page = await client.workflowService.listWorkflowExecutions({
      namespace: config.TEMPORAL_NAMESPACE,
      query,
      pageSize,
      nextPageToken: nextPage ? Buffer.from(nextPage, 'base64url') : undefined,
    });
    const events = (
      await Promise.all(
        (page.executions ?? []).map(async (e) => ({
          eventId: eventIdOf(e.execution?.workflowId ?? ''),
          status: payloadValue(e.searchAttributes?.indexedFields?.DeliveryStatus) as string,
          // The memo is encrypted, the search attribute is not.
          events: (await memoValue(client, e.memo?.fields?.events)) as number | undefined,
          createdDate: e.startTime?.seconds
            ? new Date(Number(e.startTime.seconds) * 1000 + Math.floor((e.startTime.nanos ?? 0) / 1e6)).toISOString()
            : undefined,
        })),
      )
    ).sort((a, b) => (b.createdDate ?? '').localeCompare(a.createdDate ?? ''));
    const token = page.nextPageToken?.length ? Buffer.from(page.nextPageToken).toString('base64url') : undefined;
    return { events, nextPage: token };
  }

  /** One of this instance's notifications and the workflow holding it, or 404. */
  async function delivery(instanceId: number, eventId: string) {
    if (!eventIdPattern.test(eventId)) throw notFound(`Event ${eventId} not found`);
    const found = await findRecord(scope, eventId);
    if (!found || found.record.instanceId !== instanceId) throw notFound(`Event ${eventId} not found`);
    return found;
  }

  async function redeliver(instanceId: number, eventId: string, updateId?: string): Promise<DeliveryRecord> {
    const { handle, record, batched } = await delivery(instanceId, eventId);
    const notFailed = () => new HttpError(409, `Event ${eventId} is ${record.status}; only failed notifications are redelivered`);
    // A batch holds only notifications it delivered (or is delivering): none of them is failed.
    if (batched) throw notFailed();
    // With an update id the workflow judges: a repeat of an id it has seen gets the first outcome, whatever the status now.
    if (!updateId && record.status !== 'failed') throw notFailed();
    try {
      return await retryAbortedUpdate(() => handle.executeUpdate(redeliverUpdate, { updateId }));
    } catch (err) {
      if (err instanceof WorkflowUpdateFailedError) {
        throw new HttpError(409, err.cause?.message ?? `Event ${eventId} cannot be redelivered`);
      }
      // Closed: delivered (or gone) since, or a failed notification that waited out its retention.
      if (err instanceof WorkflowNotFoundError) {
        throw record.status !== 'failed' ? notFailed() : new HttpError(409, `Event ${eventId} is no longer kept for redelivery`);
      }
      throw err;
    }
  }

  router.get('/instances/:id/events', async (req, res) => {
    const handle = await findOwnedInstance(client, caller(req), req.params.id!);
    const q = parseOrThrow(listQuery, req.query, 'query');
    const instanceId = instanceIdOf(handle.workflowId);
    const page = await listRecords(scope, instanceId, q).catch((err) => {
      if (err instanceof BadPageToken) throw new HttpError(400, err.message);
      throw err;
    });
    // The token twice: in the body as before, and in the header Cloud Elements' clients read.
    if (page.nextPage) res.setHeader(NEXT_PAGE_HEADER, page.nextPage);
    res.json(page);
  });

  router.post('/instances/:id/events/redeliver', async (req, res) => {
    const key = idempotencyKeyOf(req);
    const handle = await findOwnedInstance(client, caller(req), req.params.id!);
    const instanceId = instanceIdOf(handle.workflowId);
    if (key) {
      const redelivered = await keyedBulkRedeliver(instanceId, key);
      log.info({ instanceId, count: redelivered.length }, 'failed notifications redelivered (keyed)');
      res.json({ redelivered: redelivered.length, eventIds: redelivered });
      return;
    }
    const redelivered: string[] = [];
    let nextPage: string | undefined;
    do {
      const page = await list(instanceId, 'failed', 200, nextPage);
      for (const e of page.events) {
        await redeliver(instanceId, e.eventId).then(
          () => redelivered.push(e.eventId),
          (err) => log.warn({ err, eventId: e.eventId }, 'bulk redelivery skipped a notification'),
        );
      }
      nextPage = page.nextPage;
    } while (nextPage);
    log.info({ instanceId, count: redelivered.length }, 'failed notifications redelivered');
    res.json({ redelivered: redelivered.length, eventIds: redelivered });
  });

  /**
   * A keyed bulk redelivery: each notification's update id is derived from the key, so a retried call
   * sends none twice and answers the same list. Besides the failed notifications it asks the ones
   * redelivered since (running, or closed within the window): Temporal answers those whose update id
   * it has seen with that first outcome, and refuses the rest, which are left out.
   */
  async function keyedBulkRedeliver(instanceId: number, key: string): Promise<string[]> {
    const since = new Date(Date.now() - BULK_REPLAY_WINDOW_MS).toISOString();
    const found: { eventId: string; createdDate?: string }[] = [];
    let nextPage: string | undefined;
    do {
      const page = await list(instanceId, undefined, 200, nextPage, `ExecutionStatus = 'Running' OR CloseTime > '${since}'`);
      for (const e of page.events) {
        const updateId = redeliveryUpdateId('bulk', instanceId, key, e.eventId);
        await redeliver(instanceId, e.eventId, updateId).then(
          () => found.push(e),
          (err) => {
            // Not failed and not redelivered with this key: not part of this call.
            if (!(err instanceof HttpError && err.status === 409))
              log.warn({ err, eventId: e.eventId }, 'bulk redelivery skipped a notification');
          },
        );
      }
      nextPage = page.nextPage;
    } while (nextPage);
    // One order for the first call and its retries, whatever order visibility pages them in.
    found.sort((a, b) => (b.createdDate ?? '').localeCompare(a.createdDate ?? '') || a.eventId.localeCompare(b.eventId));
    return found.map((e) => e.eventId);
  }

  router.get('/instances/:id/events/:eventId', async (req, res) => {
    const handle = await findOwnedInstance(client, caller(req), req.params.id!);
    const instanceId = instanceIdOf(handle.workflowId);
    const { record } = await delivery(instanceId, req.params.eventId!);
    res.json(record);
  });

  router.post('/instances/:id/events/:eventId/redeliver', async (req, res) => {
    const key = idempotencyKeyOf(req);
    const handle = await findOwnedInstance(client, caller(req), req.params.id!);
    const instanceId = instanceIdOf(handle.workflowId);
    const eventId = req.params.eventId!;
    const record = await redeliver(instanceId, eventId, key ? redeliveryUpdateId('single', instanceId, key, eventId) : undefined);
    log.info({ instanceId, eventId: record.eventId }, 'notification redelivered');
    res.json(record);
  });

  return router;
}
