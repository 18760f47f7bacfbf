import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
  workflowInfo,
  type ActivityOptions,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import type { EndpointStatus, InstanceView, ResourceStatus } from '../instances/types';
import { publicView } from '../instances/view';
import { own } from '../own';
import { advance, initialOverlap, overlapMsOf, rereadStartMs, seenCap } from '../polling/overlap';
import { ElementsTokenHash, EventsEnabled } from '../temporal/search-attributes';
import {
  callbackGoneSignal,
  callbackVerificationSignal,
  cleanupInputQuery,
  configureUpdate,
  deleteInstanceUpdate,
  deliveryTargetQuery,
  endpointGateQuery,
  endpointOutcomesSignal,
  endpointProbeUpdate,
  getInstanceQuery,
  getSpecQuery,
  pendingWebhooksQuery,
  acceptWebhooksUpdate,
  receiverStateQuery,
  rotateTokenUpdate,
  tokensIssuedSignal,
  webhooksSignal,
} from './messages';
import { applyOutcomes, endpointDead, endpointHealed, endpointLimits, grantProbe, probeDue, recoveredAtMs } from './endpoint-health';
import { RecentKeys } from './recent-keys';
import {
  PROVIDER_REFUSED,
  type CallbackState,
  type CallbackTarget,
  type EndpointGateState,
  type InstanceState,
  type InstanceWorkflowInput,
  type ProviderCallInput,
  type WebhookReceipt,
} from './types';

const pollOptions: ActivityOptions = {
  startToCloseTimeout: '30 minutes',
  // Polls heartbeat every page, so a killed worker is noticed in seconds, not at the timeout.
  heartbeatTimeout: '20 seconds',
  retry: { initialInterval: '5 seconds', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 5 },
};
const providerOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 6 },
};
const dispatchOptions: ActivityOptions = {
  startToCloseTimeout: '5 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
};

const { pollResource } = proxyActivities<Activities>(pollOptions);
const { registerCallback, confirmCallback, deregisterCallback, refreshTokens, resendVerification, removeStrayCallbacks } =
  proxyActivities<Activities>(providerOptions);
const { dispatchWebhooks } = proxyActivities<Activities>(dispatchOptions);

const DEFAULT_MAX_HISTORY_EVENTS = 10_000;
/** Below the server's default of 2,000 updates a run, beyond which it refuses them (and webhooks would go as signals). */
const DEFAULT_MAX_WEBHOOK_UPDATES = 1_500;
/** Webhooks handed to delivery per activity: keeps each activity's input well under payload limits. */
const WEBHOOKS_PER_DISPATCH = 500;
const iso = (ms: number) => new Date(ms).toISOString();
// Providers date records to the second, so windows end on whole seconds: a record dated in the
// second of the poll is left to the next poll, which is what keeps boundary records from being
// reported twice or not at all.
const floorToSecond = (ms: number) => Math.floor(ms / 1000) * 1000;
/** Unconfirmed verifiers kept per callback, and callbacks not yet ours that may hold some. */
const MAX_CANDIDATES = 10;
const MAX_EARLY_CALLBACKS = 100;
/** Times the provider is asked to send a lost verification again, each wait twice the one before. */
const MAX_RESENDS = 5;
const DEFAULT_VERIFICATION_RESEND_SECONDS = 120;
/** A provider that refused a registration or a removal is asked again after this long. */
const DEFAULT_PROVIDER_RETRY_SECONDS = 60;
/**
 * How long a webhook's key is remembered, and how many keys at most. A provider that sends no delivery
 * id (FreshBooks) makes a retry and a genuine second identical change look alike: within the window
 * they are one event, after it two. Ten minutes covers a retry of a post whose answer was lost.
 */
const DEFAULT_WEBHOOK_REPEAT_WINDOW_SECONDS = 600;
const MAX_RECENT_WEBHOOKS = 10_000;
/** How far the receiver's clock (a webhook update's `sentAtMs`) may be from the workflow's. */
const CLOCK_MARGIN_MS = 5_000;
const withCandidate = (list: string[] | undefined, verifier: string) => [...(list ?? []), verifier].slice(-MAX_CANDIDATES);
const refusedByProvider = (err: unknown) =>
  err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.type === PROVIDER_REFUSED;
const errorMessage = (err: unknown) =>
  err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err);

/**
 * One element instance. Polling elements: sleep for the refresh interval, poll each resource, move
 * each resource's watermark only after its notifications are durably handed to delivery. Webhook
 * elements: keep the provider's callbacks registered and verified, refresh OAuth tokens before they
 * expire, and hand accepted webhooks to delivery.
 */
export async function instanceWorkflow(input: InstanceWorkflowInput): Promise<void> {
  let spec = input.spec;
  const state: InstanceState = {
    watermarks: {},
    polls: 0,
    provider: '',
    callbacks: {},
    earlyVerifiers: {},
    pendingWebhooks: [],
    webhooksReceived: 0,
    ...input.state,
  };
  let deleting = false;
  let stopped = false;
  let reconciled = false;
  /** Callback registrations in flight: their verification posts may come before their ids are known. */
  let registering = 0;
  let pollScope: CancellationScope | undefined;

  const polling = () => spec.events.enabled && spec.events.vendorType === 'polling' && !!spec.events.callbackUrl;
  const webhooks = () => spec.events.vendorType === 'webhooks';
  const intervalMs = () => (spec.events.refreshIntervalMinutes ?? 15) * 60_000;
  const tokens = () => state.tokenTimes;
  // Refresh well before expiry: a fifth of the token's lifetime, at most ten minutes.
  const refreshAtMs = () => {
    const t = tokens();
    return t ? t.expiresAtMs - Math.min(10 * 60_000, (t.expiresAtMs - t.issuedAtMs) / 5) : undefined;
  };
  const repeatWindowMs = (input.webhookRepeatWindowSeconds ?? DEFAULT_WEBHOOK_REPEAT_WINDOW_SECONDS) * 1000;
  const recentWebhooks = new RecentKeys(state.recentWebhooks ?? [], repeatWindowMs, MAX_RECENT_WEBHOOKS);
  /** Half the repeat window, at most a minute: room for the receiver's and Temporal's clocks to differ by seconds. */
  const staleWebhookUpdateMs = Math.min(60_000, repeatWindowMs / 2);
  /**
   * The number of the first pending webhook, counting every webhook received in arrival order: each one
   * received is appended to the pending list and counted, and leaves the list only from its front.
   */
  const firstPendingWebhook = () => state.webhooksReceived - state.pendingWebhooks.length;
  const resendDelayMs = (input.verificationResendSeconds ?? DEFAULT_VERIFICATION_RESEND_SECONDS) * 1000;
  /** When to ask the provider to send a callback's verification again: it waited long enough with nothing to try. */
  const resendDueAtMs = (c: CallbackState) =>
    !c.verified && !c.candidates?.length && (c.resends ?? 0) < MAX_RESENDS
      ? (c.awaitingSinceMs ?? 0) + resendDelayMs * 2 ** (c.resends ?? 0)
      : Infinity;
  const nextResendAtMs = () => Math.min(...Object.values(state.callbacks).map(resendDueAtMs));
  const wantedEvents = () => (webhooks() && spec.events.enabled && !deleting ? spec.events.webhookEvents : []);
  const providerInput = (): ProviderCallInput => ({
    instanceId: spec.id,
    elementKey: spec.elementKey,
    credentials: spec.credentials,
    provider: state.provider,
  });
  /** The callback and its keys now; replaced keys only while their grace period lasts. */
  const callbackTarget = (): CallbackTarget | undefined => {
    const { callbackUrl, signatureKey, webhookSecret, previousKeys } = spec.events;
    if (!callbackUrl) return undefined;
    return {
      url: callbackUrl,
      signatureKey,
      webhookSecret,
      previousKeys: previousKeys && previousKeys.untilMs > Date.now() ? previousKeys : undefined,
    };
  };
  const instanceRef = () => ({ id: spec.id, name: spec.name, tags: spec.tags, elementKey: spec.elementKey, accountId: spec.accountId });

  function syncResources() {
    // New resources start at the moment they were added; removed ones keep nothing.
    // Own keys only: a resource may be named like an Object.prototype member (`constructor`).
    for (const name of Object.keys(spec.events.resources)) {
      if (!own(state.watermarks, name))
        state.watermarks[name] = { watermark: iso(floorToSecond(state.polls ? Date.now() : Date.parse(spec.createdDate))) };
    }
    for (const name of Object.keys(state.watermarks)) if (!Object.hasOwn(spec.events.resources, name)) delete state.watermarks[name];
    // A resource added again starts afresh: nothing from its earlier life is re-read.
    const overlaps = (state.overlaps ??= {});
    for (const name of Object.keys(overlaps)) if (!Object.hasOwn(spec.events.resources, name)) delete overlaps[name];
    if (polling()) state.nextPollAtMs ??= Math.max(Date.parse(spec.createdDate), state.polls ? Date.now() : 0) + intervalMs();
    else state.nextPollAtMs = undefined;
  }
  syncResources();

  // --- endpoint health: one callback URL per instance, so its health lives here -----------------
  const limits = endpointLimits(input.endpointHealth);
  // Its timer and its turning events off are commands: runs recorded before them replay without.
  const endpointCommands = patched('endpoint-health');
  const endpointView = (): EndpointStatus => {
    const e = state.endpoint;
    const at = (ms: number | undefined) => (ms === undefined ? undefined : iso(ms));
    if (!e) return { state: 'healthy', since: spec.createdDate, failures: 0, failedEventIds: [] };
    return {
      state: e.state,
      since: iso(e.sinceMs),
      failingSince: e.state === 'healthy' ? undefined : at(e.failingSinceMs),
      openedAt: e.state === 'open' || e.state === 'recovering' ? at(e.openedAtMs) : undefined,
      nextProbeAt: e.state === 'open' ? at(e.nextProbeAtMs) : undefined,
      failures: e.failures,
      failedEventIds: e.failedEventIds,
      lastFailureAt: at(e.lastFailureMs),
      lastSuccessAt: at(e.lastSuccessMs),
    };
  };
  const endpointGate = (): EndpointGateState => ({
    state: state.endpoint?.state ?? 'healthy',
    nextProbeAtMs: state.endpoint?.nextProbeAtMs,
    probeGrantedAtMs: state.endpoint?.probeGrantedAtMs,
    maxRate: spec.events.maxRate,
  });
  /** Events off with the reason in status: a callback gone (410), or failing for days. */
  function turnEventsOff(reason: string): void {
    spec = {
      ...spec,
      configuration: { ...spec.configuration, 'event.notification.enabled': false },
      publicConfiguration: { ...spec.publicConfiguration, 'event.notification.enabled': false },
      events: { ...spec.events, enabled: false },
    };
    state.eventsDisabled = reason;
    syncResources();
    upsertMemo({ instance: publicView(spec) });
    upsertSearchAttributes([{ key: EventsEnabled, value: false }]);
    reconciled = false;
  }

  const view = (): InstanceView => {
    const callbacks = Object.values(state.callbacks);
    return {
      ...publicView(spec),
      status: {
        polls: state.polls,
        nextPollAt: polling() && !deleting && state.nextPollAtMs ? iso(state.nextPollAtMs) : undefined,
        resources: state.watermarks,
        ...(webhooks()
          ? {
              callbacks: {
                wanted: wantedEvents().length,
                registered: callbacks.length,
                verified: callbacks.filter((c) => c.verified).length,
              },
              webhooks: {
                received: state.webhooksReceived,
                pending: state.pendingWebhooks.length,
                repeats: state.webhooksRepeated ?? 0,
                lastReceivedAt: state.lastWebhookAtMs === undefined ? undefined : iso(state.lastWebhookAtMs),
              },
              tokensExpireAt: tokens() ? iso(tokens()!.expiresAtMs) : undefined,
            }
          : {}),
        lastError: state.lastError,
        eventsDisabled: state.eventsDisabled,
        ...(spec.events.callbackUrl ? { endpoint: endpointView() } : {}),
      },
    };
  };

  setHandler(getInstanceQuery, view);
  setHandler(getSpecQuery, () => spec);
  // Retries and redeliveries read this, so they follow a PATCHed callback and stop once deleted.
  setHandler(deliveryTargetQuery, () => ({ deleted: deleting, target: callbackTarget() }));
  setHandler(cleanupInputQuery, () =>
    webhooks() && spec.events.webhookUri ? { ...providerInput(), uri: spec.events.webhookUri, keep: [], instanceClosed: true } : undefined,
  );
  setHandler(receiverStateQuery, () => {
    const verifiers: Record<string, string[]> = {};
    const verified: string[] = [];
    const awaiting: string[] = [];
    // Only verifiers the provider confirmed: a verification post is unsigned, so anyone can send one.
    for (const [id, c] of Object.entries(state.callbacks)) {
      if (c.verified && c.verifier) (verifiers[c.event] ??= []).push(c.verifier);
      (c.verified ? verified : awaiting).push(id);
    }
    return { verifiers, verified, awaiting, registering: registering > 0 };
  });
  setHandler(rotateTokenUpdate, ({ tokenHash }) => {
    spec = { ...spec, tokenHash };
    upsertSearchAttributes([{ key: ElementsTokenHash, value: tokenHash }]);
  });
  function receiveWebhooks(receipts: WebhookReceipt[]) {
    // Workflow time: the same on replay, so the ids (and the eventIds made from them) are too.
    const nowMs = Date.now();
    // State only (no command), so histories recorded before it replay unchanged.
    if (receipts.length) state.lastWebhookAtMs = nowMs;
    for (const receipt of receipts) {
      if (receipt.key !== undefined && !recentWebhooks.firstSighting(receipt.key, nowMs)) {
        state.webhooksRepeated = (state.webhooksRepeated ?? 0) + 1;
        continue;
      }
      // A first sighting's id: its key and when, so the same webhook after the window is a new event.
      state.pendingWebhooks.push(receipt.key === undefined ? receipt : { ...receipt, id: `${receipt.key}.${nowMs}` });
      state.webhooksReceived++;
    }
  }
  setHandler(webhooksSignal, receiveWebhooks);
  /** Webhook updates this run took: Temporal refuses updates past 2,000 a run (`history.maxTotalUpdates`). */
  let webhookUpdatesThisRun = 0;
  const maxWebhookUpdates = input.maxWebhookUpdates ?? DEFAULT_MAX_WEBHOOK_UPDATES;
  setHandler(
    acceptWebhooksUpdate,
    ({ receipts }) => {
      webhookUpdatesThisRun++;
      receiveWebhooks(receipts);
    },
    {
      // Refused before it enters the history: a copy the receiver gave up on (it has gone again as a signal,
      // and a repeat is known by its key only while the key is remembered), and a batch whose webhooks are
      // all repeats (so that the receiver's own second copy is not counted as the provider's repeats: the
      // signal then counts what really is one).
      validator: ({ receipts, sentAtMs }) => {
        // A run busy elsewhere (a provider call, a long hand-off) continues as new only when it is free again:
        // past the bound the webhooks go as signals, so Temporal's own limit is never reached.
        if (webhookUpdatesThisRun >= maxWebhookUpdates) throw new Error('this run has taken its webhook updates: sent as a signal');
        const nowMs = Date.now();
        if (nowMs - sentAtMs > staleWebhookUpdateMs || !recentWebhooks.remembersSince(sentAtMs - CLOCK_MARGIN_MS))
          throw new Error('webhooks update too late: the receiver sends them as a signal');
        if (receipts.every((r: WebhookReceipt) => r.key !== undefined && recentWebhooks.seenWithin(r.key, nowMs)))
          throw new Error('webhooks already received');
      },
    },
  );
  setHandler(pendingWebhooksQuery, ({ from, count }) => {
    const first = firstPendingWebhook();
    if (from < first || from + count > first + state.pendingWebhooks.length) return undefined;
    return state.pendingWebhooks.slice(from - first, from - first + count);
  });
  setHandler(callbackVerificationSignal, ({ callbackId, verifier }) => {
    // A candidate until FreshBooks accepts it: the post is unsigned, so it may be anyone's.
    const callback = own(state.callbacks, callbackId);
    if (callback) {
      if (!callback.verified) callback.candidates = withCandidate(callback.candidates, verifier);
    } else {
      const early = own(state.earlyVerifiers, callbackId);
      if (early || Object.keys(state.earlyVerifiers).length < MAX_EARLY_CALLBACKS)
        state.earlyVerifiers[callbackId] = withCandidate(early, verifier);
    }
  });
  setHandler(tokensIssuedSignal, ({ provider, issuedAtMs, expiresAtMs }) => {
    state.provider = provider;
    state.tokenTimes = { issuedAtMs, expiresAtMs };
  });
  setHandler(callbackGoneSignal, ({ callbackUrl, eventId, at }) => {
    // Only if that is still the instance's callback: a PATCH may have moved it since.
    if (!spec.events.enabled || spec.events.callbackUrl !== callbackUrl) return;
    log.warn('callback answered 410 Gone; events turned off', { eventId });
    turnEventsOff(`events turned off at ${at}: the callback answered 410 Gone to notification ${eventId}`);
  });
  setHandler(endpointGateQuery, endpointGate);
  setHandler(endpointOutcomesSignal, (outcomes) => {
    const nowMs = Date.now();
    state.endpoint = applyOutcomes(state.endpoint, outcomes, nowMs, limits);
    if (spec.events.enabled && endpointCommands && endpointDead(state.endpoint, nowMs, limits)) {
      const since = iso(state.endpoint.failingSinceMs ?? nowMs);
      log.warn('callback failing for days; events turned off', { since });
      turnEventsOff(`events turned off at ${iso(nowMs)}: every attempt at the callback has failed since ${since}`);
    }
  });
  setHandler(
    endpointProbeUpdate,
    () => {
      state.endpoint = grantProbe(state.endpoint!, Date.now(), limits);
      return endpointGate();
    },
    {
      validator: () => {
        if (!probeDue(state.endpoint, Date.now())) throw new Error('no probe is due');
      },
    },
  );
  setHandler(deleteInstanceUpdate, async () => {
    deleting = true;
    pollScope?.cancel();
    await condition(() => stopped);
  });
  setHandler(configureUpdate, async (next) => {
    const enabledChanged = next.events.enabled !== spec.events.enabled;
    const intervalChanged = next.events.refreshIntervalMinutes !== spec.events.refreshIntervalMinutes;
    // Endpoint health is the callback URL's: another URL, or events turned on again, starts healthy.
    if (next.events.callbackUrl !== spec.events.callbackUrl || (enabledChanged && next.events.enabled)) state.endpoint = undefined;
    spec = next;
    if (spec.events.enabled) state.eventsDisabled = undefined;
    if (enabledChanged && spec.events.enabled) {
      // Events were off: changes made meanwhile are not reported; watching starts now.
      for (const name of Object.keys(state.watermarks)) state.watermarks[name] = { watermark: iso(floorToSecond(Date.now())) };
      // Nor are they found by re-reading the overlap: each resource's re-read starts at its new watermark.
      state.overlaps = {};
      state.nextPollAtMs = undefined;
    }
    if (intervalChanged && state.nextPollAtMs !== undefined) state.nextPollAtMs = Date.now() + intervalMs();
    syncResources();
    upsertMemo({ instance: publicView(spec) });
    if (enabledChanged) upsertSearchAttributes([{ key: EventsEnabled, value: spec.events.enabled }]);
    if (enabledChanged && !spec.events.enabled && webhooks()) state.strayCheckDue = true;
    reconciled = false;
    await condition(() => reconciled || deleting);
    return view();
  });

  // --- polling ---------------------------------------------------------------------------------

  async function pollOne(name: string, startedMs: number, dueAtMs: number | undefined): Promise<void> {
    const resource = spec.events.resources[name]!;
    const previous = state.watermarks[name]!;
    const windowStartMs = Date.parse(previous.watermark);
    const windowEndMs = floorToSecond(startedMs - (resource.pollDelay ?? 0) * 1000);
    if (windowEndMs <= windowStartMs) return;
    // None yet when the resource (re)started watching at its watermark, or in state from before overlaps.
    const overlap = own((state.overlaps ??= {}), name) ?? initialOverlap(windowStartMs);
    const overlapMs = overlapMsOf(resource);
    try {
      // Only what this poll needs: the whole configuration in each of up to 100 parallel polls could
      // exceed what one workflow task may carry.
      const result = await pollResource.executeWithOptions({ ...pollOptions, summary: `poll ${name}` }, [
        {
          instance: instanceRef(),
          credentials: spec.credentials,
          target: callbackTarget()!,
          resourceName: name,
          resource,
          windowStartMs,
          windowEndMs,
          overlapStartMs: rereadStartMs(overlap, windowStartMs, overlapMs),
          seen: overlap.seen,
          ...(spec.events.ordered ? { ordered: true } : {}),
          // Plain data for the poll lag metric, measured by the activity.
          dueAtMs,
        },
      ]);
      // A PATCH removed the resource while it was polled: its watermark is gone, and stays gone.
      if (!Object.hasOwn(spec.events.resources, name)) return;
      state.watermarks[name] = { watermark: iso(windowEndMs), lastPollAt: iso(startedMs), lastEvents: result.events };
      // Results recorded before overlaps existed carry no `seen`.
      const cap = seenCap(Object.keys(spec.events.resources).length);
      state.overlaps![name] = advance(overlap, result.seen ?? [], windowEndMs, overlapMs, cap);
    } catch (err) {
      if (isCancellation(err)) throw err;
      if (!Object.hasOwn(spec.events.resources, name)) return;
      // The window stays where it was, so the next poll catches up on everything this one missed.
      state.watermarks[name] = { ...previous, lastPollAt: iso(startedMs), lastError: errorMessage(err) } satisfies ResourceStatus;
      log.warn('poll failed; the next poll covers its window', { resource: name, error: errorMessage(err) });
    }
  }

  async function pollCycle(): Promise<void> {
    const startedMs = Date.now();
    const dueAtMs = state.nextPollAtMs;
    try {
      await CancellationScope.cancellable(async () => {
        pollScope = CancellationScope.current();
        const names = Object.keys(spec.events.resources);
        // Ordered: one resource after another, so their notifications join the lane in one order.
        if (spec.events.ordered) for (const name of names) await pollOne(name, startedMs, dueAtMs);
        else await Promise.all(names.map((name) => pollOne(name, startedMs, dueAtMs)));
      });
    } catch (err) {
      if (!isCancellation(err)) throw err;
    }
    pollScope = undefined;
    state.polls++;
    // Keep to the schedule; a poll that overran it starts the next one at once.
    state.nextPollAtMs = Math.max(state.nextPollAtMs! + intervalMs(), Date.now());
  }

  // --- webhooks --------------------------------------------------------------------------------

  async function attempt(what: string, fn: () => Promise<void>): Promise<boolean> {
    try {
      await fn();
      // The failure shown was this very step's, and it has worked since: it no longer shows.
      if (state.lastError?.startsWith(`${what}: `)) state.lastError = undefined;
      return true;
    } catch (err) {
      state.lastError = `${what}: ${errorMessage(err)}`;
      log.warn(`${what} failed`, { error: errorMessage(err) });
      return false;
    }
  }

  /** Registers missing callbacks, removes unwanted ones, and confirms those with a verifier. */
  async function reconcileCallbacks(): Promise<boolean> {
    const wanted = wantedEvents();
    const have = new Set(Object.values(state.callbacks).map((c) => c.event));
    const results = await Promise.all([
      ...wanted
        .filter((event) => !have.has(event))
        .map((event) =>
          attempt(`registering ${event}`, async () => {
            registering++;
            const { callbackId } = await registerCallback
              .executeWithOptions({ ...providerOptions, summary: `register ${event}` }, [
                { ...providerInput(), event, uri: spec.events.webhookUri! },
              ])
              .finally(() => registering--);
            state.callbacks[callbackId] = {
              event,
              verified: false,
              candidates: own(state.earlyVerifiers, callbackId) ?? [],
              awaitingSinceMs: Date.now(),
              resends: 0,
            };
            delete state.earlyVerifiers[callbackId];
          }),
        ),
      ...Object.entries(state.callbacks)
        .filter(([, c]) => !wanted.includes(c.event))
        .map(([callbackId, c]) =>
          attempt(`removing ${c.event}`, async () => {
            await deregisterCallback.executeWithOptions({ ...providerOptions, summary: `remove ${c.event}` }, [
              { ...providerInput(), callbackId },
            ]);
            delete state.callbacks[callbackId];
          }),
        ),
    ]);
    // Every registration has now taken its early verifier; what is left matches no callback of ours.
    state.earlyVerifiers = {};
    const swept = await removeStrays();
    return (await confirmCallbacks()) && results.every(Boolean) && swept;
  }

  /**
   * With no events wanted (turned off, or deleting), callbacks at our uri that the instance does not
   * know are removed too: a registration the provider accepted but whose answer was lost made them.
   */
  async function removeStrays(): Promise<boolean> {
    if (!state.strayCheckDue || wantedEvents().length || !spec.events.webhookUri) return true;
    // Histories recorded before the sweep existed replay without it.
    if (!patched('remove-stray-callbacks')) return true;
    const uri = spec.events.webhookUri;
    const ok = await attempt('removing stray callbacks', async () => {
      await removeStrayCallbacks.executeWithOptions({ ...providerOptions, summary: 'remove stray callbacks' }, [
        { ...providerInput(), uri, keep: Object.keys(state.callbacks) },
      ]);
    });
    if (ok) state.strayCheckDue = false;
    return ok;
  }

  /**
   * Offers each unverified callback's candidate verifiers to the provider, newest first. The one it
   * accepts becomes the callback's verifier; ones it refuses are forgeries (or stale) and are dropped.
   */
  async function confirmCallbacks(): Promise<boolean> {
    const results = await Promise.all(
      Object.entries(state.callbacks)
        .filter(([, c]) => !c.verified && c.candidates?.length)
        .map(([callbackId, c]) =>
          attempt(`verifying ${c.event}`, async () => {
            while (!c.verified && c.candidates?.length) {
              const verifier = c.candidates[c.candidates.length - 1]!;
              try {
                await confirmCallback.executeWithOptions({ ...providerOptions, summary: `verify ${c.event}` }, [
                  { ...providerInput(), callbackId, verifier },
                ]);
              } catch (err) {
                if (!refusedByProvider(err)) throw err;
                log.warn('the provider refused a verifier; dropping it', { callbackId, event: c.event });
                c.candidates = c.candidates.filter((v) => v !== verifier);
                continue;
              }
              c.verifier = verifier;
              c.verified = true;
              c.candidates = [];
            }
            // Every candidate was refused (forged, or stale): wait for the genuine post, or ask for it again.
            if (!c.verified) c.awaitingSinceMs = Date.now();
          }),
        ),
    );
    return results.every(Boolean);
  }

  /**
   * Asks the provider to send again the verification of callbacks that waited in vain: a post lost on
   * the way, or pushed out by forged ones, would otherwise leave the callback unverified for good.
   */
  async function requestResends(): Promise<void> {
    const now = Date.now();
    await Promise.all(
      Object.entries(state.callbacks)
        .filter(([, c]) => resendDueAtMs(c) <= now)
        .map(async ([callbackId, c]) => {
          await attempt(`asking again for the verification of ${c.event}`, () =>
            resendVerification.executeWithOptions({ ...providerOptions, summary: `resend verification ${c.event}` }, [
              { ...providerInput(), callbackId },
            ]),
          );
          c.resends = (c.resends ?? 0) + 1;
          c.awaitingSinceMs = Date.now();
        }),
    );
  }

  /** `untilDone`: deleting, so everything accepted goes now (no continue-as-new follows). */
  async function dispatchPending(untilDone = false): Promise<void> {
    while (state.pendingWebhooks.length) {
      const count = Math.min(state.pendingWebhooks.length, WEBHOOKS_PER_DISPATCH);
      const target = callbackTarget();
      if (spec.events.enabled && target) {
        // The activity asks for the webhooks by number: they stay pending (and queryable) until it is done.
        await dispatchWebhooks.executeWithOptions({ ...dispatchOptions, summary: `deliver ${count} webhook(s)` }, [
          {
            instance: instanceRef(),
            target,
            pending: { from: firstPendingWebhook(), count },
            ...(spec.events.ordered ? { ordered: true } : {}),
          },
        ]);
      } else {
        log.info('events are off: dropping webhooks that arrived anyway', { count });
      }
      state.pendingWebhooks.splice(0, count);
      // Under a steady flood the pending list never empties: without this the run would never reach its
      // continue-as-new below and its history would grow until Temporal terminates it. What is left
      // pending rides the continue-as-new. (Runs recorded before this kept dispatching; they replay so.)
      if (!untilDone && state.pendingWebhooks.length && historyFull() && patched('continue-as-new-under-flood')) return;
    }
  }

  async function refreshIfDue(): Promise<void> {
    const at = refreshAtMs();
    if (at === undefined || Date.now() < at) return;
    await attempt('refreshing tokens', async () => {
      await refreshTokens.executeWithOptions({ ...providerOptions, summary: 'refresh OAuth tokens' }, [
        { ...providerInput(), workflowId: workflowInfo().workflowId },
      ]);
    });
  }

  const needsConfirming = () => Object.values(state.callbacks).some((c) => !c.verified && c.candidates?.length);

  // --- main loop -------------------------------------------------------------------------------

  const historyFull = () => {
    const info = workflowInfo();
    return (
      info.continueAsNewSuggested ||
      info.historyLength >= (input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS) ||
      webhookUpdatesThisRun >= maxWebhookUpdates
    );
  };

  let retryAtMs = Infinity;
  // Recovering: healthy again after a while with no failure, even if no attempt reports it.
  const endpointDueMs = () =>
    endpointCommands && state.endpoint?.state === 'recovering' ? recoveredAtMs(state.endpoint, limits) : Infinity;
  let endpointArmedMs = Infinity;
  while (!deleting) {
    endpointArmedMs = endpointDueMs();
    const wakeAt = Math.min(
      polling() ? (state.nextPollAtMs ?? Infinity) : Infinity,
      webhooks() ? (refreshAtMs() ?? Infinity) : Infinity,
      webhooks() ? nextResendAtMs() : Infinity,
      retryAtMs,
      endpointArmedMs,
    );
    const hasWork = () =>
      deleting ||
      !reconciled ||
      state.pendingWebhooks.length > 0 ||
      (needsConfirming() && retryAtMs === Infinity) ||
      endpointDueMs() !== endpointArmedMs ||
      // Signals grow history while we wait; waking for the suggestion keeps any instance under the limit.
      historyFull();
    if (!hasWork()) {
      if (wakeAt === Infinity) await condition(hasWork);
      else if (wakeAt > Date.now()) await condition(hasWork, wakeAt - Date.now());
    }
    if (deleting) break;
    if (state.endpoint?.state === 'recovering' && Date.now() >= recoveredAtMs(state.endpoint, limits))
      state.endpoint = endpointHealed(state.endpoint, Date.now());

    if (webhooks()) {
      await refreshIfDue();
      const complete = await reconcileCallbacks();
      // A provider that refused a registration or a removal is asked again (in a minute by default).
      retryAtMs = complete ? Infinity : Date.now() + (input.providerRetrySeconds ?? DEFAULT_PROVIDER_RETRY_SECONDS) * 1000;
      await requestResends();
      await dispatchPending();
    }
    reconciled = true;
    if (polling() && Date.now() >= (state.nextPollAtMs ?? Infinity)) await pollCycle();

    if (!deleting && historyFull()) {
      await condition(allHandlersFinished);
      if (!deleting)
        await continueAsNew<typeof instanceWorkflow>({ ...input, spec, state: { ...state, recentWebhooks: recentWebhooks.toJSON() } });
    }
  }

  // Deleted: deliver what was already accepted, then take the callbacks down at the provider.
  await dispatchPending(true);
  if (webhooks()) {
    state.strayCheckDue = true;
    await reconcileCallbacks();
  }
  reconciled = true;
  stopped = true;
  await condition(allHandlersFinished);
}
