import type { PollResource, VendorType } from '../elements/element';

/** What the instance workflow is started with: everything it needs, fixed at creation. */
export interface InstanceSpec {
  id: number;
  accountId: string;
  tokenHash: string;
  name: string;
  tags: string[];
  elementKey: string;
  createdDate: string;
  /** The configuration as given, secrets included: the element needs its credentials to poll. */
  configuration: Record<string, unknown>;
  /** The same with secrets masked: what queries and the API show. */
  publicConfiguration: Record<string, unknown>;
  /** The element's credential keys of `configuration` (secrets sealed): all that provider calls get. */
  credentials: Record<string, unknown>;
  events: EventsSettings;
}

export interface EventsSettings {
  enabled: boolean;
  vendorType?: VendorType;
  callbackUrl?: string;
  signatureKey?: string;
  /** Standard Webhooks secret (`whsec_…`): deliveries then also carry webhook-id/-timestamp/-signature. */
  webhookSecret?: string;
  refreshIntervalMinutes?: number;
  /** Polling resources after defaults were applied and `event.objects` narrowed them. */
  resources: Record<string, PollResource>;
  /** Provider events to register callbacks for (webhook elements). */
  webhookEvents: string[];
  /** Where the provider sends webhooks: PUBLIC_URL/elements/api-v2/events/<element>/<id>. */
  webhookUri?: string;
  /** Signing keys a PATCH replaced (sealed), still used beside the new ones until `untilMs`. */
  previousKeys?: PreviousKeys;
  /** `event.notification.ordered`: one notification at a time, in the order the changes happened. */
  ordered?: boolean;
  /** `event.notification.maxRate`: POSTs per second to the callback at most (per worker process). */
  maxRate?: number;
}

/** Replaced signing keys kept for a grace period, so receivers can switch keys without losing events. */
export interface PreviousKeys {
  signatureKey?: string;
  webhookSecret?: string;
  untilMs: number;
}

export interface ResourceStatus {
  /** End of the last poll window that was fully handed to delivery (ISO). */
  watermark: string;
  lastPollAt?: string;
  lastEvents?: number;
  lastError?: string;
}

/** The instance as the API shows it: no secrets. */
export interface InstanceView {
  id: number;
  name: string;
  tags: string[];
  element: { key: string };
  createdDate: string;
  eventsEnabled: boolean;
  configuration: Record<string, unknown>;
  /** `GET /instances/{id}` only: the instance's workflow in the Temporal UI, when TEMPORAL_UI_URL is known. */
  temporalUiUrl?: string;
  /** `GET /instances?include=summary` only. */
  summary?: InstanceSummary;
  status?: {
    polls: number;
    nextPollAt?: string;
    resources: Record<string, ResourceStatus>;
    callbacks?: { wanted: number; registered: number; verified: number };
    /** `lastReceivedAt`: when the last webhook (a repeat included) arrived. */
    webhooks?: { received: number; pending: number; repeats: number; lastReceivedAt?: string };
    tokensExpireAt?: string;
    lastError?: string;
    /** Why events were turned off by the system (a callback that answered 410 Gone, or failed for days). */
    eventsDisabled?: string;
    /** The callback URL's health (instances with a callback URL). */
    endpoint?: EndpointStatus;
  };
}

/** `status.endpoint`: whether attempts go to the callback URL, pause for probes, or drain a backlog. */
export interface EndpointStatus {
  state: 'healthy' | 'failing' | 'open' | 'recovering';
  since: string;
  /** The first failure of the current run of failures. */
  failingSince?: string;
  openedAt?: string;
  /** Open: when the next probe may go. */
  nextProbeAt?: string;
  /** Failed attempts in the current run of failures. */
  failures: number;
  /** Up to 5 of the notifications that failed in it. */
  failedEventIds: string[];
  lastFailureAt?: string;
  lastSuccessAt?: string;
}

/** What the console's list shows of each instance beside its view: recent activity and failures. */
export interface InstanceSummary {
  /** The latest poll of any resource (polling instances). */
  lastPollAt?: string;
  /** The last webhook received (webhook instances). */
  lastWebhookAt?: string;
  /** Notifications whose delivery failed for good (redeliverable). */
  failedDeliveries: number;
  /** Why the live figures are missing (the instance did not answer), when they are. */
  unavailable?: string;
}
