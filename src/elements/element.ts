import type { z } from 'zod';
import type { DatesConfiguration } from '../polling/classify';

export type VendorType = 'polling' | 'webhooks';

/** One entry of `event.poller.configuration`, as Cloud Elements defines it. */
export interface PollResource {
  url: string;
  idField?: string;
  datesConfiguration?: DatesConfiguration;
  pageSize?: number;
  pollDelay?: number;
  /** Seconds re-read behind the watermark each poll, for records the provider's search shows late. */
  pollOverlap?: number;
  filterByUpdatedDate?: boolean;
  createdCheckTolerance?: number;
}

/**
 * Provider base URLs by setting name (each element declares its own, e.g. `<PROVIDER>_API_URL`, with a
 * default), so tests and deployments can point elements at other hosts.
 */
export type ProviderUrls = Readonly<Record<string, string>>;

/** One of an element's own configuration keys: declared once, it gives validation, redaction and forms. */
export interface ConfigurationKey {
  /** The key in `configuration`, as Cloud Elements names it. */
  name: string;
  label: string;
  type: 'string' | 'password' | 'number' | 'boolean' | 'url';
  required: boolean;
  /** Redacted in every answer and log, sealed in Temporal. */
  secret: boolean;
  default?: string | number | boolean;
  description: string;
  /** Longest value accepted (strings); 1024 unless given. */
  maxLength?: number;
}

export interface ElementExample {
  summary: string;
  name: string;
  providerData?: Record<string, unknown>;
  configuration: Record<string, unknown>;
}

/** How an element's account is connected: Cloud Elements' OAuth dance, or a key given in the configuration. */
export interface OAuthStep {
  /** Configuration keys that feed the authorize URL and the code exchange. */
  apiKeyField: string;
  apiSecretField: string;
  callbackUrlField: string;
  /** The provider's consent page for these parameters. */
  authorizeUrl(args: {
    urls: ProviderUrls;
    apiKey: string;
    callbackUrl: string;
    state?: string;
    scope?: string;
    siteAddress?: string;
  }): string;
}

export interface FetchChangesArgs {
  urls: ProviderUrls;
  configuration: Record<string, unknown>;
  resourceName: string;
  resource: PollResource;
  /** Start of the poll window, epoch ms: the value the URL's date templates are filled with. */
  sinceMs: number;
  /** Called between provider calls so a long poll shows progress and notices cancellation. */
  progress?: (detail: { pages: number; records: number }) => void;
  /** Told of each wait before a provider call is tried again (a rate limit, a fault): what was decided. */
  onRetry?: (info: { attempt: number; waitMs: number; reason: string }) => void;
  /** Told when the provider's list shifted between two pages and the read starts again. */
  onReread?: (info: { rereads: number; skip: number }) => void;
  signal?: AbortSignal;
}

export interface PollingElement {
  defaultResources: Record<string, PollResource>;
  /** The element's `pollOverlap` (seconds) for every resource that sets none, its own ones included. */
  defaultPollOverlap?: number;
  /** Problems with a resource, found at creation so they are a 400 rather than a failing poll later. */
  resourceProblems(name: string, resource: PollResource): string[];
  /** Reads every page of records changed since `sinceMs`, one page at a time. */
  fetchChanges(args: FetchChangesArgs): AsyncIterable<unknown[]>;
}

/**
 * What an element keeps about its provider account (ids, OAuth tokens), held sealed by the instance
 * workflow. OAuth elements keep their tokens under `tokens`, which tells the workflow when to refresh.
 */
export type ProviderState = Record<string, unknown> & { tokens?: OAuthTokens };

export interface OAuthTokens {
  accessToken: string;
  refreshToken: string;
  issuedAtMs: number;
  expiresAtMs: number;
}

export interface ConnectArgs {
  urls: ProviderUrls;
  configuration: Record<string, unknown>;
  providerData?: Record<string, unknown>;
  signal?: AbortSignal;
}

/** Everything a provider call made after creation needs. */
export interface ProviderContext {
  urls: ProviderUrls;
  configuration: Record<string, unknown>;
  state: ProviderState;
  signal?: AbortSignal;
}

export type ParsedWebhook =
  { kind: 'verification'; callbackId: string; verifier: string } | { kind: 'notification'; event: string; fields: [string, string][] };

export interface StandardizedWebhook {
  objectType: string;
  eventType: 'CREATED' | 'UPDATED' | 'DELETED' | 'UNKNOWN';
  objectId: string;
}

export interface WebhookElement {
  maxEventsPerNotification: number;
  /** Objects `event.objects` may name, those watched when it is absent, and the actions watched on each. */
  objects: readonly string[];
  defaultObjects: readonly string[];
  actions: readonly string[];
  /** The provider events to register: the defaults, narrowed to `event.objects` when it is given. */
  eventsFor(objects: string[] | undefined): { events: string[]; unknown: string[] };
  register(ctx: ProviderContext, event: string, uri: string): Promise<{ callbackId: string }>;
  confirm(ctx: ProviderContext, callbackId: string, verifier: string): Promise<void>;
  /** The account's callbacks that post to `uri` (ours: the uri names the instance). */
  callbacksAt(ctx: ProviderContext, uri: string): Promise<{ callbackId: string; event: string }[]>;
  /** Asks the provider to send a callback's verification again (the first was lost or forged over). */
  requestVerification(ctx: ProviderContext, callbackId: string): Promise<void>;
  deregister(ctx: ProviderContext, callbackId: string): Promise<void>;
  /** Reads a request the provider sent to our receiver; a string is what is wrong with it. */
  parse(rawBody: string, contentType: string | undefined): ParsedWebhook | string;
  /**
   * A function that tells whether a verifier signed this webhook, or undefined when the signature
   * cannot be one the provider makes (checked before any other work). The signed message is built
   * once, so trying many verifiers costs one HMAC each.
   */
  signatureChecker(
    webhook: ParsedWebhook & { kind: 'notification' },
    rawBody: string,
    signature: string,
  ): ((verifier: string) => boolean) | undefined;
  signatureHeader: string;
  /**
   * What tells one delivery of a webhook from another: the provider's own delivery id where it sends
   * one, otherwise everything it signed. A post with the key of one received within the repeat
   * window is the provider sending the same webhook again (a retry, a replay), and produces nothing.
   */
  deliveryKey(webhook: ParsedWebhook & { kind: 'notification' }): string;
  standardize(fields: Record<string, string>): StandardizedWebhook;
  /** The state with fresh OAuth tokens; absent for elements whose credentials do not expire. */
  refreshTokens?(ctx: ProviderContext): Promise<OAuthTokens>;
}

/** What an element's folder declares about itself; `defineElement` derives the rest. */
export interface ElementDefinition {
  /** A stable number (Cloud Elements addresses elements by key or id). */
  id: number;
  key: string;
  name: string;
  description: string;
  vendorTypes: readonly VendorType[];
  /** The element's own configuration keys (credentials and the like), not the generic `event.*` ones. */
  configuration: readonly ConfigurationKey[];
  /** Provider base URL settings (environment variable → default) this element's calls use. */
  urlSettings: Readonly<Record<string, string>>;
  /** Present for elements connected by OAuth 2: the authorize step before the instance is created. */
  oauth?: OAuthStep;
  /** A `POST /instances` body for this element (the API reference shows it; a test checks the API accepts it). */
  example: ElementExample;
  /**
   * Authenticates with the provider while the instance is being created (throws ProviderError on
   * refusal) and returns what later calls need.
   */
  connect(args: ConnectArgs): Promise<ProviderState>;
  polling?: PollingElement;
  webhooks?: WebhookElement;
}

export interface Element extends ElementDefinition {
  /** Validates the element's own configuration keys; derived from `configuration`. */
  configurationSchema: z.ZodType<Record<string, unknown>>;
  /** Configuration keys that hold secrets: redacted in every response and log. */
  secretKeys: readonly string[];
  /** Configuration keys the provider calls read (credentials, account choice): the only ones activities get. */
  credentialKeys: readonly string[];
}
