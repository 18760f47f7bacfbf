import { z } from 'zod';
import type { Element } from '../../elements/element';
import { BASE_PATH } from '../base-path';
import { IDEMPOTENCY_HEADER } from '../idempotency';
import { errorExample } from './examples';
import { apiRoutes, componentSchemas, createInstanceBody, eventsConfigurationDescriptions } from './paths';
import type { RequestHeader, ResponseDoc, ResponseHeader, RouteDoc } from './route';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../../package.json') as { version: string };

type Json = Record<string, unknown>;

export interface OpenApiDocument {
  openapi: '3.1.0';
  info: Json;
  servers: { url: string; description?: string }[];
  tags: { name: string; description: string }[];
  paths: Record<string, Record<string, Json>>;
  components: Json;
}

const SCHEMAS = '#/components/schemas/';

/** Error statuses routes answer by their kind (see RouteDoc.errors), with what they mean. */
const COMMON_ERRORS: Record<number, string> = {
  400: 'Invalid input: `message` says what, `errors` lists the fields',
  401: 'Missing or wrong secrets',
  403: 'This call takes the platform secrets, not an Element token',
  404: 'Unknown, or not yours',
  // JSON_LIMIT in app.ts.
  413: 'Body over 1 MB',
  415: 'Content-Type is not application/json',
  429: 'Too many failed logins from this address (`AUTH_FAILURES_PER_MINUTE`): wait `Retry-After` seconds',
};

const RESPONSE_HEADERS: Record<ResponseHeader, Json> = {
  'Elements-Next-Page-Token': {
    description: 'Present when there are more: pass it back as `nextPage` for the next page',
    schema: { type: 'string' },
  },
  'Retry-After': { description: 'Seconds to wait before trying again', schema: { type: 'integer' } },
};

const REQUEST_HEADERS: Record<RequestHeader, Json> = {
  'Idempotency-Key': {
    name: IDEMPOTENCY_HEADER,
    in: 'header',
    required: false,
    description:
      'Makes a retry safe: the same key (1 to 255 printable ASCII characters, scoped to the account) answers the first ' +
      'call instead of doing it again.',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x20-\\x7e]+$' },
  },
};

/**
 * The OpenAPI 3.1 document of the API, generated from the zod schemas the routes parse with and the
 * answer schemas of `responses.ts`: built once when the app is created (it depends only on the code
 * and the element registry), never per request.
 */
export function openApiDocument(elements: ReadonlyMap<string, Element>): OpenApiDocument {
  const createBody = createInstanceBody(elements);
  const routes = apiRoutes(elements, createBody);
  const named = componentSchemas(elements, createBody);
  const schemas = new JsonSchemas(named);
  for (const route of routes) for (const schema of schemasOf(route)) schemas.add(schema);
  schemas.generate();

  const paths: OpenApiDocument['paths'] = {};
  for (const route of routes) {
    const operations = (paths[route.path] ??= {});
    if (operations[route.method]) throw new Error(`${route.method.toUpperCase()} ${route.path} is listed twice`);
    operations[route.method] = operation(route, schemas);
  }
  const events = schemas.component('EventsConfiguration') as { properties: Record<string, Json> };
  for (const [key, description] of Object.entries(eventsConfigurationDescriptions)) {
    if (!events.properties[key]) throw new Error(`EventsConfiguration has no key ${key}`);
    events.properties[key].description = description;
  }

  return {
    openapi: '3.1.0',
    info: {
      title: 'element-events API',
      version,
      description:
        "Cloud Elements-style event notifications (polling and webhooks) on Temporal. Cloud Elements' paths and bodies, " +
        'under the same base path. Every error is JSON with the `Error` shape; every answer carries `X-Request-Id` and ' +
        '`Cache-Control: no-store`. Besides the statuses listed per call: 408 (request not received in time), 431 (headers ' +
        'over 16 KB) and 500 (an unexpected failure, without detail).\n\nGenerated from the zod schemas the API validates ' +
        'with; the page at `/docs` renders it.',
      license: { name: 'MIT', identifier: 'MIT' },
    },
    servers: [{ url: BASE_PATH, description: 'This server' }],
    tags: [
      { name: 'Instances', description: 'Element instances: an account connected to a provider, with its events settings' },
      { name: 'Notifications', description: "An instance's notifications, their delivery attempts, and redelivery" },
      { name: 'Elements', description: 'The elements (providers) this service connects to, and their OAuth step' },
      { name: 'Webhooks', description: 'The receiver providers post their webhooks to' },
      { name: 'Service', description: 'Health and this document' },
    ].filter((t) => routes.some((r) => r.tag === t.name)),
    paths,
    components: {
      schemas: schemas.components(),
      securitySchemes: {
        platform: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'The platform secrets: `User <user secret>, Organization <organization secret>`',
        },
        elementToken: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description:
            "An instance's token: `User <user secret>, Element <instance token>`. Reads its instance and manages its events; " +
            'other calls and keys take the platform secrets (403).',
        },
      },
    },
  };
}

function operation(route: RouteDoc, schemas: JsonSchemas): Json {
  const parameters: Json[] = [];
  for (const [name, p] of Object.entries(route.pathParams ?? {})) {
    parameters.push({ name, in: 'path', required: true, description: p.description, schema: schemas.of(p.schema) });
  }
  const declared = [...route.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
  const described = Object.keys(route.pathParams ?? {});
  if (declared.join() !== described.join()) throw new Error(`${route.path}: path parameters ${described.join(', ')} do not match`);
  if (route.query) {
    const query = schemas.of(route.query.schema) as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) {
      const description = route.query.descriptions?.[name];
      parameters.push({ name, in: 'query', required: !!query.required?.includes(name), ...(description ? { description } : {}), schema });
    }
  }
  for (const header of route.headers ?? []) {
    if (typeof header === 'string') parameters.push(REQUEST_HEADERS[header]);
    else
      parameters.push({
        name: header.name,
        in: 'header',
        required: !!header.required,
        description: header.description,
        schema: { type: 'string' },
      });
  }

  const responses: Json = {};
  for (const [status, response] of Object.entries(route.responses)) responses[status] = responseObject(response, schemas);
  for (const [status, description] of Object.entries(errorStatuses(route))) {
    responses[status] ??= responseObject(
      {
        description,
        schema: schemas.named('Error'),
        headers: status === '429' || status === '503' ? ['Retry-After'] : [],
        examples: status === '400' ? { invalid: errorExample } : undefined,
      },
      schemas,
    );
  }

  return {
    operationId: operationId(route),
    summary: route.summary,
    ...(route.description ? { description: route.description } : {}),
    tags: [route.tag],
    security: route.access === 'public' ? [] : route.access === 'platform' ? [{ platform: [] }] : [{ platform: [] }, { elementToken: [] }],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body
      ? {
          requestBody: {
            required: true,
            ...(route.body.description ? { description: route.body.description } : {}),
            content: { [route.body.contentType ?? 'application/json']: media(route.body.schema, route.body.examples, schemas) },
          },
        }
      : {}),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b))),
  };
}

/** The error statuses of a route: those of its kind, then its own (which may reword them). */
function errorStatuses(route: RouteDoc): Record<number, string> {
  const statuses: Record<number, string> = {};
  const jsonBody = route.body && (route.body.contentType ?? 'application/json') === 'application/json';
  if (jsonBody) Object.assign(statuses, { 400: COMMON_ERRORS[400], 413: COMMON_ERRORS[413], 415: COMMON_ERRORS[415] });
  if (route.access !== 'public') Object.assign(statuses, { 401: COMMON_ERRORS[401], 429: COMMON_ERRORS[429] });
  if (route.access === 'platform') statuses[403] = COMMON_ERRORS[403]!;
  if (route.access !== 'public' && route.pathParams) statuses[404] = COMMON_ERRORS[404]!;
  for (const [status, description] of Object.entries(route.errors ?? {})) if (description) statuses[Number(status)] = description;
  return statuses;
}

function responseObject(response: ResponseDoc, schemas: JsonSchemas): Json {
  const headers = Object.fromEntries((response.headers ?? []).map((h) => [h, RESPONSE_HEADERS[h]]));
  return {
    description: response.description,
    ...(Object.keys(headers).length ? { headers } : {}),
    ...(response.schema
      ? { content: { [response.contentType ?? 'application/json']: media(response.schema, response.examples, schemas) } }
      : {}),
  };
}

function media(schema: z.ZodType, examples: ResponseDoc['examples'], schemas: JsonSchemas): Json {
  return { schema: schemas.of(schema), ...(examples ? { examples } : {}) };
}

/** `GET /instances/{id}/events` → `getInstancesIdEvents`: stable, and unique as long as routes are. */
function operationId(route: RouteDoc): string {
  const words = route.path
    .split(/[/{}.-]+/)
    .filter(Boolean)
    .map((w) => w[0]!.toUpperCase() + w.slice(1));
  return route.method + words.join('');
}

const schemasOf = (route: RouteDoc): z.ZodType[] => [
  ...Object.values(route.pathParams ?? {}).map((p) => p.schema),
  ...(route.query ? [route.query.schema] : []),
  ...(route.body ? [route.body.schema] : []),
  ...Object.values(route.responses).flatMap((r) => (r.schema ? [r.schema] : [])),
];

/**
 * zod schemas as JSON Schema (2020-12, OpenAPI 3.1's dialect), in one pass so that a named schema is
 * one `$ref` wherever it occurs. `io: 'input'`: a request is described as the caller writes it (a
 * coerced query number, a default that may be left out, a boolean also given as "true"); answer
 * schemas have no transforms, so input and output are the same. A schema zod cannot express (a
 * transform-only type, say) throws here, at app creation, rather than being documented as "anything".
 * Unnamed schemas are generated under placeholder ids and inlined where they are used.
 */
class JsonSchemas {
  private readonly registry = z.registry<{ id: string }>();
  private readonly names = new Map<z.ZodType, string>();
  private readonly inline = new Set<string>();
  private generated: Record<string, Json> = {};

  constructor(private readonly byName: Record<string, z.ZodType>) {
    for (const [name, schema] of Object.entries(byName)) {
      this.registry.add(schema, { id: name });
      this.names.set(schema, name);
    }
  }

  named(name: string): z.ZodType {
    const schema = this.byName[name];
    if (!schema) throw new Error(`no component schema ${name}`);
    return schema;
  }

  add(schema: z.ZodType): void {
    if (this.names.has(schema)) return;
    const id = `__inline${this.names.size}`;
    this.registry.add(schema, { id });
    this.names.set(schema, id);
    this.inline.add(id);
  }

  generate(): void {
    const { schemas } = z.toJSONSchema(this.registry, {
      io: 'input',
      unrepresentable: 'throw',
      uri: (id) => SCHEMAS + id,
      override: ({ jsonSchema }) => {
        // z.int()'s bounds are JavaScript's safe integers, not limits of the API.
        if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
        if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
      },
    });
    if (schemas.__shared) throw new Error('a schema needs shared definitions (a cycle): name it in componentSchemas');
    for (const [id, schema] of Object.entries(schemas)) {
      // `$id` as zod writes it (a bare fragment) is not a valid 2020-12 `$id`; `$schema` is the document's dialect anyway.
      const { $id: _id, $schema: _schema, ...rest } = schema as Json;
      this.generated[id] = rest;
    }
    const dangling = JSON.stringify(this.components()).match(/"#\/components\/schemas\/(__inline\d+)"/);
    if (dangling) throw new Error(`a schema used by a route is also nested in another: name it in componentSchemas (${dangling[1]})`);
  }

  /** The JSON Schema to use where `schema` occurs: a `$ref` to a named one, or an unnamed one in full. */
  of(schema: z.ZodType): Json {
    const id = this.names.get(schema);
    if (!id) throw new Error('schema not added before generate()');
    return this.inline.has(id) ? this.generated[id]! : { $ref: SCHEMAS + id };
  }

  component(name: string): Json {
    return this.generated[name]!;
  }

  components(): Record<string, Json> {
    return Object.fromEntries(Object.entries(this.generated).filter(([id]) => !this.inline.has(id)));
  }
}
