import { z } from 'zod';
import type { Element } from './element';

const datesSchema = z.object({
  updatedDateField: z.string().optional(),
  updatedDateFormat: z.string().optional(),
  updatedDateTimezone: z.string().optional(),
  createdDateField: z.string().optional(),
  createdDateFormat: z.string().optional(),
  createdDateTimezone: z.string().optional(),
});

const pollResourceSchema = z.object({
  url: z.string(),
  idField: z.string().optional(),
  datesConfiguration: datesSchema.optional(),
  pageSize: z.number().optional(),
  pollDelay: z.number().optional(),
  pollOverlap: z.number().optional(),
  filterByUpdatedDate: z.boolean().optional(),
  createdCheckTolerance: z.number().optional(),
});

export const configurationKeySchema = z.object({
  name: z.string().meta({ description: 'The key in `configuration`' }),
  label: z.string(),
  type: z.enum(['string', 'password', 'number', 'boolean', 'url']),
  required: z.boolean(),
  secret: z.boolean().meta({ description: 'Shown as ******** in answers; sealed in Temporal' }),
  default: z.union([z.string(), z.number(), z.boolean()]).optional(),
  description: z.string(),
});

/** What `GET /elements` and `GET /elements/{keyOrId}` answer about an element. */
export const elementDescriptionSchema = z.object({
  id: z.number().int(),
  key: z.string(),
  name: z.string(),
  description: z.string(),
  vendorTypes: z.array(z.enum(['polling', 'webhooks'])),
  authentication: z.discriminatedUnion('type', [
    z.object({ type: z.literal('apiKey') }),
    z.object({
      type: z.literal('oauth2'),
      oauthUrl: z.string().meta({ description: 'The call that answers the provider consent page URL' }),
      apiKeyField: z.string(),
      apiSecretField: z.string(),
      callbackUrlField: z.string(),
      providerData: z.array(z.string()).meta({ description: 'What the OAuth return passes to POST /instances as providerData' }),
    }),
  ]),
  configuration: z.array(configurationKeySchema),
  events: z.object({
    polling: z.object({ resources: z.record(z.string(), pollResourceSchema) }).optional(),
    webhooks: z.object({ objects: z.array(z.string()), defaultObjects: z.array(z.string()), actions: z.array(z.string()) }).optional(),
  }),
});

export type ElementDescription = z.infer<typeof elementDescriptionSchema>;

/** An element as it describes itself to API callers and the console: nothing here is a secret. */
export function describeElement(element: Element, basePath: string): ElementDescription {
  const polling = element.polling;
  const webhooks = element.webhooks;
  return {
    id: element.id,
    key: element.key,
    name: element.name,
    description: element.description,
    vendorTypes: [...element.vendorTypes],
    authentication: element.oauth
      ? {
          type: 'oauth2',
          oauthUrl: `${basePath}/elements/${encodeURIComponent(element.key)}/oauth/url`,
          apiKeyField: element.oauth.apiKeyField,
          apiSecretField: element.oauth.apiSecretField,
          callbackUrlField: element.oauth.callbackUrlField,
          providerData: ['code'],
        }
      : { type: 'apiKey' },
    configuration: element.configuration.map(({ name, label, type, required, secret, default: value, description }) => ({
      name,
      label,
      type,
      required,
      secret,
      ...(value === undefined ? {} : { default: value }),
      description,
    })),
    events: {
      ...(polling && {
        polling: {
          resources: Object.fromEntries(
            Object.entries(polling.defaultResources).map(([name, r]) => [name, { pollOverlap: polling.defaultPollOverlap, ...r }]),
          ),
        },
      }),
      ...(webhooks && {
        webhooks: { objects: [...webhooks.objects], defaultObjects: [...webhooks.defaultObjects], actions: [...webhooks.actions] },
      }),
    },
  };
}

/** An element by key, or by its number as Cloud Elements also addresses them. */
export function findByKeyOrId(catalog: ReadonlyMap<string, Element>, keyOrId: string): Element | undefined {
  const byKey = catalog.get(keyOrId);
  if (byKey) return byKey;
  if (!/^\d{1,9}$/.test(keyOrId)) return undefined;
  return [...catalog.values()].find((e) => e.id === Number(keyOrId));
}
