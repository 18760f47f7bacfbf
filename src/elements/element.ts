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
  filterByUpdatedDate?: boolean;
  createdCheckTolerance?: number;
}

/** Provider base URLs, so tests and deployments can point elements at other hosts. */
export interface ProviderUrls {
  insightly: string;
  freshbooks: string;
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
  signal?: AbortSignal;
}

export interface PollingElement {
  defaultResources: Record<string, PollResource>;
  /** Problems with a resource, found at creation so they are a 400 rather than a failing poll later. */
  resourceProblems(name: string, resource: PollResource): string[];
  /** Reads every page of records changed since `sinceMs`, one page at a time. */
  fetchChanges(args: FetchChangesArgs): AsyncIterable<unknown[]>;
}

export interface Element {
  key: string;
  vendorTypes: readonly VendorType[];
  /** The element's own configuration keys (credentials and the like). */
  configurationSchema: z.ZodType<Record<string, unknown>>;
  /** Configuration keys that hold secrets: redacted in every response and log. */
  secretKeys: readonly string[];
  /** Authenticates with the provider while the instance is being created; throws ProviderError on refusal. */
  verifyCredentials(urls: ProviderUrls, configuration: Record<string, unknown>, signal?: AbortSignal): Promise<void>;
  polling?: PollingElement;
}
