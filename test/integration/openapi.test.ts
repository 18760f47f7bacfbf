import { execFileSync } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { z } from 'zod';
import { CODEC_ROUTES } from '../../src/api/codec-server';
import { CONSOLE_ROUTES } from '../../src/api/console';
import { BASE_PATH, createApp, type App } from '../../src/api/app';
import { WEBHOOK_ROUTE } from '../../src/api/webhooks';
import * as documentModule from '../../src/api/openapi/document';
import { openApiDocument, type OpenApiDocument } from '../../src/api/openapi/document';
import { createInstanceExamples } from '../../src/api/openapi/examples';
import { apiRoutes, createInstanceBody } from '../../src/api/openapi/paths';
import { elements, findElement } from '../../src/elements';
import { checkConfiguration, createInstanceSchema, parseEventsSettings } from '../../src/instances/request';
import { depsWithoutTemporal } from './harness';

jest.setTimeout(60_000);

/**
 * What the app serves that the document leaves out on purpose: the reference page and its files, and
 * the web console's pages. The document describes the API; these are how a person reads and uses it.
 * Nothing else may be missing.
 */
const NOT_DOCUMENTED = [
  'GET /docs',
  'GET /docs/docs.js',
  'GET /docs/swagger-ui.css',
  'GET /docs/swagger-ui-bundle.js',
  'GET /docs/favicon-32x32.png',
  // Operators' metrics (Prometheus' text format, OPERATOR_TOKEN): not the API's, documented in docs/operations.md.
  'GET /metrics',
  // The web console's pages (its index.html) and icon.
  ...CONSOLE_ROUTES.map((p) => `GET ${p.replace(/:(\w+)/g, '{$1}')}`),
  // The codec server and its operator sign-in: for operators and the Temporal UI, not for accounts.
  ...CODEC_ROUTES,
];

/**
 * The app as `createApp` builds it, its Temporal client connecting lazily: routes are registered when
 * the app is created, so walking them needs no server, and the document routes need no Temporal.
 */
function appWithoutTemporal(): { app: App; client: Client } {
  const deps = depsWithoutTemporal();
  return { app: createApp(deps), client: deps.client };
}

interface Layer {
  route?: { path: unknown; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  rawPath?: unknown;
  slash?: boolean;
}

/**
 * Every `METHOD /path` the app routes, found by walking Express's router stack (mounted routers
 * included), and the webhook receiver's, which answers ahead of Express.
 */
function servedRoutes(app: App): string[] {
  const served: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        if (typeof layer.route.path !== 'string') throw new Error(`a route with a non-string path: ${String(layer.route.path)}`);
        for (const method of Object.keys(layer.route.methods)) {
          if (method === '_all') throw new Error(`${layer.route.path} answers every method: list them instead`);
          served.push(`${method.toUpperCase()} ${prefix}${layer.route.path}`);
        }
      } else if (layer.handle.stack) {
        if (typeof layer.rawPath !== 'string') throw new Error(`a router mounted at a non-string path: ${String(layer.rawPath)}`);
        walk(layer.handle.stack, prefix + (layer.slash ? '' : layer.rawPath));
      }
    }
  };
  walk((app.express as unknown as { router: { stack: Layer[] } }).router.stack, '');
  served.push(`POST ${WEBHOOK_ROUTE}`);
  // Express's `:name` as OpenAPI's `{name}`.
  return served.map((r) => r.replace(/:(\w+)/g, '{$1}'));
}

function documentedRoutes(document: OpenApiDocument): string[] {
  const [server] = document.servers;
  return Object.entries(document.paths).flatMap(([p, operations]) =>
    Object.keys(operations).map((m) => `${m.toUpperCase()} ${server!.url}${p}`),
  );
}

function validate(document: unknown): { valid: boolean; version: string; errors: unknown[] } {
  const output = execFileSync(process.execPath, [path.join(__dirname, 'validate-openapi.mjs')], { input: JSON.stringify(document) });
  return JSON.parse(output.toString());
}

describe('the OpenAPI document', () => {
  const document = openApiDocument(elements);

  test('validates as OpenAPI 3.1 (and the validator does refuse a broken copy)', () => {
    const result = validate(document);
    expect(result.errors).toEqual([]);
    expect(result).toMatchObject({ valid: true, version: '3.1' });
    expect(document.openapi).toBe('3.1.0');

    const broken = structuredClone(document) as unknown as { paths: Record<string, Record<string, { parameters: { in: string }[] }>> };
    broken.paths['/instances']!.post!.parameters[0]!.in = 'body'; // OpenAPI 2's body parameter
    expect(validate(broken).valid).toBe(false);
  });

  test('lists every route the app serves and nothing it does not serve', () => {
    const { app } = appWithoutTemporal();
    const served = servedRoutes(app);
    const documented = documentedRoutes(document);
    process.stdout.write(
      `routes: served ${served.length} (${NOT_DOCUMENTED.length} of them the reference page), documented ${documented.length}\n`,
    );
    expect(new Set(served).size).toBe(served.length);
    // The exclusions are routes the app does serve, so the list cannot hide a stale entry.
    for (const route of NOT_DOCUMENTED) expect(served).toContain(route);
    const servedApi = served.filter((r) => !NOT_DOCUMENTED.includes(r));
    expect(servedApi.filter((r) => !documented.includes(r))).toEqual([]); // served, not documented
    expect(documented.filter((r) => !servedApi.includes(r))).toEqual([]); // documented, not served
    expect(servedApi.sort()).toEqual([...documented].sort());
    expect(served).toContain(`POST ${BASE_PATH}/instances/{id}/events/{eventId}/redeliver`);
  });

  test('every header, parameter and security scheme the README names is in it', () => {
    const json = JSON.stringify(document);
    const schemes = document.components.securitySchemes as Record<string, { name: string; description: string }>;
    expect(schemes.platform).toMatchObject({
      name: 'Authorization',
      description: expect.stringContaining('User <user secret>, Organization'),
    });
    expect(schemes.elementToken).toMatchObject({
      name: 'Authorization',
      description: expect.stringContaining('User <user secret>, Element'),
    });
    const op = (p: string, m: string) => document.paths[p]![m] as Record<string, unknown> & { parameters?: { name: string; in: string }[] };
    const headerNames = (p: string, m: string) => (op(p, m).parameters ?? []).filter((x) => x.in === 'header').map((x) => x.name);
    for (const [p, m] of [
      ['/instances', 'post'],
      ['/instances/{id}/events/redeliver', 'post'],
      ['/instances/{id}/events/{eventId}/redeliver', 'post'],
    ] as const) {
      expect(headerNames(p, m)).toContain('Idempotency-Key');
    }
    // The receiver's signature header is the one each webhook element declares; nobody needs secrets there.
    const webhookElements = [...elements.values()].filter((e) => e.webhooks);
    expect(webhookElements.length).toBeGreaterThan(0);
    for (const e of webhookElements)
      expect(headerNames('/events/{elementKey}/{instanceId}', 'post')).toContain(e.webhooks!.signatureHeader);
    expect(op('/events/{elementKey}/{instanceId}', 'post')).toMatchObject({
      security: [],
      requestBody: { content: { 'application/x-www-form-urlencoded': expect.anything() } },
      responses: { 503: { headers: { 'Retry-After': expect.anything() } } },
    });
    expect(op('/instances', 'get')).toMatchObject({ responses: { 200: { headers: { 'Elements-Next-Page-Token': expect.anything() } } } });
    expect(op('/instances', 'post')).toMatchObject({ security: [{ platform: [] }] });
    expect(op('/instances/{id}', 'get')).toMatchObject({ security: [{ platform: [] }, { elementToken: [] }] });
    expect(op('/healthz', 'get')).toMatchObject({ security: [] });
    // Every operation answers errors in the one error shape.
    for (const operations of Object.values(document.paths)) {
      for (const operation of Object.values(operations) as {
        responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
      }[]) {
        for (const [status, response] of Object.entries(operation.responses)) {
          if (Number(status) >= 400 && !(status === '503' && operation === document.paths['/healthz']!.get)) {
            expect(response.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
          }
        }
      }
    }
    expect(json).not.toContain('"$id"');
  });

  test('the examples are requests the API accepts and answers in the documented shapes', () => {
    const routes = apiRoutes(elements, createInstanceBody(elements));
    let requests = 0;
    let answers = 0;
    for (const route of routes) {
      // The create body's documented schema joins the event.* keys and an element's own keys, which zod
      // describes but cannot parse as one (it transforms the former and passes the latter through as
      // given): its examples go through the API's own checks below instead.
      const viaOwnChecks = route.method === 'post' && route.path === '/instances';
      for (const example of Object.values(route.body?.examples ?? {})) {
        if (!viaOwnChecks) route.body!.schema.parse(example.value);
        requests++;
      }
      for (const response of Object.values(route.responses)) {
        for (const example of Object.values(response.examples ?? {})) {
          (response.schema as z.ZodType).parse(example.value);
          answers++;
        }
      }
    }
    // A create example is also accepted by every check the API makes before calling the provider.
    const examples = createInstanceExamples(elements);
    expect(Object.keys(examples).sort()).toEqual([...elements.keys()].sort());
    for (const [key, example] of Object.entries(examples)) {
      const body = createInstanceSchema.parse(example.value);
      expect(body.element.key).toBe(key);
      const element = findElement(key)!;
      checkConfiguration(element, body.configuration);
      element.configurationSchema.parse(body.configuration);
      const events = parseEventsSettings(element, body.configuration, 1, false);
      expect(events.enabled).toBe(true);
    }
    process.stdout.write(`examples: ${requests} request bodies and ${answers} answers match their schemas\n`);
    expect(requests).toBeGreaterThanOrEqual(5);
    expect(answers).toBeGreaterThanOrEqual(10);
  });
});

describe('serving the document', () => {
  let server: Server;
  let base: string;
  let client: Client;
  let built: jest.SpyInstance;
  let expected: unknown;
  beforeAll(async () => {
    expected = JSON.parse(JSON.stringify(openApiDocument(elements)));
    built = jest.spyOn(documentModule, 'openApiDocument');
    const made = appWithoutTemporal();
    client = made.client;
    server = createServer(made.app.listener).listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    built.mockRestore();
    await new Promise((resolve) => server.close(resolve));
    await client.connection.close();
  });

  test('GET /elements/api-v2/openapi.json answers the document without secrets; it is built once, with the app', async () => {
    expect(built).toHaveBeenCalledTimes(1);
    for (let i = 0; i < 3; i++) {
      const res = await fetch(`${base}${BASE_PATH}/openapi.json`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await res.json()).toEqual(expected);
    }
    expect(built).toHaveBeenCalledTimes(1);
    // The rest of the API still wants its secrets.
    expect((await fetch(`${base}${BASE_PATH}/instances`)).status).toBe(401);
  });

  test('/docs is a page with no inline script, under a CSP that forbids one and does not force https', async () => {
    const res = await fetch(`${base}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html.match(/<script[^>]*>[^<]*<\/script>/g)).toEqual([
      '<script src="/docs/swagger-ui-bundle.js"></script>',
      '<script src="/docs/docs.js"></script>',
    ]);
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("script-src-attr 'none'");
    expect(csp).not.toContain('upgrade-insecure-requests');
    // The API's own answers keep helmet's policy as it was.
    expect((await fetch(`${base}${BASE_PATH}/openapi.json`)).headers.get('content-security-policy')).toContain('upgrade-insecure-requests');
    for (const asset of ['/docs/docs.js', '/docs/swagger-ui-bundle.js', '/docs/swagger-ui.css', '/docs/favicon-32x32.png']) {
      expect((await fetch(`${base}${asset}`)).status).toBe(200);
    }
  });
});
