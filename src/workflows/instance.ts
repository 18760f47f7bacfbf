import {
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { InstanceView, ResourceStatus } from '../instances/types';
import { deleteInstanceUpdate, getInstanceQuery } from './messages';
import type { InstanceState, InstanceWorkflowInput } from './types';

const pollOptions: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  // Polls heartbeat every page, so a killed worker is noticed in seconds, not at the timeout.
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 5 },
};

const { pollResource } = proxyActivities<Activities>(pollOptions);

const DEFAULT_MAX_HISTORY_EVENTS = 10_000;
const iso = (ms: number) => new Date(ms).toISOString();
// Providers date records to the second, so windows end on whole seconds: a record dated in the
// second of the poll is left to the next poll, which is what keeps boundary records from being
// reported twice or not at all.
const floorToSecond = (ms: number) => Math.floor(ms / 1000) * 1000;

/**
 * One element instance: sleeps for its refresh interval, polls each resource, and moves each
 * resource's watermark only after that poll's notifications are durably handed to delivery.
 */
export async function instanceWorkflow(input: InstanceWorkflowInput): Promise<void> {
  const { spec } = input;
  const { events } = spec;
  const polling = events.enabled && events.vendorType === 'polling' && !!events.callbackUrl;
  const intervalMs = (events.refreshIntervalMinutes ?? 15) * 60_000;
  const createdMs = Date.parse(spec.createdDate);
  const state: InstanceState = input.state ?? { watermarks: {}, polls: 0 };
  for (const name of Object.keys(events.resources)) {
    state.watermarks[name] ??= { watermark: iso(floorToSecond(createdMs)) };
  }
  if (polling) state.nextPollAtMs ??= createdMs + intervalMs;

  let deleting = false;
  let stopped = false;
  let pollScope: CancellationScope | undefined;

  setHandler(getInstanceQuery, (): InstanceView => ({
    id: spec.id,
    name: spec.name,
    tags: spec.tags,
    element: { key: spec.elementKey },
    createdDate: spec.createdDate,
    eventsEnabled: events.enabled,
    configuration: spec.publicConfiguration,
    status: {
      polls: state.polls,
      nextPollAt: polling && !deleting ? iso(state.nextPollAtMs!) : undefined,
      resources: state.watermarks,
    },
  }));

  setHandler(deleteInstanceUpdate, async () => {
    deleting = true;
    pollScope?.cancel();
    await condition(() => stopped);
  });

  async function pollOne(name: string, startedMs: number): Promise<void> {
    const resource = events.resources[name]!;
    const previous = state.watermarks[name]!;
    const windowStartMs = Date.parse(previous.watermark);
    const windowEndMs = floorToSecond(startedMs - (resource.pollDelay ?? 0) * 1000);
    if (windowEndMs <= windowStartMs) return;
    try {
      const result = await pollResource.executeWithOptions({ ...pollOptions, summary: `poll ${name}` }, [
        {
          instance: spec,
          callbackUrl: events.callbackUrl!,
          signatureKey: events.signatureKey,
          resourceName: name,
          resource,
          windowStartMs,
          windowEndMs,
        },
      ]);
      state.watermarks[name] = { watermark: iso(windowEndMs), lastPollAt: iso(startedMs), lastEvents: result.events };
    } catch (err) {
      if (isCancellation(err)) throw err;
      // The window stays where it was, so the next poll catches up on everything this one missed.
      const message = err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);
      state.watermarks[name] = { ...previous, lastPollAt: iso(startedMs), lastError: message } satisfies ResourceStatus;
      log.warn('poll failed; the next poll covers its window', { resource: name, error: message });
    }
  }

  while (!deleting) {
    if (!polling) {
      await condition(() => deleting);
      break;
    }
    const waitMs = state.nextPollAtMs! - Date.now();
    if (waitMs > 0) await condition(() => deleting, waitMs);
    if (deleting) break;

    const startedMs = Date.now();
    try {
      await CancellationScope.cancellable(async () => {
        pollScope = CancellationScope.current();
        await Promise.all(Object.keys(events.resources).map((name) => pollOne(name, startedMs)));
      });
    } catch (err) {
      if (!isCancellation(err)) throw err;
    }
    pollScope = undefined;
    state.polls++;
    // Keep to the schedule; a poll that overran it starts the next one at once.
    state.nextPollAtMs = Math.max(state.nextPollAtMs! + intervalMs, Date.now());

    const info = workflowInfo();
    if (!deleting && (info.continueAsNewSuggested || info.historyLength >= (input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS))) {
      await condition(allHandlersFinished);
      if (!deleting) await continueAsNew<typeof instanceWorkflow>({ ...input, state });
    }
  }
  stopped = true;
  await condition(allHandlersFinished);
}
