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
  status?: {
    polls: number;
    nextPollAt?: string;
    resources: Record<string, ResourceStatus>;
    callbacks?: { wanted: number; registered: number; verified: number };
    webhooks?: { received: number; pending: number; repeats: number };
    tokensExpireAt?: string;
    lastError?: string;
    /** Why events were turned off by the system (a callback that answered 410 Gone). */
    eventsDisabled?: string;
  };
}
