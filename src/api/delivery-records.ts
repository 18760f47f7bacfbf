import { WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Sealer } from '../secrets/sealer';
import { memoValue, payloadValue } from '../temporal/payloads';
import { deliveryWorkflowId, eventIdOf } from '../workflows/ids';
import { getBatchedDeliveryQuery, getDeliveryQuery } from '../workflows/messages';
import type { DeliveryRecord } from '../workflows/types';

// A notification's record lives in one of two places: its own `delivery-<eventId>` workflow (one
// that was retried, or that is being retried), or the delivery batch that delivered it at the first
// attempt (`deliveries-…`, found by its DeliveryEventIds search attribute).

export interface RecordsScope {
  client: Client;
  namespace: string;
}

/** One line of the list: a notification, whichever workflow holds it. */
export interface ListedRecord {
  eventId: string;
  status: string;
  events?: number;
  createdDate?: string;
}

/** Workflows read per visibility page; a page token points into one such page. */
const WORKFLOWS_PER_PAGE = 100;
/** Visibility pages one request reads at most: a short page with a token follows rather than unbounded reading. */
const MAX_PAGES_PER_REQUEST = 5;

/** The list's page token: a visibility page, and how many of its notifications came before. */
interface Cursor {
  token?: string;
  skip: number;
}

export class BadPageToken extends Error {}

/**
 * The cursor travels sealed (AES-GCM) for this instance's list and status: a token the API did not
 * issue, or one issued for another list, is a 400 before anything reaches Temporal (a forged visibility
 * token there is an internal error, retried).
 */
const cursorContext = (instanceId: number, status?: string) => ({ instanceId, field: `events page:${status ?? ''}` });
const encodeCursor = (sealer: Sealer, instanceId: number, status: string | undefined, c: Cursor) =>
  Buffer.from(sealer.seal(JSON.stringify(c), cursorContext(instanceId, status))).toString('base64url');
function decodeCursor(sealer: Sealer, instanceId: number, status: string | undefined, text: string): Cursor {
  try {
    const opened = sealer.open(Buffer.from(text, 'base64url').toString('utf8'), cursorContext(instanceId, status));
    const c = JSON.parse(opened) as Cursor;
    if (!Number.isInteger(c.skip) || c.skip < 0 || (c.token !== undefined && typeof c.token !== 'string')) throw new Error();
    return c;
  } catch {
    throw new BadPageToken('nextPage is not a page token from this list');
  }
}

const dateOf = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  t?.seconds ? new Date(Number(t.seconds) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString() : undefined;

/**
 * An instance's notifications, newest first, `pageSize` a page. A batch lists the notifications it
 * delivered (its memo); those it moved on are listed by their own workflows.
 */
export async function listRecords(
  /** `sealer` seals the list's page tokens: a caller cannot forge a visibility token or read another list with one. */
  { client, namespace, sealer }: RecordsScope & { sealer: Sealer },
  instanceId: number,
  opts: { status?: string; pageSize: number; nextPage?: string },
): Promise<{ events: ListedRecord[]; nextPage?: string }> {
  let cursor: Cursor = opts.nextPage ? decodeCursor(sealer, instanceId, opts.status, opts.nextPage) : { skip: 0 };
  // A batch that moved every notification on (`retrying`) holds none to list.
  let query = `(WorkflowType = 'deliveryWorkflow' OR WorkflowType = 'deliveryBatchWorkflow') AND ElementInstanceId = ${instanceId} AND DeliveryStatus != 'retrying'`;
  if (opts.status) query += ` AND DeliveryStatus = '${opts.status}'`;
  const events: ListedRecord[] = [];
  for (let pages = 1; ; pages++) {
    let page;
    try {
      page = await client.workflowService.listWorkflowExecutions({
        namespace,
        query,
        pageSize: WORKFLOWS_PER_PAGE,
        nextPageToken: cursor.token ? Buffer.from(cursor.token, 'base64url') : undefined,
      });
    } catch (err) {
      if (cursor.token && /token/i.test(String(err))) throw new BadPageToken('nextPage is not a page token from this list');
      throw err;
    }
    const rows = (
      await Promise.all(
        (page.executions ?? []).map(async (e): Promise<ListedRecord[]> => {
          const workflowId = e.execution?.workflowId ?? '';
          // Search attributes are stored in clear; memos are encrypted (decoded through the client's codec).
          const status = payloadValue(e.searchAttributes?.indexedFields?.DeliveryStatus) as string;
          const createdDate = dateOf(e.startTime);
          if (e.type?.name !== 'deliveryBatchWorkflow') {
            const events = (await memoValue(client, e.memo?.fields?.events)) as number | undefined;
            return [{ eventId: eventIdOf(workflowId), status, events, createdDate }];
          }
          // Newest last in a batch, so reversed; a batch that moved every notification on lists none.
          const held = ((await memoValue(client, e.memo?.fields?.notifications)) as [string, number][] | undefined) ?? [];
          return held.map(([eventId, count]) => ({ eventId, status, events: count, createdDate })).reverse();
        }),
      )
    )
      .flat()
      .sort((a, b) => (b.createdDate ?? '').localeCompare(a.createdDate ?? ''));
    const wanted = opts.pageSize - events.length;
    const fromHere = rows.slice(cursor.skip, cursor.skip + wanted);
    events.push(...fromHere);
    const nextToken = page.nextPageToken?.length ? Buffer.from(page.nextPageToken).toString('base64url') : undefined;
    if (cursor.skip + fromHere.length < rows.length) {
      // The page is full before this visibility page is done: the next one starts inside it.
      return {
        events,
        nextPage: encodeCursor(sealer, instanceId, opts.status, { token: cursor.token, skip: cursor.skip + fromHere.length }),
      };
    }
    if (!nextToken) return { events };
    cursor = { token: nextToken, skip: 0 };
    if (events.length === opts.pageSize || pages >= MAX_PAGES_PER_REQUEST)
      return { events, nextPage: encodeCursor(sealer, instanceId, opts.status, cursor) };
  }
}

/** A record and the workflow holding it: the notification's own, or its batch (`batched`). */
export interface FoundRecord {
  record: DeliveryRecord;
  handle: WorkflowHandle;
  batched: boolean;
}

async function ownWorkflowRecord(client: Client, eventId: string): Promise<FoundRecord | undefined> {
  const handle = client.workflow.getHandle(deliveryWorkflowId(eventId));
  try {
    return { record: await handle.query(getDeliveryQuery), handle, batched: false };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
}

/** Visibility shows a batch a moment after it starts: a notification just delivered is looked for a little longer. */
const BATCH_LOOKUP_TRIES = 4;
const BATCH_LOOKUP_WAIT_MS = 250;

/**
 * A notification's record: from its own workflow, or else from the batch holding it; undefined when
 * neither is found. `eventId` must already be checked to be an eventId (it goes into a query).
 */
export async function findRecord({ client, namespace }: RecordsScope, eventId: string): Promise<FoundRecord | undefined> {
  const own = await ownWorkflowRecord(client, eventId);
  if (own) return own;
  for (let i = 0; i < BATCH_LOOKUP_TRIES; i++) {
    if (i) await sleep(BATCH_LOOKUP_WAIT_MS);
    const page = await client.workflowService.listWorkflowExecutions({
      namespace,
      query: `WorkflowType = 'deliveryBatchWorkflow' AND DeliveryEventIds = '${eventId}'`,
      pageSize: 10,
    });
    for (const e of page.executions ?? []) {
      const handle = client.workflow.getHandle(e.execution!.workflowId!, e.execution!.runId ?? undefined);
      const record = await handle.query(getBatchedDeliveryQuery, eventId).catch((err) => {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      });
      if (!record) continue;
      // Not delivered by the batch: moved on (or moving on) to its own workflow, which has the record.
      if (record.status !== 'delivered') return (await ownWorkflowRecord(client, eventId)) ?? { record, handle, batched: true };
      return { record, handle, batched: true };
    }
  }
  return undefined;
}
