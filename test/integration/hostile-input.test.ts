/**
 * Property-based hostile-input tests: thousands of generated bad inputs (fast-check) thrown at the
 * real API over real HTTP, backed by the real Temporal dev server (see harness.ts).
 *
 * For every input:
 * - never a 5xx; a refusal is a 4xx whose body is JSON with a `message` string;
 * - a 2xx only when the input is valid by the documented contract (README): the oracle below lists
 *   what makes an input invalid; inputs it cannot rule out may be accepted, and an accepted instance
 *   must keep working (its workflow completes its tasks) and is deleted again;
 * - refused POSTs leave no instance workflow behind (the only new ones are the accepted ones);
 * - refused webhooks produce no notification at the callback sink and are not recorded;
 * - the API process (this test process) is not prototype-polluted; healthz answers 200 at the end.
 *
 * Classes of input that broke the server when this file was written each have a property of their
 * own (Content-Encoding, oversized API keys, prototype names as resource names, deep nesting, forged
 * verifications), so the general properties keep exploring past them. The worker runs in a child
 * process, so that a workflow wedged by hostile input cannot keep this process from ending.
 */
import zlib from 'node:zlib';
import fc from 'fast-check';
import { freshbooksSignature } from '../fakes/freshbooks';
import {
  FRESHBOOKS_CLIENT,
  INSIGHTLY_KEY,
  PLATFORM_AUTH,
  createInstance,
  freshbooksSeedBody,
  insightlySeedBody,
  instanceWorkflowCount,
  report,
  sleep,
  startStack,
  type Stack,
  waitForVerified,
} from './harness';
import { decodedHistory } from './history-payloads';

jest.setTimeout(240_000);

// ------------------------------------------------------------------------------------------------
// Run counts: together a few thousand inputs, the file well under ~90 s.

const RUNS = {
  postArbitraryJson: 1_000,
  postArbitraryShapes: 800,
  postMutatedBodies: 500,
  postHugeValues: 12,
  postRawBytes: 800,
  postContentTypes: 150,
  patchArbitraryJson: 800,
  patchMutatedConfiguration: 400,
  webhookRandom: 1_500,
  webhookWrongKey: 200,
  webhookVerificationUnknownIds: 60,
  webhookHijack: 3,
  contentEncoding: 150,
  protoResource: 4,
  protoNamedResources: 5,
  oversizedApiKey: 20,
  deepNesting: 6,
};

// ------------------------------------------------------------------------------------------------
// HTTP

interface Answer {
  status: number;
  text: string;
  json: unknown;
  contentType: string;
}

async function http(
  url: string,
  init: { method: string; headers?: Record<string, string>; body?: string | Uint8Array; timeoutMs?: number },
): Promise<Answer> {
  const res = await fetch(url, {
    method: init.method,
    headers: init.headers,
    body: init.body,
    signal: AbortSignal.timeout(init.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, contentType: res.headers.get('content-type') ?? '' };
}

/** http() that answers a string instead of throwing (a timeout rejects with a DOMException, not an Error). */
async function tryHttp(url: string, init: Parameters<typeof http>[1]): Promise<Answer | string> {
  try {
    return await http(url, init);
  } catch (err) {
    return `no answer within ${init.timeoutMs ?? 30_000} ms (${String((err as { message?: unknown })?.message ?? err)})`;
  }
}

const short = (s: string, n = 600) => (s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s);

/** The properties every answer has: no 5xx, no 3xx, and refusals are 4xx JSON with a message. */
function checkAnswer(res: Answer, what: string, mayAccept: boolean): void {
  if (res.status >= 500) throw new Error(`${what}: server error ${res.status}: ${short(res.text)}`);
  if (res.status < 200 || (res.status >= 300 && res.status < 400))
    throw new Error(`${what}: unexpected status ${res.status}: ${short(res.text)}`);
  if (!res.contentType.includes('application/json'))
    throw new Error(`${what}: ${res.status} is not JSON (${res.contentType}): ${short(res.text)}`);
  if (res.status >= 400) {
    const message = (res.json as { message?: unknown } | undefined)?.message;
    if (typeof message !== 'string' || !message) throw new Error(`${what}: ${res.status} without a message string: ${short(res.text)}`);
  } else if (!mayAccept) {
    throw new Error(`${what}: invalid input accepted with ${res.status}: ${short(res.text)}`);
  }
}

// ------------------------------------------------------------------------------------------------
// Prototype pollution of the process running the API (the API runs inside this test process).

const PROTO_MARK = 'pwned_by_hostile_input';
const protoNames = () => [...Object.getOwnPropertyNames(Object.prototype), ...Object.getOwnPropertyNames(Array.prototype)].sort().join(',');
const PROTO_BASELINE = protoNames();
function checkNoPollution(what: string): void {
  const probe = {} as Record<string, unknown>;
  if (protoNames() !== PROTO_BASELINE || probe[PROTO_MARK] !== undefined || probe.password !== undefined || probe.url !== undefined) {
    throw new Error(`${what}: Object.prototype was polluted`);
  }
}

// ------------------------------------------------------------------------------------------------
// Hostile values

const LONE_SURROGATES = ['\ud800', '\udfff', 'a\ud83dz', '\udc00\ud800'];
const NUMERIC = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

const scalarAtoms = fc.constantFrom<unknown>(
  null,
  true,
  false,
  0,
  -0,
  1,
  -1,
  15,
  1.5,
  1e9,
  -1e9,
  1e308,
  -1e308,
  5e-324,
  2 ** 53 + 2,
  0.001,
  0.0009,
  525_600,
  525_601,
  '',
  ' ',
  '\t',
  'NaN',
  '-NaN',
  'Infinity',
  '-Infinity',
  '1e309',
  '-1',
  '-5',
  '0',
  '-0',
  '0x1F',
  '1_000',
  '15 ',
  ' 15',
  '+15',
  '١٥',
  '１５',
  '15abc',
  '1e9',
  '1e-9',
  '.5',
  '5.',
  'true',
  'false',
  'TRUE',
  'yes',
  'null',
  'undefined',
  '[object Object]',
  '{}',
  '[]',
  '{"a":',
  'ftp://x',
  'javascript:alert(1)',
  'http://',
  'http:x',
  'http://[::1',
  'http://127.0.0.1:1/x',
  'file:///etc/passwd',
  'data:text/plain,x',
  '\u0000',
  '\u202e',
  'e\u0301',
  '𝕏𝕏𝕏',
  '🙂'.repeat(10),
  "'; DROP TABLE x; --",
  '${gmtDate:yyyy}',
  '${',
  '%',
  '%E0%A4%A',
  '../../etc/passwd',
  'polling',
  'webhooks',
  'insightly',
  'freshbooksv2',
  ...PROTO_KEYS,
  ...LONE_SURROGATES,
);

const unicodeString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.string({ maxLength: 40 }),
  fc.constantFrom(...LONE_SURROGATES).chain((s) => fc.string({ maxLength: 5 }).map((t) => `${t}${s}${t}`)),
);

/** Strings from 1 KB to ~100 KB. */
const longString = fc
  .tuple(fc.integer({ min: 1_000, max: 100_000 }), fc.constantFrom('x', 'é', '𝕏', '\u0000', '%', '"', '\\', '${'))
  .map(([n, c]) => c.repeat(Math.ceil(n / c.length)));

/**
 * A stand-in for a deeply nested object, written into the JSON text directly (see toJsonText). The
 * general properties nest up to 1,500 levels; deeper nesting has a property of its own below.
 */
const DEEP = '@@deeply-nested@@';
const deep = (depth: number) => ({ [DEEP]: depth });
const deepValue = fc.integer({ min: 50, max: 1_500 }).map(deep);

const protoObject = fc
  .tuple(
    fc.constantFrom('__proto__', 'constructor', 'prototype'),
    fc.constantFrom<unknown>({ [PROTO_MARK]: true }, { password: 'x', url: '/x' }, { prototype: { [PROTO_MARK]: 1 } }),
  )
  .map(([k, v]) => ownKeys([[k, v]]));

const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: scalarAtoms },
  { weight: 3, arbitrary: unicodeString },
  { weight: 2, arbitrary: fc.double() },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: longString },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.array(unicodeString, { maxLength: 5 }) },
  { weight: 1, arbitrary: fc.dictionary(unicodeString, scalarAtoms, { maxKeys: 4 }) },
  { weight: 1, arbitrary: protoObject },
  { weight: 1, arbitrary: deepValue },
);

/** An object whose keys are own, enumerable data properties even when named `__proto__`. */
function ownKeys(entries: [string, unknown][]): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
}

/** Every UTF-8 byte as %XX (encodeURIComponent throws on lone surrogates). */
const percentEncode = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');

// ------------------------------------------------------------------------------------------------
// JSON text with deep nesting spliced in, and the value the server sees (the text parsed again).

function toJsonText(value: unknown): string {
  const deep: number[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v) && DEEP in (v as object)) {
      deep.push((v as Record<string, number>)[DEEP]!);
      return DEEP;
    }
    return v;
  });
  if (text === undefined) return 'null';
  let i = 0;
  return text.replace(new RegExp(`"${DEEP}"`, 'g'), () => {
    const d = deep[i++]!;
    return `${'{"a":'.repeat(d)}1${'}'.repeat(d)}`;
  });
}

/** What the server parses, with deep nesting kept shallow (an object is an object for the oracle). */
function asServerSees(value: unknown): unknown {
  const text = JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) && DEEP in (v as object) ? { a: { a: 1 } } : v,
  );
  return text === undefined ? undefined : JSON.parse(text);
}

function tryJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------
// The oracle: problems that make a body invalid by the documented contract (README). An empty list
// means "may be valid", never "must be accepted".

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Obj, k: string) => Object.prototype.hasOwnProperty.call(o, k);
const num = (v: unknown): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'string' && NUMERIC.test(v.trim()) ? Number(v.trim()) : undefined;
const boolish = (v: unknown) => v === true || v === false || v === 'true' || v === 'false';
const nonEmpty = (v: unknown, max = Infinity) => typeof v === 'string' && v.length >= 1 && v.length <= max;
function httpUrl(v: unknown): boolean {
  if (typeof v !== 'string' || v.length > 2048) return false;
  try {
    const u = new URL(v);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

const INSIGHTLY_RESOURCES = ['contacts', 'accounts', 'leads', 'opportunities'];
const RESOURCE_FIELDS = ['url', 'idField', 'datesConfiguration', 'pageSize', 'pollDelay', 'filterByUpdatedDate', 'createdCheckTolerance'];
const DATE_FIELDS = [
  'updatedDateField',
  'updatedDateFormat',
  'updatedDateTimezone',
  'createdDateField',
  'createdDateFormat',
  'createdDateTimezone',
];
const FB_CODE = '<issued-code>';

function resourceProblems(name: string, r: unknown, polling: boolean): string[] {
  const p: string[] = [];
  if (name === '') p.push('empty resource name');
  if (!isObj(r)) return [...p, `resource ${name} is not an object`];
  const n = (k: string) => (has(r, k) ? num(r[k]) : undefined);
  if (has(r, 'url') && !nonEmpty(r.url, 4096)) p.push('url');
  if (has(r, 'idField') && !nonEmpty(r.idField, 256)) p.push('idField');
  if (has(r, 'datesConfiguration')) {
    const d = r.datesConfiguration;
    if (!isObj(d)) p.push('datesConfiguration');
    else for (const f of DATE_FIELDS) if (has(d, f) && !nonEmpty(d[f])) p.push(`datesConfiguration.${f}`);
  }
  if (has(r, 'pageSize')) {
    const v = n('pageSize');
    if (v === undefined || !Number.isInteger(v) || v < 1 || v > 10_000) p.push('pageSize');
  }
  for (const k of ['pollDelay', 'createdCheckTolerance']) {
    if (has(r, k)) {
      const v = n(k);
      if (v === undefined || !(v >= 0 && v <= 86_400)) p.push(k);
    }
  }
  if (has(r, 'filterByUpdatedDate') && !boolish(r.filterByUpdatedDate)) p.push('filterByUpdatedDate');
  if (polling && !INSIGHTLY_RESOURCES.includes(name) && !(nonEmpty(r.url) && nonEmpty(r.idField))) p.push(`${name} has no defaults`);
  return p;
}

function eventsProblems(c: Obj, element: 'insightly' | 'freshbooksv2'): string[] {
  const p: string[] = [];
  const polling = element === 'insightly';
  if (has(c, 'event.notification.enabled') && !boolish(c['event.notification.enabled'])) p.push('enabled');
  const enabled = c['event.notification.enabled'] === true || c['event.notification.enabled'] === 'true';
  if (has(c, 'event.vendor.type')) {
    const allowed = polling ? ['polling'] : ['webhook', 'webhooks'];
    if (!allowed.includes(c['event.vendor.type'] as string)) p.push('vendor.type');
  }
  if (has(c, 'event.notification.callback.url') ? !httpUrl(c['event.notification.callback.url']) : enabled) p.push('callback.url');
  if (has(c, 'event.notification.signature.key') && !nonEmpty(c['event.notification.signature.key'], 1024)) p.push('signature.key');
  if (has(c, 'event.poller.refresh_interval')) {
    const v = num(c['event.poller.refresh_interval']);
    if (v === undefined || !(v > 0 && v <= 525_600) || (polling && v < 0.001)) p.push('refresh_interval');
  }
  if (has(c, 'event.poller.configuration')) {
    let pc = c['event.poller.configuration'];
    if (typeof pc === 'string') {
      try {
        pc = JSON.parse(pc);
      } catch {
        p.push('poller configuration is broken JSON');
        pc = {};
      }
    }
    if (!isObj(pc)) p.push('poller configuration is not an object');
    else {
      if (Object.keys(pc).length > 100) p.push('more than 100 resources');
      for (const [name, r] of Object.entries(pc)) p.push(...resourceProblems(name, r, polling));
    }
  }
  if (has(c, 'event.objects')) {
    const o = c['event.objects'];
    if (typeof o !== 'string' || !o.trim() || o.trim().length > 4096) p.push('event.objects');
  }
  return p;
}

function configurationProblems(c: Obj, element: 'insightly' | 'freshbooksv2'): string[] {
  const p: string[] = [];
  if (element === 'insightly') {
    if (c.password !== INSIGHTLY_KEY || !has(c, 'password')) p.push('password is not the Insightly API key');
    if (has(c, 'username') && typeof c.username !== 'string') p.push('username');
  } else {
    if (!has(c, 'oauth.api.key') || c['oauth.api.key'] !== FRESHBOOKS_CLIENT.clientId) p.push('oauth.api.key');
    if (!has(c, 'oauth.api.secret') || c['oauth.api.secret'] !== FRESHBOOKS_CLIENT.clientSecret) p.push('oauth.api.secret');
    if (!has(c, 'oauth.callback.url') || c['oauth.callback.url'] !== FRESHBOOKS_CLIENT.redirectUri) p.push('oauth.callback.url');
    const biz = c['business.name'];
    if (!has(c, 'business.name') || typeof biz !== 'string' || biz.trim().toLowerCase() !== 'mybiz') p.push('business.name');
  }
  return [...p, ...eventsProblems(c, element)];
}

/** Problems of a POST /instances body (as the server parses it). */
function createProblems(body: unknown): string[] {
  if (!isObj(body)) return ['body is not an object'];
  const p: string[] = [];
  const element = isObj(body.element) ? body.element.key : undefined;
  if (element !== 'insightly' && element !== 'freshbooksv2') return ['unknown element'];
  if (typeof body.name !== 'string' || !body.name.trim() || body.name.trim().length > 200) p.push('name');
  if (
    has(body, 'tags') &&
    !(Array.isArray(body.tags) && body.tags.length <= 100 && body.tags.every((t) => typeof t === 'string' && t.length <= 200))
  ) {
    p.push('tags');
  }
  if (has(body, 'providerData') && !isObj(body.providerData)) p.push('providerData');
  if (element === 'freshbooksv2' && !(isObj(body.providerData) && has(body.providerData, 'code') && body.providerData.code === FB_CODE)) {
    p.push('providerData.code');
  }
  if (has(body, 'configuration') && !isObj(body.configuration)) return [...p, 'configuration'];
  return [...p, ...configurationProblems((body.configuration as Obj | undefined) ?? {}, element)];
}

/** Problems of a PATCH body against the instance's current configuration (null removes a key). */
function patchProblems(body: unknown, current: Obj): { problems: string[]; next?: Obj } {
  if (!isObj(body)) return { problems: ['body is not an object'] };
  const p: string[] = [];
  for (const k of Object.keys(body)) if (!['name', 'tags', 'configuration'].includes(k)) p.push(`unknown key ${k}`);
  if (has(body, 'name') && !(typeof body.name === 'string' && body.name.trim() && body.name.trim().length <= 200)) p.push('name');
  if (
    has(body, 'tags') &&
    !(Array.isArray(body.tags) && body.tags.length <= 100 && body.tags.every((t) => typeof t === 'string' && t.length <= 200))
  ) {
    p.push('tags');
  }
  if (!has(body, 'configuration')) return { problems: p, next: current };
  if (!isObj(body.configuration)) return { problems: [...p, 'configuration'] };
  const next: Obj = ownKeys(Object.entries(current));
  for (const [k, v] of Object.entries(body.configuration)) {
    if (v === null) delete next[k];
    else Object.defineProperty(next, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return { problems: [...p, ...configurationProblems(next, 'insightly')], next };
}

// ------------------------------------------------------------------------------------------------
// Mutations of valid bodies, as data (so fast-check prints and shrinks them): set or delete a path.

type Mutation = { path: readonly string[]; value: unknown } | { path: readonly string[]; remove: true };

function applyMutation(body: Obj, m: Mutation): void {
  let target: Obj = body;
  for (const key of m.path.slice(0, -1)) {
    if (!isObj(target[key]) || !has(target, key))
      Object.defineProperty(target, key, { value: {}, enumerable: true, writable: true, configurable: true });
    target = target[key] as Obj;
  }
  const last = m.path[m.path.length - 1]!;
  if ('remove' in m) delete target[last];
  else Object.defineProperty(target, last, { value: structuredClone(m.value), enumerable: true, writable: true, configurable: true });
}

const INSIGHTLY_KEYS = ['username', 'password'];
const FRESHBOOKS_KEYS = ['oauth.callback.url', 'oauth.api.key', 'oauth.api.secret', 'business.name'];
const EVENT_KEYS = [
  'event.notification.enabled',
  'event.vendor.type',
  'event.notification.callback.url',
  'event.notification.signature.key',
  'event.poller.refresh_interval',
  'event.poller.configuration',
  'event.objects',
];
const configKey = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...EVENT_KEYS, ...INSIGHTLY_KEYS, ...FRESHBOOKS_KEYS) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTO_KEYS) },
  { weight: 1, arbitrary: unicodeString },
);

const refreshInterval = fc.oneof(
  fc.constantFrom<unknown>(
    1e9,
    '1e9',
    1e-9,
    0,
    -0,
    '0',
    -15,
    '-15',
    0.0009,
    0.001,
    '0.001',
    1,
    525_600,
    525_601,
    '525601',
    'NaN',
    'Infinity',
    '',
    ' ',
    null,
    [15],
    { minutes: 15 },
    true,
  ),
  fc.double(),
  fc.integer().map(String),
);

const templateUrl = fc
  .tuple(
    fc.constantFrom('contacts', 'accounts', 'leads', 'opportunities', 'tasks', 'CONTACTS', ''),
    fc.constantFrom('gmtDate', 'date', 'dateTimeZone', 'epoch', 'yesterday', ''),
    fc.oneof(
      fc.constantFrom(
        'yyyy-MM-dd HH:mm:ss',
        "yyyy-MM-dd'T'HH:mm:ss.SSSXXX",
        "''",
        "'",
        'QQQ',
        'GMT+05:00:HH',
        'Europe/Paris:yyyy',
        'Nowhere/Zone:yyyy',
        's',
        'us',
        '',
      ),
      fc.string({ maxLength: 30 }),
      fc.string({ unit: 'binary', maxLength: 12 }),
    ),
    fc.constantFrom('updated_after_utc', 'DATE_UPDATED_UTC', 'lastName', 'field_name'),
    fc.constantFrom('=', '>=', '>', ' = ', '<'),
  )
  .map(([obj, kind, arg, field, op]) => `/hubs/crm/${obj}?where=${field}${op}'\${${kind}${arg ? `:${arg}` : ''}}'`);

const resourceValue = fc.oneof(
  hostileValue,
  fc.record(
    {
      url: fc.oneof(templateUrl, hostileValue),
      idField: fc.oneof(fc.constantFrom('CONTACT_ID', '$.id', ''), hostileValue),
      datesConfiguration: fc.oneof(fc.dictionary(fc.constantFrom(...DATE_FIELDS), fc.oneof(unicodeString, scalarAtoms)), hostileValue),
      pageSize: fc.oneof(fc.constantFrom<unknown>(0, 1, 500, 501, 10_000, 10_001, 1.5, '50', '-1'), hostileValue),
      pollDelay: hostileValue,
      filterByUpdatedDate: hostileValue,
      createdCheckTolerance: hostileValue,
    },
    { requiredKeys: [] },
  ),
);

const noProtoKey = (v: unknown) => !(isObj(v) && has(v, '__proto__'));
const PROTO_RESOURCE_NAMES = PROTO_KEYS.filter((k) => k !== '__proto__');

const pollerConfiguration = fc.oneof(
  { weight: 3, arbitrary: hostileValue.filter(noProtoKey) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 101, max: 10_000 }).map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`r${i}`, {}]))),
  },
  { weight: 1, arbitrary: fc.constant(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`r${i}`, {}]))) },
  {
    weight: 2,
    // The seed's configuration as a JSON string: broken (truncated or with garbage) or intact.
    arbitrary: fc
      .tuple(fc.nat(), fc.oneof(fc.constant(''), fc.constantFrom(',', '}', '{', '"', '\\', ']', 'x', '\u0000')), fc.boolean())
      .map(([cut, garbage, intact]) => {
        const text = JSON.stringify(
          insightlySeedBody({ callbackUrl: 'http://127.0.0.1:1/cb', refreshInterval: 15 }).configuration['event.poller.configuration'],
        );
        if (intact) return text;
        const at = cut % text.length;
        return `${text.slice(0, at)}${garbage}${garbage ? text.slice(at) : ''}`;
      }),
  },
  {
    weight: 2,
    arbitrary: fc
      .dictionary(
        fc.oneof(
          fc.constantFrom(...INSIGHTLY_RESOURCES, ...PROTO_RESOURCE_NAMES, ''),
          unicodeString.filter((k) => k !== '__proto__'),
        ),
        resourceValue,
        { maxKeys: 4 },
      )
      .map((d) => ownKeys(Object.entries(d))),
  },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...PROTO_RESOURCE_NAMES), resourceValue).map(([k, v]) => ownKeys([[k, v]])) },
);

/** Long API keys go to Insightly in a header; they have a property of their own below. */
const oversizedKey = (key: string | undefined, value: unknown) => key === 'password' && typeof value === 'string' && value.length > 2_000;
const withoutOversizedKey = (c: unknown) => !isObj(c) || !oversizedKey('password', c.password);

const anyMutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ path: configKey.map((k) => ['configuration', k]), value: hostileValue }) },
  { weight: 2, arbitrary: configKey.map((k): Mutation => ({ path: ['configuration', k], remove: true })) },
  { weight: 2, arbitrary: fc.record({ path: fc.constant(['configuration', 'event.poller.refresh_interval']), value: refreshInterval }) },
  { weight: 3, arbitrary: fc.record({ path: fc.constant(['configuration', 'event.poller.configuration']), value: pollerConfiguration }) },
  {
    weight: 3,
    arbitrary: fc.record({
      path: fc
        .tuple(fc.constantFrom('contacts', 'accounts', 'leads'), fc.constantFrom(...RESOURCE_FIELDS))
        .map(([r, f]) => ['configuration', 'event.poller.configuration', r, f]),
      value: fc.oneof(templateUrl, hostileValue),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      path: fc
        .constantFrom(...DATE_FIELDS)
        .map((f) => ['configuration', 'event.poller.configuration', 'contacts', 'datesConfiguration', f]),
      value: fc.oneof(
        unicodeString,
        fc.constantFrom('yyyy-QQ', "''''", "'unterminated", 'GGGGG', 'Nowhere/Zone', 'GMT+99:00', 'Etc/GMT+14', ''),
        hostileValue,
      ),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      path: fc
        .oneof(fc.constantFrom('element', 'providerData', 'configuration', 'tags', 'name', ...PROTO_KEYS), unicodeString)
        .map((k) => [k]),
      value: hostileValue,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      path: fc.constant(['element', 'key']),
      value: fc.oneof(
        fc.constantFrom('Insightly', ' insightly', 'insightly\u0000', 'freshbooks', 'salesforce', ...PROTO_KEYS),
        hostileValue,
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ path: fc.constant(['providerData', 'code']), value: hostileValue }) },
  {
    weight: 1,
    arbitrary: fc.record({ path: fc.constant(['tags']), value: fc.array(fc.oneof(unicodeString, scalarAtoms), { maxLength: 120 }) }),
  },
);

const mutation = anyMutation.filter((m) =>
  'value' in m
    ? !(
        m.path[0] === 'configuration' &&
        (m.path.length === 1 ? !withoutOversizedKey(m.value) : m.path.length === 2 && oversizedKey(m.path[1], m.value))
      )
    : true,
);

function seedBody(element: 'insightly' | 'freshbooksv2', callbackUrl: string): Obj {
  const body =
    element === 'insightly' ? insightlySeedBody({ callbackUrl, refreshInterval: 15 }) : freshbooksSeedBody({ code: FB_CODE, callbackUrl });
  return JSON.parse(JSON.stringify(body)) as Obj;
}

// ------------------------------------------------------------------------------------------------

describe('hostile input: never a 5xx, nothing started or delivered for a refusal', () => {
  let stack: Stack;
  let insightlyInstance: { id: number; token: string };
  let fbInstance: { id: number };
  /** The PATCH target's configuration as the oracle models it (secrets in clear). */
  let patchModel: Obj;
  const counts: Record<string, { runs: number; accepted: number; byStatus: Record<number, number> }> = {};
  const timings: Record<string, number> = {};

  const tally = (prop: string, status: number) => {
    const c = (counts[prop] ??= { runs: 0, accepted: 0, byStatus: {} });
    c.runs++;
    if (status >= 200 && status < 300) c.accepted++;
    c.byStatus[status] = (c.byStatus[status] ?? 0) + 1;
  };
  const auth = { authorization: PLATFORM_AUTH };
  const get = (route: string, timeoutMs = 30_000) => http(`${stack.api}${route}`, { method: 'GET', headers: auth, timeoutMs });

  /** DELETE with a bounded wait; an instance that does not stop in time is terminated. The DELETE's status, 0 when it timed out. */
  async function deleteOrTerminate(id: number, timeoutMs = 10_000): Promise<number> {
    if (await instanceProblem(id)) {
      await stack.client.workflow
        .getHandle(`instance-${id}`)
        .terminate('hostile-input test cleanup: broken instance')
        .catch(() => undefined);
      return 0;
    }
    const answer = await tryHttp(`${stack.api}/instances/${id}`, { method: 'DELETE', headers: auth, timeoutMs });
    const res = typeof answer === 'string' ? undefined : answer;
    if (res?.status !== 200)
      await stack.client.workflow
        .getHandle(`instance-${id}`)
        .terminate('hostile-input test cleanup')
        .catch(() => undefined);
    return res?.status ?? 0;
  }

  /**
   * An accepted instance must keep working: its workflow completes its tasks. Judged from Temporal
   * (describe), not through the API, so that no API request is left waiting on a broken workflow.
   */
  async function instanceProblem(id: number): Promise<string | undefined> {
    const handle = stack.client.workflow.getHandle(`instance-${id}`);
    const deadline = Date.now() + 3_000;
    for (;;) {
      const d = await handle.describe();
      if (d.status.name !== 'RUNNING') return `its workflow is ${d.status.name}`;
      const task = d.raw.pendingWorkflowTask;
      if (!task) return undefined;
      if ((task.attempt ?? 1) > 1) {
        const history = await decodedHistory(stack.client, handle.workflowId);
        const failed = [...(history.events ?? [])]
          .reverse()
          .find((e) => e.workflowTaskFailedEventAttributes || e.workflowTaskTimedOutEventAttributes);
        const why =
          failed?.workflowTaskFailedEventAttributes?.failure?.message ??
          (failed?.workflowTaskTimedOutEventAttributes ? 'the workflow task timed out' : '?');
        return `its workflow task is on attempt ${task.attempt}: ${why}`;
      }
      if (Date.now() > deadline) return 'its workflow task did not complete within 3 s';
      await sleep(100);
    }
  }

  /** Instances a property created and has not deleted yet; how many it created in all. */
  const accepted: number[] = [];
  let acceptedCount = 0;

  async function deleteAccepted(): Promise<string[]> {
    const ids = accepted.splice(0);
    const problems: string[] = [];
    for (let i = 0; i < ids.length; i += 10) {
      await Promise.all(
        ids.slice(i, i + 10).map(async (id) => {
          const status = await deleteOrTerminate(id);
          if (status !== 200) problems.push(`DELETE of accepted instance ${id} answered ${status || 'nothing within 10 s'}`);
        }),
      );
    }
    return problems;
  }

  /**
   * instanceWorkflowCount(stack), less the runs that continued as new (an instance polling every few
   * seconds continues as new now and then, and each run counts as an execution).
   */
  async function instanceCount(): Promise<number> {
    const all = await instanceWorkflowCount(stack);
    const { count: continued } = await stack.client.workflow.count(
      `WorkflowType = 'instanceWorkflow' AND TaskQueue = '${stack.taskQueue}' AND ExecutionStatus = 'ContinuedAsNew'`,
    );
    return all - continued;
  }

  /** Runs a POST property and checks the instance workflows: exactly the accepted ones are new. */
  async function withWorkflowAccounting(run: () => Promise<void>): Promise<void> {
    const before = await instanceCount();
    acceptedCount = 0;
    let problems: string[] = [];
    try {
      await run();
    } finally {
      problems = await deleteAccepted();
    }
    const expected = before + acceptedCount;
    let now = await instanceCount();
    for (let i = 0; i < 50 && now !== expected; i++) {
      await sleep(100);
      now = await instanceCount();
    }
    await sleep(500); // a late start would show up now
    now = await instanceCount();
    expect({ instanceWorkflows: now, deleteProblems: problems }).toEqual({ instanceWorkflows: expected, deleteProblems: [] });
  }

  /** POSTs a create body; checks the answer against the oracle; remembers (and checks) what it created. */
  async function postInstance(
    prop: string,
    value: unknown,
    opts: { contentType?: string; contentEncoding?: string; raw?: string | Uint8Array; mayAccept?: boolean; keep?: boolean } = {},
  ): Promise<Answer> {
    let text: string | Uint8Array;
    let mayAccept = opts.mayAccept;
    if (opts.raw !== undefined) text = opts.raw;
    else {
      mayAccept ??= createProblems(asServerSees(value)).length === 0;
      // FreshBooks codes are single-use: a fresh one replaces the placeholder at send time.
      let sent = value;
      if (isObj(sent) && isObj(sent.providerData) && sent.providerData.code === FB_CODE) {
        sent = { ...sent, providerData: { ...sent.providerData, code: stack.freshbooks.issueCode() } };
      }
      text = toJsonText(sent);
    }
    const headers: Record<string, string> = { ...auth };
    // No contentType key: application/json; a contentType key set to undefined: no content-type at all.
    const contentType = 'contentType' in opts ? opts.contentType : 'application/json';
    if (contentType !== undefined) headers['content-type'] = contentType;
    if (opts.contentEncoding !== undefined) headers['content-encoding'] = opts.contentEncoding;
    const res = await http(`${stack.api}/instances`, {
      method: 'POST',
      headers,
      body: typeof text === 'string' ? Buffer.from(text, 'utf8') : text,
    });
    tally(prop, res.status);
    if (res.status >= 200 && res.status < 300) {
      const b = res.json as { id?: unknown; token?: unknown; element?: { key?: unknown }; configuration?: Obj };
      if (typeof b?.id === 'number') {
        accepted.push(b.id);
        acceptedCount++;
      }
      checkAnswer(res, `POST /instances (${prop})`, mayAccept ?? false);
      if (typeof b?.id !== 'number' || typeof b.token !== 'string')
        throw new Error(`${prop}: 2xx without id and token: ${short(res.text)}`);
      const secrets = b.element?.key === 'freshbooksv2' ? ['oauth.api.secret'] : ['password'];
      for (const secret of [...secrets, 'event.notification.signature.key']) {
        const v = b.configuration?.[secret];
        if (v !== undefined && v !== '********') throw new Error(`${prop}: ${secret} not redacted in ${short(res.text)}`);
      }
      const problem = await instanceProblem(b.id);
      if (problem) throw new Error(`${prop}: the instance was created but does not work: ${problem}`);
      if (!opts.keep) {
        // Deleted at once: hundreds of accepted instances polling side by side would slow the rest down.
        accepted.splice(accepted.indexOf(b.id), 1);
        const status = await deleteOrTerminate(b.id);
        if (status !== 200)
          throw new Error(`${prop}: the instance was created but DELETE ${status ? `answered ${status}` : 'did not answer within 10 s'}`);
      }
    }
    checkAnswer(res, `POST /instances (${prop})`, mayAccept ?? false);
    checkNoPollution(prop);
    return res;
  }

  beforeEach(() => {
    timings[expect.getState().currentTestName ?? '?'] = Date.now();
  });
  afterEach(() => {
    const name = expect.getState().currentTestName ?? '?';
    timings[name] = Date.now() - (timings[name] ?? Date.now());
  });

  beforeAll(async () => {
    // The worker runs in a child process: an instance workflow that hostile input wedges there cannot
    // keep this process from ending (stack.stop() kills the child).
    stack = await startStack({ worker: 'none' });
    await stack.spawnWorker();
    // The oracle treats the API key check as a yes/no question; the fake's rate limit would add 429s.
    stack.insightly.rateLimitPerSecond = 0;
    for (let i = 0; i < 300; i++) {
      const health = await http(`${stack.api}/healthz`, { method: 'GET' });
      if (health.status === 200) break;
      await sleep(100);
    }
    const seed = insightlySeedBody({ callbackUrl: stack.sink.url, refreshInterval: 15 });
    insightlyInstance = await createInstance(stack, seed);
    patchModel = JSON.parse(JSON.stringify(seed.configuration)) as Obj;
    fbInstance = await createInstance(stack, freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl: stack.sink.url }));
    await stack.sink.waitFor(
      () => stack.freshbooks.callbacks().filter((c) => c.uri.endsWith(`/${fbInstance.id}`) && c.verified).length === 18,
      30_000,
      'verified FreshBooks callbacks',
    );
    await waitForVerified(stack, fbInstance.id, 18);
  }, 90_000);

  afterAll(async () => {
    const total = Object.values(counts).reduce((n, c) => n + c.runs, 0);
    console.log(
      [
        `hostile-input: ${total} inputs`,
        ...Object.entries(counts).map(
          ([k, v]) => `  ${k}: ${v.runs} inputs, ${v.accepted} accepted, statuses ${JSON.stringify(v.byStatus)}`,
        ),
        'durations:',
        ...Object.entries(timings).map(([k, v]) => `  ${(v / 1000).toFixed(1)} s  ${k.replace(/^hostile input: [^]*? refusal /, '')}`),
      ].join('\n'),
    );
    if (!stack) return;
    for (const id of [insightlyInstance?.id, fbInstance?.id]) if (id) await deleteOrTerminate(id);
    // Anything still running (a broken instance) is terminated, so no API request is left waiting on it.
    for await (const w of stack.client.workflow.list({ query: `TaskQueue = '${stack.taskQueue}' AND ExecutionStatus = 'Running'` })) {
      await stack.client.workflow
        .getHandle(w.workflowId)
        .terminate('hostile-input test cleanup')
        .catch(() => undefined);
    }
    await sleep(1_000);
    await stack.stop();
  }, 60_000);

  // ---------------------------------------------------------------------------------------------
  // 1. POST /instances

  test('POST /instances: arbitrary JSON values are refused with a 4xx', async () => {
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(fc.jsonValue({ maxDepth: 4 }), fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }), fc.anything({ maxDepth: 3 })),
          async (value) => {
            await postInstance('postArbitraryJson', value, { mayAccept: false });
          },
        ),
        { numRuns: RUNS.postArbitraryJson },
      );
    });
  });

  test('POST /instances: arbitrary bodies shaped like an instance are refused with a 4xx', async () => {
    const shape = fc.record(
      {
        element: fc.oneof(
          hostileValue,
          fc.record({ key: fc.oneof(fc.constantFrom('insightly', 'freshbooksv2'), hostileValue) }, { requiredKeys: [] }),
        ),
        providerData: fc.oneof(hostileValue, fc.record({ code: hostileValue })),
        configuration: fc
          .oneof(
            hostileValue,
            fc.dictionary(configKey, hostileValue, { maxKeys: 8 }).map((d) => ownKeys(Object.entries(d))),
          )
          .filter(withoutOversizedKey),
        tags: hostileValue,
        name: hostileValue,
      },
      { requiredKeys: [] },
    );
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(shape, async (value) => {
          await postInstance('postArbitraryShapes', value);
        }),
        { numRuns: RUNS.postArbitraryShapes },
      );
    });
  });

  test('POST /instances: mutated Insightly and FreshBooks bodies: 4xx unless valid, never a 5xx, no stray workflow', async () => {
    const input = fc.record({
      element: fc.constantFrom<'insightly' | 'freshbooksv2'>('insightly', 'insightly', 'insightly', 'freshbooksv2'),
      mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
    });
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(input, async ({ element, mutations }) => {
          const body = seedBody(element, stack.sink.url);
          for (const m of mutations) applyMutation(body, m);
          await postInstance('postMutatedBodies', body);
        }),
        { numRuns: RUNS.postMutatedBodies },
      );
    });
  });

  test('POST /instances: values of several hundred KB (bodies under the 1 MB limit) are never a 5xx', async () => {
    const input = fc.record({
      key: fc.constantFrom('x-notes', 'name', 'username', 'event.objects', 'event.notification.signature.key'),
      size: fc.integer({ min: 100_000, max: 1_000_000 - 4_000 }),
      char: fc.constantFrom('x', 'é', '\u0000'),
    });
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(input, async ({ key, size, char }) => {
          const body = seedBody('insightly', stack.sink.url);
          const bytesPerChar = Buffer.byteLength(JSON.stringify(char)) - 2;
          const value = char.repeat(Math.floor(size / bytesPerChar));
          if (key === 'name') body.name = value;
          else (body.configuration as Obj)[key] = value;
          await postInstance('postHugeValues', body);
        }),
        { numRuns: RUNS.postHugeValues },
      );
    });
  });

  test('POST /instances: random bytes as an application/json body are refused with a 4xx', async () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 2_000 }),
      fc.string({ unit: 'binary', maxLength: 300 }).map((s) => new TextEncoder().encode(s)),
      fc.json({ maxDepth: 3 }).chain((j) => fc.nat({ max: j.length }).map((n) => new TextEncoder().encode(j.slice(0, n)))),
      fc
        .integer({ min: 1_000, max: 200_000 })
        .chain((d) => fc.constantFrom('[', '{"a":').map((open) => new TextEncoder().encode(open.repeat(d)))),
      fc
        .constantFrom('\ufeff{}', '{"name": "x",}', "{'name': 'x'}", '{"a":1}{"a":2}', 'NaN', '"\\ud800"', '{"__proto__": 1}')
        .map((s) => new TextEncoder().encode(s)),
    );
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(
          bytes,
          fc.constantFrom('application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON'),
          async (raw, contentType) => {
            await postInstance('postRawBytes', undefined, { raw, contentType, mayAccept: false });
          },
        ),
        { numRuns: RUNS.postRawBytes },
      );
    });
  });

  test('POST /instances: a valid body under a wrong content type is refused with a 4xx', async () => {
    const printable = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
    const anyValue = fc.string({ unit: printable, maxLength: 60 });
    const contentType = fc.oneof(
      fc.constantFrom(
        'text/plain',
        'text/json',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/merge-patch+json',
        'application/vnd.api+json',
        'application/json-patch+json',
        'application/jsonx',
        'json',
        '*/*',
        'application/*',
        '',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        'application/json; charset=utf-32',
        'application/json; charset=nonsense',
        'application/json; charset',
        'application/json; charset="utf-8',
        'application/json;;;',
        'application/json, text/plain',
      ),
      anyValue,
      anyValue.map((s) => `application/json; ${s}`),
    );
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(fc.option(contentType, { nil: undefined }), async (ct) => {
          const body = seedBody('insightly', stack.sink.url);
          // Only a content type naming application/json (with whatever parameters) may lead to an accepted body.
          await postInstance('postContentTypes', undefined, {
            raw: new TextEncoder().encode(JSON.stringify(body)),
            contentType: ct,
            mayAccept: ct !== undefined && /^\s*application\/json\s*(;|$)/i.test(ct),
          });
        }),
        { numRuns: RUNS.postContentTypes },
      );
    });
  });

  // ---------------------------------------------------------------------------------------------
  // 2. PATCH /instances/{id}

  async function patch(prop: string, body: unknown): Promise<void> {
    const { problems, next } = patchProblems(asServerSees(body), patchModel);
    const res = await http(`${stack.api}/instances/${insightlyInstance.id}`, {
      method: 'PATCH',
      headers: { ...auth, 'content-type': 'application/json' },
      body: toJsonText(body),
    });
    tally(prop, res.status);
    checkAnswer(res, `PATCH /instances/{id} (${prop}); oracle: ${problems.join(', ') || 'may be valid'}`, problems.length === 0);
    checkNoPollution(prop);
    if (res.status === 200) {
      if (next) patchModel = next;
      const view = res.json as { id?: unknown; configuration?: Obj };
      if (view.id !== insightlyInstance.id) throw new Error(`${prop}: the PATCH answer is not the instance: ${short(res.text)}`);
      if (view.configuration?.password !== '********') throw new Error(`${prop}: password not redacted: ${short(res.text)}`);
      const problem = await instanceProblem(insightlyInstance.id);
      if (problem) throw new Error(`${prop}: the PATCH was answered 200 but the instance no longer works: ${problem}`);
    }
  }

  test('PATCH /instances/{id}: arbitrary JSON bodies: 4xx unless valid, never a 5xx', async () => {
    const before = await instanceCount();
    const body = fc.oneof(
      fc.jsonValue({ maxDepth: 4 }),
      fc.jsonValue({ maxDepth: 3, stringUnit: 'binary' }),
      fc.record(
        { name: hostileValue, tags: hostileValue, configuration: hostileValue.filter(withoutOversizedKey), extra: hostileValue },
        { requiredKeys: [] },
      ),
      fc.tuple(fc.constantFrom(...PROTO_KEYS), hostileValue).map(([k, v]) => ownKeys([[k, v]])),
    );
    await fc.assert(
      fc.asyncProperty(body, async (value) => {
        await patch('patchArbitraryJson', value);
      }),
      { numRuns: RUNS.patchArbitraryJson },
    );
    expect(await instanceCount()).toBe(before);
  });

  test('PATCH /instances/{id}: mutated configuration changes: 4xx unless valid, never a 5xx; the instance keeps running', async () => {
    const before = await instanceCount();
    const change = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.dictionary(configKey, fc.oneof(hostileValue, fc.constant(null)), { minKeys: 1, maxKeys: 3 }).map((d) => ({
          configuration: ownKeys(
            Object.entries(d).filter(([k, v]) => (k !== 'event.poller.configuration' || noProtoKey(v)) && !oversizedKey(k, v)),
          ),
        })),
      },
      { weight: 2, arbitrary: fc.record({ configuration: fc.record({ 'event.poller.refresh_interval': refreshInterval }) }) },
      { weight: 3, arbitrary: fc.record({ configuration: fc.record({ 'event.poller.configuration': pollerConfiguration }) }) },
      {
        weight: 1,
        arbitrary: fc.record({
          configuration: fc.constantFrom<Obj>(
            { password: null },
            { password: 'wrong' },
            { 'event.notification.callback.url': null },
            { 'event.notification.enabled': 'false' },
            { 'event.notification.enabled': true },
          ),
        }),
      },
      {
        weight: 1,
        arbitrary: fc.record(
          { name: hostileValue, tags: fc.oneof(hostileValue, fc.array(unicodeString, { maxLength: 3 })) },
          { requiredKeys: [] },
        ),
      },
    );
    await fc.assert(
      fc.asyncProperty(change, async (value) => {
        await patch('patchMutatedConfiguration', value);
      }),
      { numRuns: RUNS.patchMutatedConfiguration },
    );
    expect(await instanceProblem(insightlyInstance.id)).toBeUndefined();
    expect(await instanceCount()).toBe(before);
  });

  // ---------------------------------------------------------------------------------------------
  // 3. The FreshBooks webhook receiver

  const receiver = () => `${stack.api}/events/freshbooksv2/${fbInstance.id}`;
  const fbView = async () =>
    (await get(`/instances/${fbInstance.id}`)).json as {
      status: { webhooks: { received: number; pending: number }; callbacks: { wanted: number; registered: number; verified: number } };
    };

  const headerChars = fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c));
  const headerValue = fc.oneof(
    fc.string({ unit: headerChars, maxLength: 80 }),
    fc.string({ unit: fc.constantFrom('\t', ...Array.from({ length: 0x60 }, (_, i) => String.fromCharCode(0xa0 + i))), maxLength: 20 }),
    fc.uint8Array({ minLength: 0, maxLength: 64 }).map((b) => Buffer.from(b).toString('base64')),
    fc.constantFrom(
      '',
      ' ',
      '=',
      '==',
      'sha256=',
      'A'.repeat(8_000),
      Buffer.alloc(32).toString('base64'),
      Buffer.alloc(32, 255).toString('base64url'),
    ),
  );
  const FORM_KEYS = [
    'name',
    'object_id',
    'account_id',
    'business_id',
    'identity_id',
    'user_id',
    'callback_id',
    'callbackid',
    'system',
    '__proto__',
    'constructor',
  ];
  const formKey = fc
    .oneof({ weight: 4, arbitrary: fc.constantFrom(...FORM_KEYS) }, { weight: 1, arbitrary: unicodeString })
    .filter((k) => k !== 'verifier');
  const formValue = fc.oneof(
    fc.constantFrom(
      'invoice.create',
      'invoice.update',
      'client.delete',
      'callback.verify',
      'invoice.sendByEmail',
      'x.y',
      '1',
      '0',
      '-1',
      '6BApk',
      '',
      'a'.repeat(5_000),
    ),
    unicodeString,
  );
  const formBody = fc.array(fc.tuple(formKey, formValue), { maxLength: 8 }).map((pairs) => new URLSearchParams(pairs).toString());
  const webhookBody = fc.oneof(
    { weight: 5, arbitrary: formBody.map((s) => new TextEncoder().encode(s)) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2_000 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((s) => new TextEncoder().encode(s)) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((j) => new TextEncoder().encode(JSON.stringify(j))) },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 1, max: 300_000 })
        .map((n) => new TextEncoder().encode(`name=invoice.update&object_id=${'9'.repeat(n)}`)),
    },
  );
  const webhookContentType = fc.oneof(
    { weight: 4, arbitrary: fc.constant('application/x-www-form-urlencoded') },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'application/x-www-form-urlencoded; charset=utf-8',
        'application/x-www-form-urlencoded; charset=latin1',
        'application/x-www-form-urlencoded; charset=nonsense',
        'application/x-www-form-urlencoded; charset',
        'APPLICATION/X-WWW-FORM-URLENCODED',
        'application/x-www-form-urlencodedx',
        'application/json',
        'text/plain',
        'multipart/form-data; boundary=--x',
        '',
      ),
    },
    { weight: 1, arbitrary: fc.string({ unit: headerChars, maxLength: 60 }) },
  );
  // Content-Encoding has a property of its own below.
  const SAFE_HEADER_NAMES = [
    'x-freshbooks-hmac-sha256',
    'X-FreshBooks-Hmac-SHA256',
    'authorization',
    'accept',
    'accept-encoding',
    'x-forwarded-for',
    'x-request-id',
    'user-agent',
    'cookie',
  ];
  const extraHeaders = fc.dictionary(
    fc.oneof(fc.constantFrom(...SAFE_HEADER_NAMES), fc.stringMatching(/^x-[a-z0-9-]{1,20}$/)),
    headerValue,
    { maxKeys: 4 },
  );
  const pathId = fc.oneof(
    { weight: 8, arbitrary: fc.constant('real') },
    {
      weight: 1,
      arbitrary: fc.oneof(
        fc.nat().map(String),
        fc.constantFrom('0', '-1', '1e3', '9'.repeat(16), '%00', '..', '%2e%2e', '__proto__'),
        unicodeString.map(percentEncode),
      ),
    },
  );

  test('webhook receiver: random forms, bytes, headers, signatures and content types are refused; nothing is recorded or delivered', async () => {
    const sinkBefore = stack.sink.received.length;
    const viewBefore = await fbView();
    await fc.assert(
      fc.asyncProperty(
        webhookBody,
        webhookContentType,
        fc.option(headerValue, { nil: undefined }),
        extraHeaders,
        pathId,
        async (body, contentType, signature, headers, id) => {
          const sent: Record<string, string> = { ...headers };
          if (contentType !== '') sent['content-type'] = contentType;
          if (signature !== undefined) sent['x-freshbooks-hmac-sha256'] = signature;
          const url = id === 'real' ? receiver() : `${stack.api}/events/freshbooksv2/${id}`;
          const res = await http(url, { method: 'POST', headers: sent, body });
          tally('webhookRandom', res.status);
          checkAnswer(res, `POST webhook ${short(Buffer.from(body).toString('latin1'), 200)}`, false);
          checkNoPollution('webhookRandom');
        },
      ),
      { numRuns: RUNS.webhookRandom },
    );
    await sleep(1_500);
    expect(stack.sink.received.length).toBe(sinkBefore);
    const viewAfter = await fbView();
    expect(viewAfter.status.webhooks).toEqual(viewBefore.status.webhooks);
    expect(viewAfter.status.callbacks).toEqual({ wanted: 18, registered: 18, verified: 18 });
  });

  test('webhook receiver: a well-formed webhook signed with a wrong key is refused with 401', async () => {
    const sinkBefore = stack.sink.received.length;
    const verifiers = new Set(stack.freshbooks.callbacks().map((c) => c.verifier));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('invoice.create', 'client.update', 'payment.delete', 'item.sendByEmail'),
        fc.oneof(
          fc.nat().map(String),
          unicodeString.filter((s) => s !== ''),
        ),
        fc.string({ maxLength: 40 }).filter((k) => !verifiers.has(k)),
        async (event, objectId, key) => {
          const fields: [string, string][] = [
            ['name', event],
            ['object_id', objectId],
            ['account_id', '6BApk'],
          ];
          const res = await http(receiver(), {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-freshbooks-hmac-sha256': freshbooksSignature(fields, key) },
            body: new URLSearchParams(fields).toString(),
          });
          tally('webhookWrongKey', res.status);
          checkAnswer(res, 'POST webhook signed with a wrong key', false);
          if (res.status !== 401) throw new Error(`expected 401, got ${res.status}: ${res.text}`);
        },
      ),
      { numRuns: RUNS.webhookWrongKey },
    );
    await sleep(1_000);
    expect(stack.sink.received.length).toBe(sinkBefore);
    expect((await fbView()).status.webhooks.received).toBe(0);
  });

  test('webhook receiver: verification posts for callbacks the instance does not have change nothing', async () => {
    const ours = new Set(stack.freshbooks.callbacks().map((c) => String(c.callbackid)));
    await fc.assert(
      fc.asyncProperty(
        fc
          .oneof(
            fc.nat().map(String),
            unicodeString.filter((s) => s !== ''),
          )
          .filter((id) => !ours.has(id)),
        fc.string({ maxLength: 40 }),
        async (callbackId, verifier) => {
          const res = await http(receiver(), {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams([
              ['name', 'callback.verify'],
              ['object_id', callbackId],
              ['verifier', verifier],
            ]).toString(),
          });
          tally('webhookVerificationUnknownIds', res.status);
          checkAnswer(res, 'verification post for an unknown callback', true);
        },
      ),
      { numRuns: RUNS.webhookVerificationUnknownIds },
    );
    const view = await fbView();
    expect(view.status.callbacks).toEqual({ wanted: 18, registered: 18, verified: 18 });
    // The real callbacks still take FreshBooks' own signed webhooks.
    expect(await stack.freshbooks.sendWebhook('invoice.update', 424242)).toEqual([200]);
    await stack.sink.waitFor(() => stack.sink.acceptedEvents().some((e) => e.objectId === '424242'), 20_000, 'the genuine webhook');
  });

  test('webhook receiver: an unsigned verification post cannot make a forged webhook pass', async () => {
    // A fresh instance of its own: this property attacks the instance's verifiers.
    const target = await createInstance(stack, freshbooksSeedBody({ code: stack.freshbooks.issueCode(), callbackUrl: stack.sink.url }));
    const callbacks = () => stack.freshbooks.callbacks().filter((c) => c.uri.endsWith(`/${target.id}`));
    await stack.sink.waitFor(() => callbacks().filter((c) => c.verified).length === 18, 30_000, 'verified callbacks');
    await waitForVerified(stack, target.id, 18);
    const url = `${stack.api}/events/freshbooksv2/${target.id}`;
    const sinkBefore = stack.sink.received.filter((r) => r.body.message.instanceId === target.id).length;
    let delivered = -1;
    let deleteStatus: number | undefined;
    try {
      await fc.assert(
        fc.asyncProperty(fc.nat({ max: 17 }), fc.string({ maxLength: 20 }), fc.nat(), async (which, attackerVerifier, objectId) => {
          const cb = callbacks()[which]!;
          fc.pre(attackerVerifier !== cb.verifier);
          // Anyone can post a "verification" (it carries no signature) naming a real callback id...
          const verification = await http(url, {
            method: 'POST',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            body: new URLSearchParams([
              ['name', 'callback.verify'],
              ['object_id', String(cb.callbackid)],
              ['verifier', attackerVerifier],
            ]).toString(),
          });
          checkAnswer(verification, 'forged verification', true);
          await sleep(1_200); // past the receiver's forced verifier refresh
          // ...but a webhook signed with the verifier it named must still be refused.
          const fields: [string, string][] = [
            ['name', cb.event],
            ['object_id', `forged-${objectId}`],
            ['account_id', '6BApk'],
          ];
          const forged = await http(url, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'x-freshbooks-hmac-sha256': freshbooksSignature(fields, attackerVerifier),
            },
            body: new URLSearchParams(fields).toString(),
          });
          tally('webhookHijack', forged.status);
          checkAnswer(
            forged,
            `webhook signed with the forged verifier ${JSON.stringify(attackerVerifier)} for callback ${cb.callbackid} (${cb.event})`,
            false,
          );
        }),
        { numRuns: RUNS.webhookHijack },
      );
    } finally {
      await sleep(1_000);
      delivered = stack.sink.received.filter((r) => r.body.message.instanceId === target.id).length - sinkBefore;
      deleteStatus = await deleteOrTerminate(target.id, 30_000);
      report(`attacked instance ${target.id}`, {
        'forged notifications delivered to the callback': delivered,
        'DELETE answered': deleteStatus,
      });
    }
    // After the property (whose own failure, if any, is the one reported).
    expect(delivered).toBe(0);
    expect(deleteStatus).toBe(200);
  });

  // ---------------------------------------------------------------------------------------------
  // 4. Inputs each with a property of their own

  test('Content-Encoding: undecodable or empty compressed bodies are a 4xx on both the JSON API and the webhook receiver', async () => {
    const validGzip = zlib.gzipSync(Buffer.from(JSON.stringify(seedBody('insightly', 'http://127.0.0.1:1/cb'))));
    const input = fc.record({
      route: fc.constantFrom('instances', 'webhook'),
      encoding: fc.constantFrom('gzip', 'x-gzip', 'deflate', 'br', 'identity', 'compress', 'gzip, gzip', 'GZIP', 'zstd'),
      body: fc.oneof(
        fc.constant(new Uint8Array(0)),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.nat({ max: validGzip.length - 1 }).map((n) => new Uint8Array(validGzip.subarray(0, n))),
        fc.constant(new Uint8Array(Buffer.from([0x1f, 0x8b]))),
      ),
    });
    const sinkBefore = stack.sink.received.length;
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(input, async ({ route, encoding, body }) => {
          // Bytes that happen to be a complete, valid body under an identity encoding may be accepted.
          const mayAccept = route === 'instances' && /^identity$/i.test(encoding) && createProblems(tryJson(body)).length === 0;
          if (route === 'instances') {
            await postInstance('contentEncoding', undefined, { raw: body, contentEncoding: encoding, mayAccept });
            return;
          }
          const res = await http(receiver(), {
            method: 'POST',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              'content-encoding': encoding,
              'x-freshbooks-hmac-sha256': 'AAAA',
            },
            body,
          });
          tally('contentEncoding', res.status);
          checkAnswer(res, `POST webhook with Content-Encoding ${encoding}`, false);
        }),
        { numRuns: RUNS.contentEncoding },
      );
    });
    expect(stack.sink.received.length).toBe(sinkBefore);
  });

  test('an oversized Insightly API key is a 4xx, when creating and when changing an instance', async () => {
    const input = fc.record({
      length: fc.integer({ min: 1, max: 200_000 }),
      char: fc.constantFrom('k', 'é', '𝕏'),
      via: fc.constantFrom('POST', 'PATCH'),
    });
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(input, async ({ length, char, via }) => {
          const key = char.repeat(length);
          if (via === 'POST') {
            const body = seedBody('insightly', stack.sink.url);
            (body.configuration as Obj).password = key;
            await postInstance('oversizedApiKey', body);
          } else {
            const res = await http(`${stack.api}/instances/${insightlyInstance.id}`, {
              method: 'PATCH',
              headers: { ...auth, 'content-type': 'application/json' },
              body: JSON.stringify({ configuration: { password: key } }),
            });
            tally('oversizedApiKey', res.status);
            checkAnswer(res, `PATCH with an API key of ${length} × ${char}`, false);
          }
        }),
        { numRuns: RUNS.oversizedApiKey },
      );
    });
  });

  /** A poller configuration holding one resource, named `name`, as an object or as a JSON string. */
  function oneResourceBody(name: string, withUrl: boolean, asString: boolean): Obj {
    const body = seedBody('insightly', stack.sink.url);
    const conf = body.configuration as Obj;
    conf['event.poller.refresh_interval'] = 0.005; // polls every 0.3 s
    const resource = withUrl
      ? { url: "/hubs/crm/contacts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}'", idField: 'CONTACT_ID' }
      : {};
    const poller = ownKeys([[name, resource]]);
    conf['event.poller.configuration'] = asString ? toJsonText(poller) : poller;
    return body;
  }

  test('a resource named __proto__ is refused, never silently replaced by the defaults', async () => {
    const input = fc.record({ withUrl: fc.boolean(), asString: fc.boolean() });
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(input, async ({ withUrl, asString }) => {
          // zod's record would drop the key without a word and leave the defaults in its place (README).
          const res = await postInstance('protoResource', oneResourceBody('__proto__', withUrl, asString), { mayAccept: false });
          const message = (res.json as { message?: string } | undefined)?.message ?? '';
          if (res.status !== 400 || !message.includes('__proto__')) {
            throw new Error(`a poller configuration of only "__proto__" was answered ${res.status}: ${short(message)}`);
          }
        }),
        { numRuns: RUNS.protoResource },
      );
    });
  });

  test('resources named like Object.prototype members (constructor, toString, …) are polled like any other', async () => {
    const input = fc.record({ name: fc.constantFrom(...PROTO_RESOURCE_NAMES), asString: fc.boolean(), withContacts: fc.boolean() });
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(input, async ({ name, asString, withContacts }) => {
          const body = oneResourceBody(name, true, false);
          const poller = body.configuration as Obj;
          if (withContacts) (poller['event.poller.configuration'] as Obj).contacts = {};
          if (asString) poller['event.poller.configuration'] = toJsonText(poller['event.poller.configuration']);
          const res = await postInstance('protoNamedResources', body, { mayAccept: true, keep: true });
          if (res.status !== 200) throw new Error(`resource "${name}" (url and idField given) was refused: ${res.status}`);
          const id = (res.json as { id: number }).id;
          await sleep(1_500);
          const status = (
            (await get(`/instances/${id}`)).json as {
              status?: { polls?: number; resources?: Record<string, { watermark?: string; lastError?: string; lastPollAt?: string }> };
            }
          ).status;
          const mine = status?.resources && has(status.resources, name) ? status.resources[name] : undefined;
          if (!status?.polls || !mine?.lastPollAt || mine.lastError || Number.isNaN(Date.parse(mine.watermark ?? ''))) {
            throw new Error(
              `resource "${name}" was accepted, but after 1.5 s of polls due every 0.3 s the instance's status is ${short(JSON.stringify(status))}`,
            );
          }
        }),
        { numRuns: RUNS.protoNamedResources },
      );
    });
  });

  test('deeply nested configuration values: never a 5xx, and an accepted instance keeps working', async () => {
    const input = fc.record({ depth: fc.integer({ min: 1_000, max: 6_000 }), via: fc.constantFrom('POST', 'PATCH') });
    const seed = () => seedBody('insightly', stack.sink.url);
    await withWorkflowAccounting(async () => {
      await fc.assert(
        fc.asyncProperty(input, async ({ depth, via }) => {
          if (via === 'POST') {
            const body = seed();
            (body.configuration as Obj)['x-notes'] = deep(depth);
            await postInstance('deepNesting', body, { mayAccept: true });
            return;
          }
          const id = (await createInstance(stack, seed())).id;
          accepted.push(id);
          acceptedCount++;
          const res = await http(`${stack.api}/instances/${id}`, {
            method: 'PATCH',
            headers: { ...auth, 'content-type': 'application/json' },
            body: toJsonText({ configuration: { 'x-notes': deep(depth) } }),
          });
          tally('deepNesting', res.status);
          checkAnswer(res, `PATCH with a value nested ${depth} deep`, true);
          // Deeper than the 32 levels any body may nest: refused, and the instance works on unchanged.
          if (res.status !== 400) throw new Error(`PATCH with a value nested ${depth} deep was answered ${res.status}, not 400`);
          const problem = await instanceProblem(id);
          if (problem)
            throw new Error(`PATCH with a value nested ${depth} deep was refused, but then the instance does not work: ${problem}`);
          accepted.splice(accepted.indexOf(id), 1);
          const status = await deleteOrTerminate(id, 30_000);
          if (status !== 200)
            throw new Error(
              `PATCH with a value nested ${depth} deep was refused, but DELETE ${status ? `answered ${status}` : 'did not answer within 30 s'}`,
            );
        }),
        { numRuns: RUNS.deepNesting },
      );
    });
  });

  // ---------------------------------------------------------------------------------------------

  test('the API is still up: healthz answers 200 and the instances still work', async () => {
    const health = await http(`${stack.api}/healthz`, { method: 'GET' });
    expect(health.status).toBe(200);
    const list = await get('/instances');
    expect(list.status).toBe(200);
    expect((list.json as { id: number }[]).map((i) => i.id)).toEqual(expect.arrayContaining([insightlyInstance.id, fbInstance.id]));
    checkNoPollution('end');
  });
});
