import type { OAuthTokens, PollResource } from '../elements/element';
import type { InstanceSpec, PreviousKeys, ResourceStatus } from '../instances/types';
import type { OverlapState, SeenEntry } from '../polling/overlap';

/** Where an instance's notifications go and what signs them: its callback, the keys sealed. */
export interface CallbackTarget {
  url: string;
  /** Sealed `event.notification.signature.key`. */
  signatureKey?: string;
  /** Sealed Standard Webhooks secret (`whsec_…`). */
  webhookSecret?: string;
  /** Keys a PATCH replaced, still signed with beside the new ones until their grace period ends. */
  previousKeys?: PreviousKeys;
}

/**
 * A notification as handed to delivery. The callback fields are the instance's target at hand-off,
 * used by the first attempt; later attempts and redeliveries use the instance's target at that time.
 * (Flat rather than a CallbackTarget: running delivery workflows were started with this shape.)
 */
export interface DeliveryInput {
  eventId: string;
  instanceId: number;
  elementKey: string;
  accountId: string;
  callbackUrl: string;
  signatureKey?: string;
  webhookSecret?: string;
  previousKeys?: PreviousKeys;
  /** The schedule: the first retry after this many seconds, then four times longer each time. */
  firstRetrySeconds: number;
  maxAttempts: number;
  /** The exact bytes the callback receives (and the signature covers), serialized once. */
  body: string;
  events: number;
  /** Its first attempt, when a delivery batch made it: the schedule goes on from there. */
  carried?: CarriedAttempt;
}

/** `cancelled`: the instance was deleted while the notification waited for a retry. */
export type DeliveryStatusName = 'pending' | 'delivered' | 'failed' | 'gone' | 'cancelled';

/**
 * A first attempt made by a delivery batch that did not succeed: the notification's own workflow
 * carries on from it, its schedule's next wait first.
 */
export interface CarriedAttempt {
  /** The attempts made so far (one, or an ordered batch's retries of its head). */
  attempts: DeliveryAttempt[];
  /** The callback's Retry-After, which the next wait honours. */
  retryAfterMs?: number;
  /** The instance was deleted before the notification's turn: it will not be sent. */
  cancelled?: boolean;
  /** Not attempted: the endpoint's circuit was open (or its rate spent); the next attempt waits until then. */
  heldUntilMs?: number;
  /** When the notification was handed to delivery (the batch's start), for its record. */
  createdDate: string;
}

/** One notification of a batch: the exact bytes the callback receives, and how many events they hold. */
export interface BatchedNotification {
  eventId: string;
  body: string;
  events: number;
}

/**
 * Notifications handed to delivery together: one workflow makes all their first attempts at once,
 * and only those that fail move on to a workflow (and retry schedule) of their own.
 */
export interface DeliveryBatchInput {
  instanceId: number;
  elementKey: string;
  accountId: string;
  target: CallbackTarget;
  firstRetrySeconds: number;
  maxAttempts: number;
  notifications: BatchedNotification[];
  /** When the batch was handed to delivery (epoch ms), for the delivery latency metric; absent in batches from before it. */
  handedAtMs?: number;
  /**
   * `event.notification.ordered`: the batch waits for its turn in the instance's lane, then delivers
   * one notification at a time, in order, retrying the head while the rest wait.
   */
  ordered?: boolean;
}

/** An ordered instance's lane: the batches waiting for their turn, carried over continue-as-new. */
export interface DeliveryLaneInput {
  instanceId: number;
  queue?: string[];
  done?: string[];
  /** Batches that joined recently, with when: a retried hand-off's second join is ignored. */
  joined?: [string, number][];
}

/** What one first attempt of a batch came to. */
export interface FirstAttemptOutcome {
  eventId: string;
  delivered: boolean;
  attempt: DeliveryAttempt;
  retryAfterMs?: number;
  /** Not attempted: the instance was deleted (or has no callback any more). */
  cancelled?: boolean;
  /** Not attempted: the endpoint's gate holds it until then (circuit open, or its rate spent). Nothing goes on record. */
  heldUntilMs?: number;
}

/** What a batch came to: how many of its notifications were delivered, and how many moved on to retries. */
export interface DeliveryBatchResult {
  delivered: number;
  retrying: number;
}

export interface DeliveryAttempt {
  attempt: number;
  at: string;
  durationMs: number;
  /** Where the attempt went (the instance's callback URL at the time). */
  url?: string;
  /** The callback's HTTP status, when it answered. */
  status?: number;
  error?: string;
}

/** A notification's durable record, as the events API shows it. */
export interface DeliveryRecord {
  eventId: string;
  instanceId: number;
  status: DeliveryStatusName;
  events: number;
  createdDate: string;
  deliveredDate?: string;
  nextAttemptAt?: string;
  attempts: DeliveryAttempt[];
}

export interface DeliveryResult {
  status: DeliveryStatusName;
  eventId: string;
  httpStatus?: number;
  error?: string;
}

/** What one delivery attempt's failure carries back to the workflow. */
export interface AttemptFailureDetails {
  status?: number;
  retryAfterMs?: number;
  url?: string;
  /** The instance is gone: no attempt will be made again. */
  instanceDeleted?: boolean;
  /** Not attempted: the endpoint's gate holds the attempt until then; it does not count. */
  heldUntilMs?: number;
}

/** What an attempt reads of its instance: the current target, or that the instance was deleted. */
export interface DeliveryTargetState {
  deleted: boolean;
  target?: CallbackTarget;
}

/** What a notification says about its instance. */
export type InstanceRef = Pick<InstanceSpec, 'id' | 'name' | 'tags' | 'elementKey' | 'accountId'>;

export interface PollInput {
  instance: InstanceRef;
  /** The element's credential keys of the configuration, secrets sealed. */
  credentials: Record<string, unknown>;
  target: CallbackTarget;
  resourceName: string;
  resource: PollResource;
  /** The watermark: where the new part of the window starts (epoch ms). */
  windowStartMs: number;
  windowEndMs: number;
  /** Where reading starts, at or before windowStartMs: the overlap re-read. Absent: windowStartMs. */
  overlapStartMs?: number;
  /** Changes reported already whose dates the re-read covers: read again, they are skipped. */
  seen?: SeenEntry[];
  /** Delivered in order, through the instance's lane. */
  ordered?: boolean;
  /** When this poll was due (epoch ms), for the poll lag metric; absent in polls scheduled before it. */
  dueAtMs?: number;
}

export interface PollResult {
  pages: number;
  records: number;
  events: number;
  notifications: number;
  skipped: number;
  /** Of the events, those dated before the watermark: found only by the overlap re-read. */
  late?: number;
  /** Records read again that were reported already (same id and updated date). */
  suppressed?: number;
  /** The reported changes a later poll's re-read will cover, to be skipped then. */
  seen?: SeenEntry[];
}

/**
 * A provider webhook as the receiver accepted it. `key` (a digest of the element's delivery key) is
 * set by the receiver; the instance replaces `id`, which the eventId is derived from, on first
 * sighting with one made from the key. (Receipts signalled before keys existed carry only the random `id`.)
 */
export interface WebhookReceipt {
  id?: string;
  key?: string;
  receivedAt: string;
  fields: Record<string, string>;
  /**
   * The W3C traceparent of the request that brought it, when tracing is on: the instance hands the
   * webhook on later, from its own loop, and delivery is traced under this request's trace.
   */
  traceparent?: string;
}

export interface CallbackState {
  event: string;
  verified: boolean;
  /** Sealed; set only once the provider accepted it, and the only kind signatures are checked with. */
  verifier?: string;
  /** Sealed verifiers from verification posts, not yet offered to the provider; newest last. */
  candidates?: string[];
  /** Since when it has waited for a verification post (registration or the last resend). */
  awaitingSinceMs?: number;
  /** Resends asked of the provider so far. */
  resends?: number;
}

/** The instance's side of the webhook receiver's checks. */
export interface ReceiverState {
  /** Confirmed verifiers, sealed, by provider event. */
  verifiers: Record<string, string[]>;
  /** Callback ids already verified: their verification posts change nothing. */
  verified: string[];
  /** Callback ids registered and still waiting for their verification post. */
  awaiting: string[];
  /** A registration is in flight: its verification may arrive before its callback id is known here. */
  registering: boolean;
}

/** The failure type of a provider call the provider refused outright (a 4xx): retrying cannot help. */
export const PROVIDER_REFUSED = 'ProviderRefused';

/** Carried across continue-as-new. */
export interface InstanceState {
  watermarks: Record<string, ResourceStatus>;
  /**
   * Per resource, what its overlap re-read must not report again. Apart from `watermarks`, so the
   * API's view of the resources stays small; absent in state carried from runs before it existed.
   */
  overlaps?: Record<string, OverlapState>;
  polls: number;
  nextPollAtMs?: number;
  /** The element's provider state (account ids, OAuth tokens), sealed. */
  provider: string;
  /** When the provider's OAuth tokens were issued and expire, for scheduling refreshes. */
  tokenTimes?: TokenTimes;
  /** Registered provider callbacks by callback id. */
  callbacks: Record<string, CallbackState>;
  /** Candidate verifiers (sealed) that arrived before their registration finished, by callback id. */
  earlyVerifiers: Record<string, string[]>;
  pendingWebhooks: WebhookReceipt[];
  webhooksReceived: number;
  /** When the last webhook arrived (workflow time), for the console's list; absent before the first. */
  lastWebhookAtMs?: number;
  /** Webhook keys first seen within the repeat window, with when (workflow time), oldest first. */
  recentWebhooks?: [string, number][];
  /** Webhooks acknowledged as repeats of one already received, and dropped. */
  webhooksRepeated?: number;
  lastError?: string;
  eventsDisabled?: string;
  /** Events were turned off or the instance is being deleted: look for callbacks of ours it does not know. */
  strayCheckDue?: boolean;
  /** The health of the instance's callback URL; absent until an outcome is reported (healthy). */
  endpoint?: EndpointHealth;
}

/**
 * Endpoint health of an instance's callback URL (one per instance). `healthy`: attempts go as
 * scheduled. `failing`: every attempt failed since `failingSinceMs`. `open`: failing long enough,
 * across enough notifications; attempts pause but for one probe per probe interval. `recovering`:
 * a probe was accepted; attempts go at a bounded drain rate until a while passes with no failure.
 */
export type EndpointStateName = 'healthy' | 'failing' | 'open' | 'recovering';

export interface EndpointHealth {
  state: EndpointStateName;
  /** When it entered `state` (workflow time). */
  sinceMs: number;
  /** The first failure of the current run of failures (worker time, as reported). */
  failingSinceMs?: number;
  /** Distinct notifications that failed in this run, up to ENDPOINT_FAILED_IDS_KEPT. */
  failedEventIds: string[];
  /** Failed attempts in this run of failures. */
  failures: number;
  lastFailureMs?: number;
  lastSuccessMs?: number;
  /** When the circuit opened. */
  openedAtMs?: number;
  /** The wait before the next probe is granted, doubling after each probe up to the maximum. */
  probeIntervalMs?: number;
  /** When the next probe may go. */
  nextProbeAtMs?: number;
  /** When the last probe was granted. */
  probeGrantedAtMs?: number;
}

/** Attempt outcomes of one instance, aggregated by a worker (at most one signal a second per instance). */
export interface EndpointOutcomes {
  failures: number;
  successes: number;
  /** Up to 5 distinct eventIds among the failures. */
  failedEventIds: string[];
  firstFailureMs?: number;
  lastFailureMs?: number;
  lastSuccessMs?: number;
}

/** What a worker's gate reads of an instance before an attempt (the endpoint query). */
export interface EndpointGateState {
  state: EndpointStateName;
  nextProbeAtMs?: number;
  probeGrantedAtMs?: number;
  /** `event.notification.maxRate`: POSTs per second, at most. */
  maxRate?: number;
}

/** Endpoint-health thresholds; defaults in the instance workflow, tests shorten them. */
export interface EndpointThresholds {
  /** The circuit opens after this long of only failures (across at least 5 notifications). */
  openAfterSeconds?: number;
  /** The first probe interval; it doubles after each probe up to `maxProbeSeconds`. */
  probeSeconds?: number;
  maxProbeSeconds?: number;
  /** Failing this long: events are turned off. */
  disableAfterHours?: number;
}

export interface TokenTimes {
  issuedAtMs: number;
  expiresAtMs: number;
}

/** New provider state after a token refresh: sealed, with its times in the clear. */
export interface TokensIssued extends TokenTimes {
  provider: string;
}

export interface ProviderCallInput {
  instanceId: number;
  elementKey: string;
  /** The element's credential keys of the configuration, secrets sealed. */
  credentials: Record<string, unknown>;
  /** Sealed provider state. */
  provider: string;
}

/** Callbacks at `uri` not in `keep` are removed at the provider. */
export interface RemoveStraysInput extends ProviderCallInput {
  uri: string;
  keep: string[];
  /** The instance's workflow was terminated: its tokens may be refreshed, nobody else holds them. */
  instanceClosed?: boolean;
}

/** Webhooks still pending at the instance: `count` of them from number `from`, numbered in arrival order. */
export interface PendingWebhooksRange {
  from: number;
  count: number;
}

export interface DispatchWebhooksInput {
  instance: InstanceRef;
  target: CallbackTarget;
  /** Hand-offs scheduled before `pending` existed carry the webhooks themselves. */
  receipts?: WebhookReceipt[];
  /**
   * The webhooks to ask the instance for (`pendingWebhooksQuery`): they are in its history once, in their
   * signals, not a second time in this input. A run's history then fills half as fast under a flood.
   */
  pending?: PendingWebhooksRange;
  /** Delivered in order, through the instance's lane. */
  ordered?: boolean;
}

export interface RefreshTokensInput extends ProviderCallInput {
  /** The activity hands the new tokens to this workflow by signal before it returns. */
  workflowId: string;
}

export type { OAuthTokens };

export interface InstanceWorkflowInput {
  spec: InstanceSpec;
  /** Absent at creation but for the element's provider state; complete after continue-as-new. */
  state?: Partial<InstanceState>;
  /** Tests lower this to exercise continue-as-new; production relies on the server's suggestion. */
  maxHistoryEvents?: number;
  /** Webhook updates a run takes before it continues as new (absent: 1,500); tests lower it. */
  maxWebhookUpdates?: number;
  /** How long a callback waits for its verification post before the provider is asked to resend it. */
  verificationResendSeconds?: number;
  /** How long after a refused callback registration or removal the provider is asked again. */
  providerRetrySeconds?: number;
  /** How long a webhook's key is remembered: the same webhook again within it is a repeat. */
  webhookRepeatWindowSeconds?: number;
  /** Endpoint-health thresholds (absent: the defaults). */
  endpointHealth?: EndpointThresholds;
}
