import { z } from 'zod';

/**
 * The API's answers as zod schemas, for the OpenAPI document only: the routes build their answers from
 * the TypeScript types (InstanceView, DeliveryRecord, ...), and `types-in-step.ts` fails the compile
 * when a type and its schema differ. Closed objects: an answer carries exactly these fields.
 */

const isoDate = z.string().describe('ISO 8601 date and time, UTC');

export const fieldErrorSchema = z.strictObject({
  path: z
    .string()
    .describe('The field, written as the caller wrote it (`configuration.event.notification.callback.url`); `(body)` for the whole body'),
  message: z.string(),
});

export const errorSchema = z
  .strictObject({
    message: z.string().describe('What went wrong, naming the limit or field'),
    requestId: z.string().describe('Also in the `X-Request-Id` response header'),
    errors: z.array(fieldErrorSchema).describe('One entry per invalid field; empty when the error is not about a field'),
  })
  .describe('Every error the API answers has this shape');

export const resourceStatusSchema = z.strictObject({
  watermark: isoDate.describe('End of the last poll window fully handed to delivery'),
  lastPollAt: isoDate.optional(),
  lastEvents: z.number().int().optional().describe('Events the last poll found'),
  lastError: z.string().optional(),
});

export const instanceStatusSchema = z.strictObject({
  polls: z.number().int(),
  nextPollAt: isoDate.optional(),
  resources: z.record(z.string(), resourceStatusSchema).describe('Per polled resource'),
  callbacks: z
    .strictObject({ wanted: z.number().int(), registered: z.number().int(), verified: z.number().int() })
    .optional()
    .describe('Webhook instances: the provider callbacks'),
  webhooks: z
    .strictObject({
      received: z.number().int(),
      pending: z.number().int(),
      repeats: z.number().int(),
      lastReceivedAt: isoDate.optional().describe('When the last webhook arrived (a repeat included)'),
    })
    .optional()
    .describe('Webhook instances: webhooks received, not yet handed to delivery, and dropped as repeats'),
  tokensExpireAt: isoDate.optional().describe('OAuth elements: when the provider tokens expire (refreshed before)'),
  lastError: z.string().optional(),
  eventsDisabled: z.string().optional().describe('Why the system turned events off (a callback answered 410 Gone, or failed for 5 days)'),
  endpoint: z
    .strictObject({
      state: z
        .enum(['healthy', 'failing', 'open', 'recovering'])
        .describe(
          '`failing`: every attempt failed since `failingSince`; `open`: attempts pause but for one probe per interval; `recovering`: a probe was accepted, the backlog drains at a bounded rate',
        ),
      since: isoDate,
      failingSince: isoDate.optional(),
      openedAt: isoDate.optional(),
      nextProbeAt: isoDate.optional().describe('Open: when the next probe may go'),
      failures: z.number().int().describe('Failed attempts in the current run of failures'),
      failedEventIds: z.array(z.string()).describe('Up to 5 notifications that failed in it'),
      lastFailureAt: isoDate.optional(),
      lastSuccessAt: isoDate.optional(),
    })
    .optional()
    .describe("The callback URL's health (instances with a callback URL)"),
});

/** `GET /instances?include=summary`: each instance's recent activity and failures, for the console's list. */
export const instanceSummarySchema = z.strictObject({
  lastPollAt: isoDate.optional().describe('The latest poll of any resource (polling instances)'),
  lastWebhookAt: isoDate.optional().describe('The last webhook received (webhook instances)'),
  failedDeliveries: z.number().int().describe('Notifications whose delivery failed (redeliverable)'),
  unavailable: z.string().optional().describe('Why the times are missing: the instance did not answer'),
});

/** InstanceView as a schema; the document shows it without `status` (lists, create) and with it (read, change). */
export const instanceViewSchema = z.strictObject({
  id: z.number().int(),
  name: z.string(),
  tags: z.array(z.string()),
  element: z.strictObject({ key: z.string() }),
  createdDate: isoDate,
  eventsEnabled: z.boolean(),
  configuration: z.record(z.string(), z.unknown()).describe('As given, secrets shown as `********`'),
  temporalUiUrl: z
    .string()
    .optional()
    .describe('`GET /instances/{id}`: the instance workflow in the Temporal UI, when `TEMPORAL_UI_URL` is known'),
  summary: instanceSummarySchema.optional().describe('`GET /instances?include=summary` only'),
  status: instanceStatusSchema.optional(),
});

export const instanceSchema = instanceViewSchema.omit({ status: true });
export const instanceWithStatusSchema = instanceViewSchema.required({ status: true });
export const createdInstanceSchema = instanceSchema.extend({
  token: z.string().describe('The Element token: shown only here (and to a replay of the same Idempotency-Key)'),
});

export const tokenAnswerSchema = z.strictObject({
  id: z.number().int(),
  token: z.string().describe('The new Element token; the old one no longer works'),
});

export const deletedSchema = z.strictObject({ id: z.number().int(), deleted: z.literal(true) });

export const deliveryStatusSchema = z.enum(['pending', 'delivered', 'failed', 'gone', 'cancelled']);

export const deliveryAttemptSchema = z.strictObject({
  attempt: z.number().int(),
  at: isoDate,
  durationMs: z.number(),
  url: z.string().optional().describe('Where the attempt went: the instance callback URL at the time'),
  status: z.number().int().optional().describe('The callback HTTP status, when it answered'),
  error: z.string().optional().describe('A coarse cause: `callback unreachable: timeout`, `callback answered 503`'),
});

export const deliveryRecordSchema = z.strictObject({
  eventId: z.string(),
  instanceId: z.number().int(),
  status: deliveryStatusSchema,
  events: z.number().int().describe('Events the notification carries'),
  createdDate: isoDate,
  deliveredDate: isoDate.optional(),
  nextAttemptAt: isoDate.optional(),
  attempts: z.array(deliveryAttemptSchema),
});

export const deliveryListSchema = z.strictObject({
  events: z.array(
    z.strictObject({
      eventId: z.string(),
      status: deliveryStatusSchema,
      events: z.number().int().optional(),
      createdDate: isoDate.optional(),
    }),
  ),
  nextPage: z.string().optional().describe('Pass back as `nextPage` for the next page; absent on the last one'),
});

export const bulkRedeliverySchema = z.strictObject({
  redelivered: z.number().int(),
  eventIds: z.array(z.string()),
});

export const healthSchema = z.strictObject({
  status: z.enum(['ok', 'unavailable']),
  api: z.literal(true),
  temporal: z.boolean().describe('Temporal answered'),
  worker: z.boolean().describe('A worker polled the task queue within the last minute'),
});

export const webhookReceivedSchema = z.strictObject({ received: z.literal(true) });
