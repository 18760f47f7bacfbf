import { z } from 'zod';
import type { Element } from '../../elements/element';
import { createInstanceSchema, eventsSchema, patchInstanceSchema } from '../../instances/request';
import { configurationKeySchema, elementDescriptionSchema } from '../../elements/description';
import { oauthUrlAnswerSchema, oauthUrlQuery } from '../elements';
import { listQuery as deliveryListQuery } from '../events';
import { listQuery as instanceListQuery } from '../instances';
import { WEBHOOK_BODY_LIMIT_BYTES } from '../webhooks';
import * as ex from './examples';
import {
  bulkRedeliverySchema,
  createdInstanceSchema,
  deletedSchema,
  deliveryListSchema,
  deliveryRecordSchema,
  errorSchema,
  fieldErrorSchema,
  healthSchema,
  instanceSchema,
  instanceWithStatusSchema,
  resourceStatusSchema,
  tokenAnswerSchema,
  webhookReceivedSchema,
} from './responses';
import type { HeaderParameter, RouteDoc } from './route';

/**
 * Every route the API serves, as the OpenAPI document lists them: adding a route to the app is adding
 * one entry here (test/integration/openapi.test.ts fails until both agree). For example, a read of
 * one element would be:
 *
 *   { method: 'get', path: '/elements/{keyOrId}', tag: 'Elements', access: 'platformOrToken',
 *     summary: 'Describe an element', pathParams: { keyOrId: { schema: z.string(), description: '...' } },
 *     responses: { 200: { description: 'The element', schema: elementDescriptionSchema } } },
 *
 * with `elementDescriptionSchema` added to `componentSchemas` so the document names it once.
 */
export function apiRoutes(elements: ReadonlyMap<string, Element>, createBody: z.ZodType): RouteDoc[] {
  const webhookElements = [...elements.values()].filter((e) => e.webhooks);
  const webhookKeys = webhookElements.map((e) => e.key);
  return [
    {
      method: 'get',
      path: '/healthz',
      tag: 'Service',
      access: 'public',
      summary: 'Health of the API, Temporal and the workers',
      description: '200 when Temporal answers and a worker polled the task queue within the last minute; 503 otherwise.',
      responses: {
        200: { description: 'Everything is up', schema: healthSchema, examples: { ok: ex.healthExample } },
        503: { description: 'Temporal or every worker is unreachable', schema: healthSchema },
      },
    },
    {
      method: 'get',
      path: '/openapi.json',
      tag: 'Service',
      access: 'public',
      summary: 'This document',
      description: 'The OpenAPI 3.1 document, generated from the zod schemas the API validates with. `/docs` renders it.',
      responses: { 200: { description: 'The OpenAPI document', schema: z.record(z.string(), z.unknown()) } },
    },
    {
      method: 'post',
      path: '/instances',
      tag: 'Instances',
      access: 'platform',
      summary: 'Create an instance',
      description:
        "Cloud Elements' body. Validated whole before anything starts: the configuration, the callback URL, then the " +
        'provider credentials (an API key is tried with one call; an OAuth code is exchanged). Unknown top-level keys are ignored; ' +
        'unknown `configuration` keys are kept and shown back. With `Idempotency-Key`, the same key and body answer the ' +
        'first instance (same id and token) and create nothing.',
      headers: ['Idempotency-Key'],
      body: { schema: createBody, examples: ex.createInstanceExamples(elements) },
      responses: {
        200: {
          description: 'The instance, with its Element token',
          schema: createdInstanceSchema,
          examples: { created: ex.createdInstanceExample },
        },
      },
      errors: {
        409: 'The `Idempotency-Key` was used with another body, or its instance was deleted',
        429: 'Too many failed logins from this address, or `MAX_INSTANCES_PER_ACCOUNT` reached',
        502: 'The provider could not be reached or failed',
      },
    },
    {
      method: 'get',
      path: '/instances',
      tag: 'Instances',
      access: 'platformOrToken',
      summary: "List the caller's instances",
      description:
        'Newest first, as a JSON array. When there are more, the `Elements-Next-Page-Token` header holds the token to pass as ' +
        '`nextPage`. An Element token lists its own instance only.',
      query: {
        schema: instanceListQuery,
        descriptions: { pageSize: 'Instances per page', nextPage: 'The `Elements-Next-Page-Token` of the previous page' },
      },
      responses: {
        200: {
          description: 'One page of instances (without status)',
          schema: z.array(instanceSchema),
          headers: ['Elements-Next-Page-Token'],
          examples: { page: ex.instanceListExample },
        },
      },
      errors: { 400: 'Invalid query, or `nextPage` is not a token of this list' },
    },
    {
      method: 'get',
      path: '/instances/{id}',
      tag: 'Instances',
      access: 'platformOrToken',
      summary: 'Read an instance with its status',
      pathParams: { id: instanceIdParam },
      responses: {
        200: {
          description: 'The instance and its live status',
          schema: instanceWithStatusSchema,
          examples: { polling: ex.instanceWithStatusExample },
        },
      },
    },
    {
      method: 'patch',
      path: '/instances/{id}',
      tag: 'Instances',
      access: 'platformOrToken',
      summary: 'Change an instance',
      description:
        'Changes `name`, `tags` and `configuration` keys (merged; `null` removes a key) on the running instance, without a ' +
        'restart, and answers once the change is in effect. The result is validated as at creation. Unknown top-level keys ' +
        'are a 400. An Element token may not change the callback URL, the signature keys or the provider credentials (403).',
      pathParams: { id: instanceIdParam },
      body: { schema: patchInstanceSchema, examples: ex.patchInstanceExamples },
      responses: {
        200: {
          description: 'The instance as changed, with its status',
          schema: instanceWithStatusSchema,
          examples: { changed: ex.instanceWithStatusExample },
        },
      },
      errors: {
        403: 'An Element token may not change these keys',
        502: 'The provider could not be reached (changed credentials are checked)',
      },
    },
    {
      method: 'delete',
      path: '/instances/{id}',
      tag: 'Instances',
      access: 'platform',
      summary: 'Delete an instance',
      description:
        "Cancels a poll in flight, hands webhooks already accepted to delivery, removes the provider's callbacks and answers " +
        'once the instance has stopped. Notifications already handed to delivery are still delivered. Works once on an ' +
        'instance whose workflow ended without being deleted.',
      pathParams: { id: instanceIdParam },
      responses: { 200: { description: 'Deleted', schema: deletedSchema, examples: { deleted: ex.deletedExample } } },
    },
    {
      method: 'post',
      path: '/instances/{id}/token',
      tag: 'Instances',
      access: 'platform',
      summary: 'Issue a new Element token',
      description: 'The old token stops working when this answers.',
      pathParams: { id: instanceIdParam },
      responses: { 200: { description: 'The new token', schema: tokenAnswerSchema, examples: { token: ex.tokenExample } } },
    },
    {
      method: 'get',
      path: '/instances/{id}/events',
      tag: 'Notifications',
      access: 'platformOrToken',
      summary: "List an instance's notifications",
      description: 'Newest first; `nextPage` in the answer (and the `Elements-Next-Page-Token` header) is the token for the next page.',
      pathParams: { id: instanceIdParam },
      query: {
        schema: deliveryListQuery,
        descriptions: {
          status: 'Only notifications in this state',
          pageSize: 'Notifications per page',
          nextPage: 'The `nextPage` of the previous page',
        },
      },
      responses: {
        200: {
          description: 'One page of notification records',
          schema: deliveryListSchema,
          headers: ['Elements-Next-Page-Token'],
          examples: { failed: ex.deliveryListExample },
        },
      },
      errors: { 400: 'Invalid query, or `nextPage` is not a token of this list' },
    },
    {
      method: 'post',
      path: '/instances/{id}/events/redeliver',
      tag: 'Notifications',
      access: 'platformOrToken',
      summary: 'Redeliver every failed notification',
      description:
        'Runs the delivery schedule again for each failed notification. With `Idempotency-Key`, a retry within 24 hours ' +
        'redelivers nothing twice and answers the same `eventIds`.',
      pathParams: { id: instanceIdParam },
      headers: ['Idempotency-Key'],
      responses: {
        200: { description: 'What was redelivered', schema: bulkRedeliverySchema, examples: { two: ex.bulkRedeliveryExample } },
      },
      errors: { 400: 'Invalid `Idempotency-Key`' },
    },
    {
      method: 'get',
      path: '/instances/{id}/events/{eventId}',
      tag: 'Notifications',
      access: 'platformOrToken',
      summary: 'Read a notification with its attempts',
      pathParams: { id: instanceIdParam, eventId: eventIdParam },
      responses: {
        200: { description: 'The notification record', schema: deliveryRecordSchema, examples: { delivered: ex.deliveryRecordExample } },
      },
    },
    {
      method: 'post',
      path: '/instances/{id}/events/{eventId}/redeliver',
      tag: 'Notifications',
      access: 'platformOrToken',
      summary: 'Redeliver a failed notification',
      description:
        'Runs the delivery schedule again, to the callback URL and keys the instance has now. With `Idempotency-Key`, a ' +
        'retry answers the same redelivery and the notification is sent once.',
      pathParams: { id: instanceIdParam, eventId: eventIdParam },
      headers: ['Idempotency-Key'],
      responses: { 200: { description: 'The notification record, redelivery under way', schema: deliveryRecordSchema } },
      errors: { 400: 'Invalid `Idempotency-Key`', 409: 'The notification is not failed, or no longer kept for redelivery' },
    },
    {
      method: 'post',
      path: '/events/{elementKey}/{instanceId}',
      tag: 'Webhooks',
      access: 'public',
      summary: "Receive a provider's webhook",
      description:
        'Where webhook elements register their callbacks (`PUBLIC_URL/elements/api-v2/events/{elementKey}/{instanceId}`); ' +
        'providers post here, not API callers. Form-encoded, signed by the provider; a verification post (the provider ' +
        'confirming the callback) carries no signature. Answered 200 only once the webhook is durable in Temporal; the ' +
        'same webhook sent again within `WEBHOOK_REPEAT_WINDOW_SECONDS` is answered 200 and makes nothing.',
      pathParams: {
        elementKey: {
          schema: webhookKeys.length ? z.enum(webhookKeys as [string, ...string[]]) : z.string(),
          description: 'The webhook element',
        },
        instanceId: instanceIdParam,
      },
      headers: signatureHeaders(webhookElements),
      body: {
        schema: z.record(z.string(), z.string()),
        contentType: 'application/x-www-form-urlencoded',
        description: `The provider's form fields, exactly as it sent and signed them (at most ${WEBHOOK_BODY_LIMIT_BYTES / 1024} KB; a field repeated with another value is a 400)`,
      },
      responses: {
        200: { description: 'Recorded (or a repeat, or a verification)', schema: webhookReceivedSchema },
        503: {
          description: 'Not recorded within 5 s (Temporal away or slow): nothing was recorded, the provider retries',
          schema: errorSchema,
          headers: ['Retry-After'],
        },
      },
      errors: {
        400: 'Not a form of this element',
        401: 'Missing, malformed or wrong signature',
        404: 'Unknown element, instance or callback',
        413: `Body over ${WEBHOOK_BODY_LIMIT_BYTES / 1024} KB`,
        429: 'Too many verification posts for a callback or instance',
      },
    },
    {
      method: 'get',
      path: '/elements',
      tag: 'Elements',
      access: 'platformOrToken',
      summary: 'List the elements',
      description:
        'Every element this service connects to, described by its own folder: how it authenticates, its configuration keys ' +
        '(secrets marked) and its events. The console builds its forms from this.',
      responses: { 200: { description: 'The elements', schema: z.array(elementDescriptionSchema) } },
    },
    {
      method: 'get',
      path: '/elements/{keyOrId}',
      tag: 'Elements',
      access: 'platformOrToken',
      summary: 'Describe an element',
      pathParams: { keyOrId: keyOrIdParam },
      responses: { 200: { description: 'The element', schema: elementDescriptionSchema } },
      errors: { 404: 'No element with this key or id' },
    },
    {
      method: 'get',
      path: '/elements/{keyOrId}/oauth/url',
      tag: 'Elements',
      access: 'platformOrToken',
      summary: "The provider's OAuth consent page URL",
      description:
        'Cloud Elements\' "Getting a redirect URL" step: send the user to `oauthUrl`; the provider sends them back to ' +
        '`callbackUrl` with `code` and `state`; then create the instance with `providerData.code`. `apiSecret` is accepted and ' +
        'neither used nor echoed.',
      pathParams: { keyOrId: keyOrIdParam },
      query: {
        schema: oauthUrlQuery,
        descriptions: {
          apiKey: 'The OAuth client id of your app at the provider',
          apiSecret: 'Accepted for Cloud Elements clients; not used',
          callbackUrl: 'Your redirect URI, registered with the provider',
          state: 'Returned unchanged with the code',
          scope: 'Scopes, where the element needs them',
          siteAddress: 'The account site, where the element needs one',
        },
      },
      responses: { 200: { description: 'The consent page URL', schema: oauthUrlAnswerSchema } },
      errors: { 400: 'Invalid query, or the element has no OAuth step', 404: 'No element with this key or id' },
    },
  ];
}

/** Schemas the document names once (`#/components/schemas/<name>`) wherever routes use them. */
export function componentSchemas(elements: ReadonlyMap<string, Element>, createBody: z.ZodType): Record<string, z.ZodType> {
  return {
    Error: errorSchema,
    FieldError: fieldErrorSchema,
    CreateInstanceRequest: createBody,
    PatchInstanceRequest: patchInstanceSchema,
    EventsConfiguration: eventsSchema,
    ...Object.fromEntries([...elements.values()].map((e) => [`Configuration.${e.key}`, e.configurationSchema])),
    Instance: instanceSchema,
    InstanceWithStatus: instanceWithStatusSchema,
    CreatedInstance: createdInstanceSchema,
    ResourceStatus: resourceStatusSchema,
    Token: tokenAnswerSchema,
    Deleted: deletedSchema,
    DeliveryRecord: deliveryRecordSchema,
    DeliveryList: deliveryListSchema,
    BulkRedelivery: bulkRedeliverySchema,
    Health: healthSchema,
    ElementDescription: elementDescriptionSchema,
    ConfigurationKey: configurationKeySchema,
  };
}

/** What the `event.*` configuration keys mean: the README's words, on the schema the API checks them with. */
export const eventsConfigurationDescriptions: Record<string, string> = {
  'event.notification.enabled': 'Events on or off (default false)',
  'event.vendor.type': '`polling` or `webhooks`, as the element supports (default: its first)',
  'event.notification.callback.url': 'Where notifications are posted (http or https); required when events are enabled',
  'event.notification.signature.key': 'Signs each notification: `Elements-Webhook-Signature: sha256=<base64 HMAC-SHA256 of the body>`',
  'event.notification.webhook.secret':
    'A Standard Webhooks secret (`whsec_…`): notifications also carry `webhook-id`, `-timestamp`, `-signature`',
  'event.poller.refresh_interval': 'Minutes between polls (default 15, at least `EVENTS_MIN_REFRESH_INTERVAL_MINUTES`)',
  'event.poller.configuration':
    "Resources to poll, by name (or the same object as a JSON string). `{}` takes the element's defaults for that resource; left out, every default resource is polled",
  'event.objects': 'A comma list narrowing the resources (polling) or the objects watched (webhooks)',
};

/**
 * The create body as the API checks it in full: `createInstanceSchema`, its `configuration` being the
 * `event.*` keys and one element's own keys (each element's `configurationSchema`).
 */
export function createInstanceBody(elements: ReadonlyMap<string, Element>): z.ZodType {
  const own = [...elements.values()].map((e) => e.configurationSchema);
  const configuration = own.length ? z.intersection(eventsSchema, z.union(own as [z.ZodType, ...z.ZodType[]])) : eventsSchema;
  return createInstanceSchema.extend({
    configuration: configuration.optional().describe("The `event.*` keys, and the element's own keys (its credentials and settings)"),
  });
}

// The patterns the routes check ids against (a mismatch is a 404 there).
const keyOrIdParam = { schema: z.string().min(1).max(100), description: "The element's key or its id" };
const instanceIdParam = { schema: z.string().regex(/^\d{1,15}$/), description: 'The instance id' };
const eventIdParam = { schema: z.string().regex(/^[0-9a-f-]{36}$/), description: 'The notification eventId' };

/** The signature header of each webhook element, as the element declares it (elements sharing one share the entry). */
function signatureHeaders(webhookElements: Element[]): HeaderParameter[] {
  const byName = new Map<string, string[]>();
  for (const e of webhookElements) {
    const name = e.webhooks!.signatureHeader;
    byName.set(name, [...(byName.get(name) ?? []), e.key]);
  }
  return [...byName].map(([name, keys]) => ({
    name,
    description: `The provider's signature of a notification (${keys.map((k) => `\`${k}\``).join(', ')}); absent on verification posts`,
  }));
}
