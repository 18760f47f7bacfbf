import { z } from 'zod';
import type { Element, PollResource, VendorType } from '../elements/element';
import { badRequest, type FieldError } from '../errors';
import { callbackUrlProblem } from '../events/callback-url';
import { isHttpUrl } from '../http-url';
import { own } from '../own';
import { looksSealed } from '../secrets/sealer';
import { secretKeysOf } from './secret-keys';
import { isValidZone, validateJavaDatePattern } from '../polling/java-date';
import type { EventsSettings } from './types';

/** Booleans arrive as JSON booleans or, from Cloud Elements' UI, as "true"/"false". */
const boolish = z.union([z.boolean(), z.enum(['true', 'false']).transform((v) => v === 'true')], {
  error: 'must be true or false',
});

const numberish = z.union(
  [
    z.number(),
    z
      .string()
      .trim()
      .regex(/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/, 'must be a number')
      .transform(Number),
  ],
  { error: 'must be a number' },
);

export const httpUrl = z.string().max(2048, 'must be at most 2048 characters').refine(isHttpUrl, 'must be an absolute http(s) URL');

const datesSchema = z.object({
  updatedDateField: z.string().min(1).optional(),
  updatedDateFormat: z.string().min(1).optional(),
  updatedDateTimezone: z.string().min(1).optional(),
  createdDateField: z.string().min(1).optional(),
  createdDateFormat: z.string().min(1).optional(),
  createdDateTimezone: z.string().min(1).optional(),
});

const resourceSchema = z.object({
  url: z.string().min(1).max(4096).optional(),
  idField: z.string().min(1).max(256).optional(),
  datesConfiguration: datesSchema.optional(),
  pageSize: numberish.pipe(z.number().int().min(1).max(10_000)).optional(),
  pollDelay: numberish.pipe(z.number().min(0).max(86_400)).optional(),
  // At most an hour: every poll reads the overlap again, and remembers what it reported within it.
  pollOverlap: numberish.pipe(z.number().min(0).max(3_600)).optional(),
  filterByUpdatedDate: boolish.optional(),
  createdCheckTolerance: numberish.pipe(z.number().min(0).max(86_400)).optional(),
});

/** `event.poller.configuration` may be an object or the same object written as a JSON string. */
const pollerConfiguration = z.preprocess(
  (value, ctx) => {
    let parsed = value;
    if (typeof value === 'string') {
      try {
        parsed = JSON.parse(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `is not valid JSON: ${(err as Error).message}` });
        return z.NEVER;
      }
    }
    // zod's record skips this key without a word, which would put the defaults in its place.
    if (parsed !== null && typeof parsed === 'object' && Object.hasOwn(parsed, '__proto__')) {
      ctx.addIssue({ code: 'custom', message: '"__proto__" cannot be a resource name' });
      return z.NEVER;
    }
    return parsed;
  },
  z.record(z.string().min(1), resourceSchema).refine((r) => Object.keys(r).length <= 100, 'at most 100 resources'),
);

export const eventsSchema = z.object({
  'event.notification.enabled': boolish.default(false),
  'event.notification.ordered': boolish.optional(),
  'event.notification.maxRate': numberish
    .pipe(z.number().positive('must be a positive number of notifications per second').max(10_000, 'must be at most 10000'))
    .optional(),
  'event.vendor.type': z
    .enum(['polling', 'webhook', 'webhooks'])
    .transform((v): VendorType => (v === 'webhook' ? 'webhooks' : v))
    .optional(),
  'event.notification.callback.url': httpUrl.optional(),
  'event.notification.signature.key': z.string().min(1).max(1024).optional(),
  'event.notification.webhook.secret': z
    .string()
    .regex(/^whsec_[A-Za-z0-9+/]+={0,2}$/, 'must be a Standard Webhooks secret: whsec_ followed by base64')
    .refine((s) => {
      const bytes = Buffer.from(s.slice('whsec_'.length), 'base64').length;
      return bytes >= 24 && bytes <= 64;
    }, 'must hold 24 to 64 bytes of key (base64 after whsec_)')
    .optional(),
  'event.poller.refresh_interval': numberish
    .pipe(z.number().positive('must be a positive number of minutes').max(525_600, 'must be at most a year'))
    .optional(),
  'event.poller.configuration': pollerConfiguration.optional(),
  'event.objects': z.string().trim().min(1, 'lists no object; leave it out to watch the defaults').max(4096).optional(),
});

/** Limits at the edge, named in the README and in the 400 that enforces each. */
export const MAX_CONFIGURATION_BYTES = 64 * 1024;
export const MAX_NAME_CHARS = 200;
export const MAX_TAGS = 100;
export const MAX_TAG_CHARS = 200;

const tagsSchema = z
  .array(z.string().max(MAX_TAG_CHARS, `must be at most ${MAX_TAG_CHARS} characters`))
  .max(MAX_TAGS, `at most ${MAX_TAGS} tags`);

export const createInstanceSchema = z.object({
  element: z.object({ key: z.string().min(1, 'element.key is required').max(100) }),
  providerData: z.record(z.string(), z.unknown()).optional(),
  configuration: z.record(z.string(), z.unknown()).default({}),
  tags: tagsSchema.default([]),
  name: z.string().trim().min(1, 'name is required').max(MAX_NAME_CHARS, `must be at most ${MAX_NAME_CHARS} characters`),
});

export type CreateInstanceRequest = z.infer<typeof createInstanceSchema>;

/** PATCH: any of these; configuration keys are merged into the instance's (null removes one). */
export const patchInstanceSchema = z.strictObject({
  name: z.string().trim().min(1, 'name may not be empty').max(MAX_NAME_CHARS, `must be at most ${MAX_NAME_CHARS} characters`).optional(),
  tags: tagsSchema.optional(),
  configuration: z.record(z.string(), z.unknown()).optional(),
});

export const DEFAULT_REFRESH_INTERVAL_MINUTES = 15;

/** zod issues as the API's `errors` list, with paths written the way the caller wrote them. */
export function fieldErrors(error: z.ZodError, prefix: string[] = []): FieldError[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path.map(String)].join('.') || '(body)',
    message: issue.message,
  }));
}

export function parseOrThrow<T extends z.ZodType>(schema: T, value: unknown, what: string, prefix: string[] = []): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const errors = fieldErrors(parsed.error, prefix);
  throw badRequest(`Invalid ${what}: ${errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, errors);
}

function datesProblems(resource: PollResource): string[] {
  const d = resource.datesConfiguration ?? {};
  const problems: string[] = [];
  for (const [format, zone] of [
    [d.updatedDateFormat, d.updatedDateTimezone],
    [d.createdDateFormat, d.createdDateTimezone],
  ] as const) {
    const bad = format ? validateJavaDatePattern(format) : undefined;
    if (bad) problems.push(`datesConfiguration: ${bad}`);
    if (zone && !isValidZone(zone)) problems.push(`datesConfiguration: unknown time zone "${zone}"`);
  }
  return problems;
}

function resolveResources(
  element: Element,
  given: Record<string, z.infer<typeof resourceSchema>> | undefined,
  objects: string | undefined,
): Record<string, PollResource> {
  const polling = element.polling!;
  const errors: FieldError[] = [];
  const configured: Record<string, z.infer<typeof resourceSchema>> = given && Object.keys(given).length
    ? given
    : Object.fromEntries(Object.keys(polling.defaultResources).map((n) => [n, {}]));
  const resources: Record<string, PollResource> = {};
  for (const [name, entry] of Object.entries(configured)) {
    const defaults = own(polling.defaultResources, name);
    const merged = {
      pollOverlap: polling.defaultPollOverlap,
      ...defaults,
      ...entry,
      datesConfiguration: { ...defaults?.datesConfiguration, ...entry.datesConfiguration },
    };
    const path = `configuration.event.poller.configuration.${name}`;
    if (!merged.url || !merged.idField) {
      errors.push({ path, message: `"${name}" has no defaults for ${element.key}, so it needs url and idField` });
      continue;
    }
    const resource = merged as PollResource;
    for (const message of [...polling.resourceProblems(name, resource), ...datesProblems(resource)]) {
      errors.push({ path, message });
    }
    resources[name] = resource;
  }
  if (objects !== undefined) {
    const wanted = objects
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean);
    for (const name of wanted) {
      if (!Object.hasOwn(resources, name) && !errors.some((e) => e.path.endsWith(`.${name}`))) {
        errors.push({ path: 'configuration.event.objects', message: `"${name}" is not a configured resource` });
      }
    }
    for (const name of Object.keys(resources)) if (!wanted.includes(name)) delete resources[name];
  }
  if (errors.length) {
    throw badRequest(`Invalid polling configuration: ${errors.map((e) => e.message).join('; ')}`, errors);
  }
  return resources;
}

function webhookEvents(element: Element, objects: string | undefined): string[] {
  const wanted = objects
    ?.split(',')
    .map((o) => o.trim())
    .filter(Boolean);
  const { events, unknown } = element.webhooks!.eventsFor(wanted);
  if (unknown.length || !events.length) {
    throw badRequest(`Invalid configuration: event.objects names no ${element.key} object it can watch: ${unknown.join(', ') || objects}`, [
      { path: 'configuration.event.objects', message: `unknown objects: ${unknown.join(', ')}` },
    ]);
  }
  return events;
}

/** Validates the events part of a configuration against what the element supports. */
export function parseEventsSettings(
  element: Element,
  configuration: Record<string, unknown>,
  minRefreshIntervalMinutes: number,
  publicCallbacksOnly = false,
): EventsSettings {
  const events = parseOrThrow(eventsSchema, configuration, 'configuration', ['configuration']);
  const enabled = events['event.notification.enabled'];
  const vendorType = events['event.vendor.type'] ?? element.vendorTypes[0];
  const errors: FieldError[] = [];
  if (vendorType && !element.vendorTypes.includes(vendorType)) {
    errors.push({
      path: 'configuration.event.vendor.type',
      message: `${element.key} supports ${element.vendorTypes.join(', ')} events, not ${vendorType}`,
    });
  }
  const callbackUrl = events['event.notification.callback.url'];
  const urlProblem = callbackUrl ? callbackUrlProblem(callbackUrl, publicCallbacksOnly) : undefined;
  if (urlProblem) errors.push({ path: 'configuration.event.notification.callback.url', message: urlProblem });
  if (enabled && !events['event.notification.callback.url']) {
    errors.push({
      path: 'configuration.event.notification.callback.url',
      message: 'is required when event.notification.enabled is true',
    });
  }
  const interval = events['event.poller.refresh_interval'] ?? DEFAULT_REFRESH_INTERVAL_MINUTES;
  if (vendorType === 'polling' && interval < minRefreshIntervalMinutes) {
    errors.push({
      path: 'configuration.event.poller.refresh_interval',
      message: `must be at least ${minRefreshIntervalMinutes} minutes`,
    });
  }
  if (errors.length) throw badRequest(`Invalid configuration: ${errors.map((e) => `${e.path} ${e.message}`).join('; ')}`, errors);

  const polling = vendorType === 'polling';
  return {
    enabled,
    vendorType,
    callbackUrl: events['event.notification.callback.url'],
    signatureKey: events['event.notification.signature.key'],
    webhookSecret: events['event.notification.webhook.secret'],
    // Absent unless asked for, so specs (and histories) of unordered instances are as before.
    ...(events['event.notification.ordered'] ? { ordered: true } : {}),
    ...(events['event.notification.maxRate'] !== undefined ? { maxRate: events['event.notification.maxRate'] } : {}),
    refreshIntervalMinutes: polling ? interval : undefined,
    resources: polling ? resolveResources(element, events['event.poller.configuration'], events['event.objects']) : {},
    webhookEvents: vendorType === 'webhooks' ? webhookEvents(element, events['event.objects']) : [],
  };
}

/**
 * Limits on a whole configuration, before anything is started: its size as JSON (each poll and each
 * update carries parts of it through Temporal), and secrets that already look sealed, which only this
 * service may produce (a sealed value copied from elsewhere must not be smuggled in).
 */
export function checkConfiguration(element: Element, configuration: Record<string, unknown>): void {
  const bytes = Buffer.byteLength(JSON.stringify(configuration));
  if (bytes > MAX_CONFIGURATION_BYTES) {
    throw badRequest(`Invalid configuration: it is ${bytes} bytes as JSON; the limit is ${MAX_CONFIGURATION_BYTES} (64 KB)`, [
      { path: 'configuration', message: `larger than ${MAX_CONFIGURATION_BYTES} bytes as JSON` },
    ]);
  }
  const sealedLooking = secretKeysOf(element).filter((k) => looksSealed(configuration[k]));
  if (sealedLooking.length) {
    throw badRequest(
      `Invalid configuration: ${sealedLooking.join(', ')} may not start with "sealed:"`,
      sealedLooking.map((k) => ({
        path: `configuration.${k}`,
        message: 'may not start with "sealed:" (a value sealed by this service cannot be given back to it)',
      })),
    );
  }
}
