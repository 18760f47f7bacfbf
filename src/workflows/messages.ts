import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { InstanceSpec, InstanceView } from '../instances/types';
import type {
  DeliveryRecord,
  DeliveryTargetState,
  EndpointGateState,
  EndpointOutcomes,
  PendingWebhooksRange,
  ReceiverState,
  RemoveStraysInput,
  TokensIssued,
  WebhookReceipt,
} from './types';

// Declared once, used by the workflows and the API alike.
export const getInstanceQuery = defineQuery<InstanceView>('getInstance');
/** Stops polling (cancelling a poll in flight) and lets the workflow end; returns once it is stopped. */
export const deleteInstanceUpdate = defineUpdate<void>('deleteInstance');

/** Replaces the instance's spec (validated by the API) and returns once it is in effect. */
export const configureUpdate = defineUpdate<InstanceView, [InstanceSpec]>('configure');
/** The full spec, secrets included: for the API's PATCH, never shown to callers. */
export const getSpecQuery = defineQuery<InstanceSpec>('getSpec');

/** Provider webhooks the receiver accepted, when their update (below) went unanswered; 2xx only once it is durable. */
export const webhooksSignal = defineSignal<[WebhookReceipt[]]>('webhooks');
/**
 * The same webhooks as an update, answered once the instance holds them (durable in its history). The
 * receiver tries this first: an update that arrives while the instance continues as new is moved to the
 * new run by the server, where a signal would fail that task and make the worker replay the whole run.
 * `sentAtMs` (the receiver's clock) lets the instance refuse a copy so late that the receiver has long
 * since sent it again as a signal.
 */
export const acceptWebhooksUpdate = defineUpdate<void, [{ receipts: WebhookReceipt[]; sentAtMs: number }]>('acceptWebhooks');
/** The pending webhooks a hand-off delivers (undefined when they are no longer pending). */
export const pendingWebhooksQuery = defineQuery<WebhookReceipt[] | undefined, [PendingWebhooksRange]>('pendingWebhooks');
/** The provider's callback verification handshake. */
export const callbackVerificationSignal = defineSignal<[{ callbackId: string; verifier: string }]>('callbackVerification');
/** New OAuth tokens, signalled by the refresh activity before it returns so a crash cannot lose them. */
export const tokensIssuedSignal = defineSignal<[TokensIssued]>('tokensIssued');
/** A callback answered 410 Gone: the instance turns its events off if that is still its callback. */
export const callbackGoneSignal = defineSignal<[{ callbackUrl: string; eventId: string; at: string }]>('callbackGone');

/** Where a notification's retry goes now, and whether the instance is deleted (works on a closed instance too). */
export const deliveryTargetQuery = defineQuery<DeliveryTargetState>('deliveryTarget');

/** What removing the instance's provider callbacks takes; asked of a terminated instance (undefined: none to remove). */
export const cleanupInputQuery = defineQuery<RemoveStraysInput | undefined>('cleanupInput');

/** A notification's record; works on finished deliveries too. */
export const getDeliveryQuery = defineQuery<DeliveryRecord>('getDelivery');
/** The record of one notification of a delivery batch, or undefined when the batch does not hold it. */
export const getBatchedDeliveryQuery = defineQuery<DeliveryRecord | undefined, [string]>('getBatchedDelivery');
/** An ordered delivery batch joins its instance's lane (sent with start by the hand-off). */
export const enqueueBatchSignal = defineSignal<[string]>('enqueueBatch');
/** The lane gives an ordered batch its turn. */
export const proceedSignal = defineSignal('proceed');
/** An ordered batch tells the lane it is done: the next one may go. */
export const batchDoneSignal = defineSignal<[string]>('batchDone');
/** Sends a failed notification again, on the full schedule. */
export const redeliverUpdate = defineUpdate<DeliveryRecord>('redeliver');

/** What the webhook receiver checks posts against: confirmed verifiers (sealed) and callbacks awaiting one. */
export const receiverStateQuery = defineQuery<ReceiverState>('receiverState');

/** A new Element token (its hash): the old one stops working once this returns. */
export const rotateTokenUpdate = defineUpdate<void, [{ tokenHash: string }]>('rotateToken');

/** Attempt outcomes at the instance's callback, aggregated by a worker (at most one a second per instance). */
export const endpointOutcomesSignal = defineSignal<[EndpointOutcomes]>('endpointOutcomes');
/** What a worker's gate needs before an attempt: the endpoint's state, the next probe, maxRate. */
export const endpointGateQuery = defineQuery<EndpointGateState>('endpointGate');
/** Grants the probe of an open circuit, once per probe interval (rejected when none is due). */
export const endpointProbeUpdate = defineUpdate<EndpointGateState>('endpointProbe');
