import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type { ProviderUrls } from '../elements/element';
import { findElement } from '../elements';
import { buildNotification, chunk, eventIdFor, MAX_EVENTS_POLLING, type StandardEvent } from '../events/notification';
import { classify, getByPath } from '../polling/classify';
import type { PollInput, PollResult } from '../workflows/types';
import { mapLimit, startDelivery } from './dispatch';

interface Found {
  objectId: string;
  record: unknown;
  eventType: 'CREATED' | 'UPDATED';
  updatedMs?: number;
}

export interface PollDeps {
  client: Client;
  taskQueue: string;
  urls: ProviderUrls;
  /** Delivery workflows started at once; the server, not the provider, is the limit here. */
  dispatchConcurrency?: number;
}

export function createPollActivities(deps: PollDeps) {
  /**
   * Reads one resource's changes in the poll window, classifies them and hands them to delivery in
   * notifications of at most ten events. Only counts come back, so a large poll stays out of history.
   */
  async function pollResource(input: PollInput): Promise<PollResult> {
    const ctx = Context.current();
    const { instance, resource, resourceName } = input;
    const element = findElement(instance.elementKey);
    if (!element?.polling) {
      throw ApplicationFailure.nonRetryable(`element ${instance.elementKey} does not poll`, 'UnknownElement');
    }
    const idField = resource.idField ?? '';
    const found = new Map<string, Found>();
    let pages = 0;
    let records = 0;
    let skipped = 0;
    for await (const page of element.polling.fetchChanges({
      urls: deps.urls,
      configuration: instance.configuration,
      resourceName,
      resource,
      sinceMs: input.windowStartMs,
      signal: ctx.cancellationSignal,
      progress: (p) => ctx.heartbeat({ phase: 'reading', ...p }),
    })) {
      pages++;
      for (const record of page) {
        records++;
        const result = classify(record, {
          dates: resource.datesConfiguration ?? {},
          windowStartMs: input.windowStartMs,
          windowEndMs: input.windowEndMs,
          createdCheckToleranceSeconds: resource.createdCheckTolerance,
          filterByUpdatedDate: resource.filterByUpdatedDate,
        });
        const id = getByPath(record, idField);
        if ('skip' in result || id === undefined || id === null || id === '') {
          skipped++;
          continue;
        }
        const objectId = String(id);
        const previous = found.get(objectId);
        // Paging over a changing list can show a record twice; report its latest state once.
        if (!previous || (result.updatedMs ?? 0) >= (previous.updatedMs ?? 0)) {
          found.set(objectId, { objectId, record, eventType: result.eventType, updatedMs: result.updatedMs });
        }
      }
    }

    // A stable order makes a retried poll form the same notifications, hence the same eventIds.
    const ordered = [...found.values()].sort(
      (a, b) => (a.updatedMs ?? 0) - (b.updatedMs ?? 0) || a.objectId.localeCompare(b.objectId, 'en', { numeric: true }),
    );
    const batches = chunk(ordered, MAX_EVENTS_POLLING);
    const ref = { id: instance.id, name: instance.name, tags: instance.tags, elementKey: instance.elementKey };
    const date = new Date(input.windowEndMs).toISOString();
    let dispatched = 0;
    await mapLimit(batches, deps.dispatchConcurrency ?? 16, async (batch) => {
      const events: StandardEvent[] = batch.map((f) => ({
        eventType: f.eventType,
        objectType: resourceName,
        objectId: f.objectId,
        elementKey: instance.elementKey,
        date: new Date(f.updatedMs ?? input.windowEndMs).toISOString(),
      }));
      const eventId = eventIdFor(
        instance.id,
        [resourceName, ...batch.map((f) => `${f.objectId}@${f.updatedMs ?? ''}:${f.eventType}`)],
      );
      const notification = buildNotification({
        eventId,
        instance: ref,
        date,
        events,
        raw: { objectType: resourceName, objects: batch.map((f) => f.record) },
      });
      await startDelivery(deps.client, deps.taskQueue, {
        eventId,
        instanceId: instance.id,
        elementKey: instance.elementKey,
        accountId: instance.accountId,
        callbackUrl: input.callbackUrl,
        signatureKey: input.signatureKey,
        body: JSON.stringify(notification),
        events: events.length,
      });
      ctx.heartbeat({ phase: 'dispatching', notifications: ++dispatched, of: batches.length });
    });

    ctx.log.info('poll finished', { resource: resourceName, pages, records, events: ordered.length, notifications: batches.length });
    return { pages, records, events: ordered.length, notifications: batches.length, skipped };
  }

  return { pollResource };
}
