import type { Tracer } from '@opentelemetry/api';
import { ApplicationFailure, Context } from '@temporalio/activity';
import { WorkflowNotFoundError } from '@temporalio/client';
import type { ProviderUrls } from '../elements/element';
import { ProviderQuotaError } from '../errors';
import { findElement } from '../elements';
import { secretKeysOf } from '../instances/secret-keys';
import type { CallbackPolicy } from '../events/callback-url';
import type { Sealer } from '../secrets/sealer';
import { chunk, MAX_EVENTS_POLLING } from '../events/notification';
import { measurePoll } from '../metrics/polling';
import { classify, getByPath } from '../polling/classify';
import { alreadyReported, overlapMsOf, toRemember } from '../polling/overlap';
import type { PollInput, PollResult } from '../workflows/types';
import { handOff, mapLazily, type DeliveryStarter } from './dispatch';
import { instanceWorkflowId } from '../workflows/ids';
import { deliveryTargetQuery } from '../workflows/messages';

interface Found {
  objectId: string;
  /** The record as JSON text: a large poll holds every changed record until it is sorted, and one string
   *  each takes a fraction of the memory of the parsed object trees (100,000 records: the worker stays
   *  under 512 MB). Parsed again only as its batch is handed over. */
  json: string;
  eventType: 'CREATED' | 'UPDATED';
  updatedMs?: number;
}

export interface PollDeps extends DeliveryStarter {
  urls: ProviderUrls;
  sealer: Sealer;
  /** Which callback addresses deliveries may connect to. */
  callbackPolicy: CallbackPolicy;
  /** Tracing on (OTEL_EXPORTER_OTLP_ENDPOINT): the spans of dispatch and of callback POSTs. */
  tracer?: Tracer;
}

/**
 * A used-up quota fails the poll at once, with no activity retries: they would only spend requests
 * the provider refuses. The window stays open, and the next poll reads it once the quota renews.
 */
async function* quotaFailsThePoll<T>(pages: AsyncIterable<T>): AsyncIterable<T> {
  try {
    yield* pages;
  } catch (err) {
    if (err instanceof ProviderQuotaError) throw ApplicationFailure.nonRetryable(err.message, 'ProviderQuotaUsedUp');
    throw err;
  }
}

export function createPollActivities(deps: PollDeps) {
  /**
   * A DELETE cancels a poll in flight, but the activity hears of it only at its next heartbeat, and
   * the provider may answer first: what such a poll found goes to no one, as the instance is gone. A
   * first delivery attempt does not look at the instance, so this is the last place to stop it.
   */
  async function refuseIfDeleted(instanceId: number): Promise<void> {
    const ctx = Context.current();
    let deleted = ctx.cancellationSignal.aborted;
    if (!deleted) {
      try {
        deleted = (await deps.client.workflow.getHandle(instanceWorkflowId(instanceId)).query(deliveryTargetQuery)).deleted;
      } catch (err) {
        if (!(err instanceof WorkflowNotFoundError)) throw err;
        deleted = true;
      }
    }
    if (deleted)
      throw ApplicationFailure.nonRetryable('the instance was deleted during the poll: nothing found is handed over', 'InstanceDeleted');
  }

  /**
   * Reads one resource's changes in the poll window, classifies them and hands them to delivery in
   * notifications of at most ten events. The window reaches back over the overlap, where changes
   * reported already are skipped. Counts come back, and the reported changes the next re-read covers
   * (no more), so a large poll stays out of history.
   */
  async function pollResource(input: PollInput): Promise<PollResult> {
    return measurePoll(input, Context.current().info.attempt, () => pollOnce(input));
  }

  async function pollOnce(input: PollInput): Promise<PollResult> {
    const ctx = Context.current();
    const { instance, resource, resourceName } = input;
    const element = findElement(instance.elementKey);
    if (!element?.polling) {
      throw ApplicationFailure.nonRetryable(`element ${instance.elementKey} does not poll`, 'UnknownElement');
    }
    const idField = resource.idField ?? '';
    // The overlap re-read: from before the watermark, where the provider may show late records.
    const readFromMs = input.overlapStartMs ?? input.windowStartMs;
    const seen = new Map(input.seen ?? []);
    const found = new Map<string, Found>();
    let pages = 0;
    let records = 0;
    let skipped = 0;
    for await (const page of quotaFailsThePoll(
      element.polling.fetchChanges({
        urls: deps.urls,
        configuration: deps.sealer.openKeys(input.credentials, secretKeysOf(element), instance.id),
        resourceName,
        resource,
        sinceMs: readFromMs,
        signal: ctx.cancellationSignal,
        progress: (p) => ctx.heartbeat({ phase: 'reading', ...p }),
        onRetry: (r) => ctx.log.info('provider call to be tried again', { resource: resourceName, ...r }),
        onReread: (r) => ctx.log.info('the provider list shifted between pages; reading it again', { resource: resourceName, ...r }),
      }),
    )) {
      pages++;
      for (const record of page) {
        records++;
        const result = classify(record, {
          dates: resource.datesConfiguration ?? {},
          windowStartMs: readFromMs,
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
          found.set(objectId, { objectId, json: JSON.stringify(record), eventType: result.eventType, updatedMs: result.updatedMs });
        }
      }
    }

    // Suppressed by what the input says was reported, so a retried poll suppresses the same changes.
    const fresh = [...found.values()].filter((f) => !alreadyReported(seen, f.objectId, f.updatedMs));
    const suppressed = found.size - fresh.length;
    const late = fresh.filter((f) => f.updatedMs !== undefined && f.updatedMs < input.windowStartMs).length;
    // A stable order makes a retried poll form the same notifications, hence the same eventIds.
    const ordered = fresh.sort(
      (a, b) => (a.updatedMs ?? 0) - (b.updatedMs ?? 0) || a.objectId.localeCompare(b.objectId, 'en', { numeric: true }),
    );
    const batches = chunk(ordered, MAX_EVENTS_POLLING);
    if (batches.length) await refuseIfDeleted(instance.id);
    const date = new Date(input.windowEndMs).toISOString();
    await handOff(
      deps,
      instance,
      input.target,
      // Built as they are handed over: the poll holds its records once, not every notification's body too.
      mapLazily(batches, (batch) => ({
        instance,
        date,
        events: batch.map((f) => ({
          eventType: f.eventType,
          objectType: resourceName,
          objectId: f.objectId,
          elementKey: instance.elementKey,
          date: new Date(f.updatedMs ?? input.windowEndMs).toISOString(),
        })),
        raw: { objectType: resourceName, objects: batch.map((f) => JSON.parse(f.json) as unknown) },
        identity: [resourceName, ...batch.map((f) => `${f.objectId}@${f.updatedMs ?? ''}:${f.eventType}`)],
      })),
      {
        ordered: input.ordered,
        onStarted: (dispatched) => ctx.heartbeat({ phase: 'dispatching', notifications: dispatched, of: batches.length }),
      },
    );

    ctx.log.info('poll finished', {
      resource: resourceName,
      pages,
      records,
      events: ordered.length,
      late,
      suppressed,
      notifications: batches.length,
    });
    return {
      pages,
      records,
      events: ordered.length,
      notifications: batches.length,
      skipped,
      late,
      suppressed,
      seen: toRemember(ordered, input.windowEndMs, overlapMsOf(resource)),
    };
  }

  return { pollResource };
}
