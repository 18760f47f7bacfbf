// What the console reads from the API (README "API"; contract 1 for elements). Written out here
// rather than imported from src/, so the console's bundle and type check stay apart from the server's.

export interface DatesConfiguration {
  updatedDateField?: string;
  updatedDateFormat?: string;
  updatedDateTimezone?: string;
  createdDateField?: string;
  createdDateFormat?: string;
  createdDateTimezone?: string;
}

export interface PollResource {
  url: string;
  idField?: string;
  datesConfiguration?: DatesConfiguration;
  pollOverlap?: number;
  [more: string]: unknown;
}

export interface ConfigurationField {
  name: string;
  label: string;
  type: 'string' | 'password' | 'number' | 'boolean' | 'url';
  required: boolean;
  secret: boolean;
  default?: string | number | boolean;
  description: string;
}

export type ElementAuthentication =
  | { type: 'apiKey' }
  | {
      type: 'oauth2';
      oauthUrl: string;
      apiKeyField: string;
      apiSecretField: string;
      callbackUrlField: string;
      providerData: string[];
    };

export interface ElementDescription {
  id: number;
  key: string;
  name: string;
  description: string;
  vendorTypes: ('polling' | 'webhooks')[];
  authentication: ElementAuthentication;
  configuration: ConfigurationField[];
  events: {
    polling?: { resources: Record<string, PollResource> };
    webhooks?: { objects: string[]; defaultObjects: string[]; actions: string[] };
  };
}

export interface ResourceStatus {
  watermark: string;
  lastPollAt?: string;
  lastEvents?: number;
  lastError?: string;
}

export interface InstanceSummary {
  lastPollAt?: string;
  lastWebhookAt?: string;
  failedDeliveries: number;
  unavailable?: string;
}

export interface Instance {
  id: number;
  name: string;
  tags: string[];
  element: { key: string };
  createdDate: string;
  eventsEnabled: boolean;
  configuration: Record<string, unknown>;
  temporalUiUrl?: string;
  summary?: InstanceSummary;
  status?: {
    polls: number;
    nextPollAt?: string;
    resources: Record<string, ResourceStatus>;
    callbacks?: { wanted: number; registered: number; verified: number };
    webhooks?: { received: number; pending: number; repeats: number; lastReceivedAt?: string };
    tokensExpireAt?: string;
    lastError?: string;
    eventsDisabled?: string;
  };
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed' | 'gone' | 'cancelled';
export const DELIVERY_STATUSES: DeliveryStatus[] = ['pending', 'delivered', 'failed', 'gone', 'cancelled'];

export interface NotificationListItem {
  eventId: string;
  status: DeliveryStatus;
  events?: number;
  createdDate?: string;
}

export interface DeliveryAttempt {
  attempt: number;
  at: string;
  durationMs: number;
  url?: string;
  status?: number;
  error?: string;
}

export interface DeliveryRecord {
  eventId: string;
  instanceId: number;
  status: DeliveryStatus;
  events: number;
  createdDate: string;
  deliveredDate?: string;
  nextAttemptAt?: string;
  attempts: DeliveryAttempt[];
}

export interface FieldError {
  path: string;
  message: string;
}
