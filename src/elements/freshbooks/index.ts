import { z } from 'zod';
import { ProviderError } from '../../errors';
import { defineElement } from '../define';
import { example } from './example';
import type { ConfigurationKey, Element, OAuthTokens, ProviderContext, StandardizedWebhook } from '../element';
import { fetchWithRetry } from '../http';
import { freshbooksSignatureChecker } from './signature';

/** Objects watched by default, each for create, update and delete (`event.objects` narrows them). */
const DEFAULT_OBJECTS = ['client', 'invoice', 'estimate', 'expense', 'payment', 'item'];
const KNOWN_OBJECTS = new Set([
  ...DEFAULT_OBJECTS,
  'project',
  'time_entry',
  'bill',
  'bill_vendor',
  'credit_note',
  'category',
  'service',
  'tax',
]);
const ACTIONS = ['create', 'update', 'delete'];
/** FreshBooks' verifiers are short codes; a long one is not theirs and would only bloat history. */
const MAX_VERIFIER_CHARS = 256;

/** Base URL settings: the API, and the consent page users are sent to (tests point both at a fake). */
const API_URL = 'FRESHBOOKS_API_URL';
const AUTH_URL = 'FRESHBOOKS_AUTH_URL';

const configuration: ConfigurationKey[] = [
  {
    name: 'oauth.api.key',
    label: 'Client ID',
    type: 'string',
    required: true,
    secret: false,
    description: 'The client id of your FreshBooks app (FreshBooks developer page → your app).',
  },
  {
    name: 'oauth.api.secret',
    label: 'Client secret',
    type: 'password',
    required: true,
    secret: true,
    description: 'The client secret of your FreshBooks app; exchanges the authorization code and refreshes tokens.',
  },
  {
    name: 'oauth.callback.url',
    label: 'Redirect URI',
    type: 'url',
    required: true,
    secret: false,
    description: 'The redirect URI registered with your FreshBooks app; FreshBooks sends the user back there with the code.',
    maxLength: 2048,
  },
  {
    name: 'business.name',
    label: 'Business name',
    type: 'string',
    required: true,
    secret: false,
    description: "The FreshBooks business to watch, by its name (the user's businesses are listed if none matches).",
    maxLength: 500,
  },
];

const tokenResponse = z.object({
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  expires_in: z.coerce.number().positive().optional(),
  created_at: z.coerce.number().optional(),
});

const identityResponse = z.object({
  response: z.object({
    business_memberships: z
      .array(z.object({ business: z.object({ id: z.coerce.number(), account_id: z.string().nullish(), name: z.string() }) }))
      .default([]),
  }),
});

const callbackListResponse = z.object({
  response: z.object({
    result: z.object({
      callbacks: z.array(z.object({ callbackid: z.coerce.number(), event: z.string(), uri: z.string() })).default([]),
      page: z.coerce.number().default(1),
      pages: z.coerce.number().default(1),
    }),
  }),
});
/** Pages of the account's callbacks read at most, 100 each: far more than any account registers. */
const MAX_CALLBACK_PAGES = 50;

const callbackResponse = z.object({
  response: z.object({ result: z.object({ callback: z.object({ callbackid: z.coerce.number() }) }) }),
});

interface FreshBooksState {
  accountId: string;
  businessId: number;
  tokens: OAuthTokens;
}

const base = (url: string) => url.replace(/\/+$/, '');
const TWELVE_HOURS_S = 12 * 3600;

/**
 * A FreshBooks call, retried on 429 and 5xx unless `once`: a request that creates something is sent
 * once, and its caller looks before it sends again (a 5xx may come after FreshBooks acted on it).
 */
async function providerCall(url: string, init: RequestInit, what: string, signal?: AbortSignal, once = false): Promise<Response> {
  try {
    return await fetchWithRetry(url, init, { retries: once ? 0 : 3, maxWaitMs: 30_000, signal });
  } catch (err) {
    throw new ProviderError(502, `FreshBooks could not be reached for ${what}: ${(err as Error).message}`);
  }
}

/** FreshBooks' reason for a refusal, without echoing anything we sent (codes and secrets stay out). */
async function reason(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const detail = body.error_description ?? body.error ?? body.message;
    if (typeof detail === 'string') return detail.slice(0, 300);
  } catch {
    // not JSON
  }
  return `HTTP ${response.status}`;
}

async function tokenRequest(
  ctx: { urls: ProviderContext['urls']; configuration: Record<string, unknown>; signal?: AbortSignal },
  grant: Record<string, string>,
): Promise<OAuthTokens> {
  const c = ctx.configuration;
  const response = await providerCall(
    `${base(ctx.urls[API_URL]!)}/auth/oauth/token`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({
        client_id: c['oauth.api.key'],
        client_secret: c['oauth.api.secret'],
        redirect_uri: c['oauth.callback.url'],
        ...grant,
      }),
    },
    'the token exchange',
    ctx.signal,
  );
  if (!response.ok) {
    const why = await reason(response);
    throw new ProviderError(
      response.status >= 500 ? 502 : 400,
      `FreshBooks refused the ${grant.grant_type === 'refresh_token' ? 'token refresh' : 'authorization code'}: ${why}`,
    );
  }
  const body = tokenResponse.parse(await response.json());
  const issuedMs = body.created_at ? body.created_at * 1000 : Date.now();
  return {
    accessToken: body.access_token,
    refreshToken: body.refresh_token,
    issuedAtMs: issuedMs,
    expiresAtMs: issuedMs + (body.expires_in ?? TWELVE_HOURS_S) * 1000,
  };
}

function stateOf(ctx: ProviderContext): FreshBooksState {
  return ctx.state as unknown as FreshBooksState;
}

function callbacksUrl(ctx: ProviderContext, id?: string): string {
  const { accountId } = stateOf(ctx);
  return `${base(ctx.urls[API_URL]!)}/events/account/${encodeURIComponent(accountId)}/events/callbacks${id ? `/${encodeURIComponent(id)}` : ''}`;
}

async function authorized(ctx: ProviderContext, url: string, init: RequestInit, what: string, once = false): Promise<Response> {
  const response = await providerCall(
    url,
    {
      ...init,
      headers: {
        authorization: `Bearer ${stateOf(ctx).tokens.accessToken}`,
        'content-type': 'application/json',
        accept: 'application/json',
      },
    },
    what,
    ctx.signal,
    once,
  );
  return response;
}

/** The account's callbacks at `uri`, page by page; `stop` ends the listing early. */
async function callbacksAt(
  ctx: ProviderContext,
  uri: string,
  stop: (found: { callbackId: string; event: string }[]) => boolean = () => false,
): Promise<{ callbackId: string; event: string }[]> {
  const found: { callbackId: string; event: string }[] = [];
  for (let page = 1; page <= MAX_CALLBACK_PAGES; page++) {
    const response = await authorized(ctx, `${callbacksUrl(ctx)}?page=${page}&per_page=100`, { method: 'GET' }, 'the callback list');
    if (!response.ok) throw new ProviderError(502, `FreshBooks refused to list callbacks: ${await reason(response)}`);
    const { result } = callbackListResponse.parse(await response.json()).response;
    found.push(...result.callbacks.filter((c) => c.uri === uri).map((c) => ({ callbackId: String(c.callbackid), event: c.event })));
    if (stop(found) || page >= result.pages) break;
  }
  return found;
}

/** The id of the account's callback for `event` at `uri`, if FreshBooks has one. */
async function findCallback(ctx: ProviderContext, event: string, uri: string): Promise<string | undefined> {
  const mine = (c: { event: string }) => c.event === event;
  return (await callbacksAt(ctx, uri, (found) => found.some(mine))).find(mine)?.callbackId;
}

const plural = (object: string) =>
  /[^aeiou]y$/.test(object) ? `${object.slice(0, -1)}ies` : /(s|x|ch|sh)$/.test(object) ? `${object}es` : `${object}s`;

const eventTypes: Record<string, StandardizedWebhook['eventType']> = {
  create: 'CREATED',
  update: 'UPDATED',
  delete: 'DELETED',
};

export const freshbooks: Element = defineElement({
  id: 2,
  key: 'freshbooksv2',
  name: 'FreshBooks',
  description: 'FreshBooks accounting: clients, invoices, estimates, expenses, payments and more, watched by webhooks.',
  vendorTypes: ['webhooks'],
  configuration,
  example,
  urlSettings: { [API_URL]: 'https://api.freshbooks.com', [AUTH_URL]: 'https://auth.freshbooks.com' },

  oauth: {
    apiKeyField: 'oauth.api.key',
    apiSecretField: 'oauth.api.secret',
    callbackUrlField: 'oauth.callback.url',
    authorizeUrl({ urls, apiKey, callbackUrl, state, scope }) {
      const query = new URLSearchParams({ client_id: apiKey, response_type: 'code', redirect_uri: callbackUrl });
      if (state !== undefined) query.set('state', state);
      if (scope !== undefined) query.set('scope', scope);
      return `${base(urls[AUTH_URL]!)}/oauth/authorize?${query}`;
    },
  },

  async connect({ urls, configuration, providerData, signal }) {
    const code = providerData?.code;
    if (typeof code !== 'string' || !code) {
      throw new ProviderError(400, 'providerData.code (the FreshBooks authorization code) is required');
    }
    const tokens = await tokenRequest({ urls, configuration, signal }, { grant_type: 'authorization_code', code });
    const response = await providerCall(
      `${base(urls[API_URL]!)}/auth/api/v1/users/me`,
      { headers: { authorization: `Bearer ${tokens.accessToken}`, accept: 'application/json' } },
      'the identity',
      signal,
    );
    if (!response.ok) throw new ProviderError(502, `FreshBooks refused the identity request: ${await reason(response)}`);
    const identity = identityResponse.parse(await response.json());
    const wanted = String(configuration['business.name']).trim();
    const businesses = identity.response.business_memberships.map((m) => m.business);
    const business = businesses.find((b) => b.name === wanted) ?? businesses.find((b) => b.name.toLowerCase() === wanted.toLowerCase());
    if (!business || !business.account_id) {
      throw new ProviderError(
        400,
        `No FreshBooks business named "${wanted}" for this user${businesses.length ? `; the user's businesses: ${businesses.map((b) => `"${b.name}"`).join(', ')}` : ''}`,
      );
    }
    const state: FreshBooksState = { accountId: business.account_id, businessId: business.id, tokens };
    return state as unknown as Record<string, unknown>;
  },

  webhooks: {
    maxEventsPerNotification: 20,
    objects: [...KNOWN_OBJECTS],
    defaultObjects: DEFAULT_OBJECTS,
    actions: ACTIONS,
    signatureHeader: 'x-freshbooks-hmac-sha256',

    eventsFor(objects) {
      const chosen = objects ?? DEFAULT_OBJECTS;
      const unknown = chosen.filter((o) => !KNOWN_OBJECTS.has(o.replace(/s$/, '')) && !KNOWN_OBJECTS.has(o));
      const singular = chosen.map((o) => (KNOWN_OBJECTS.has(o) ? o : o.replace(/s$/, '')));
      return { events: singular.filter((o) => KNOWN_OBJECTS.has(o)).flatMap((o) => ACTIONS.map((a) => `${o}.${a}`)), unknown };
    },

    async register(ctx, event, uri) {
      // A registration FreshBooks accepted but whose answer was lost is retried: adopt the callback it
      // made rather than register a second one for the same event.
      const existing = await findCallback(ctx, event, uri);
      if (existing) return { callbackId: existing };
      const response = await authorized(
        ctx,
        callbacksUrl(ctx),
        { method: 'POST', body: JSON.stringify({ callback: { event, uri } }) },
        'a callback registration',
        true,
      );
      if (!response.ok) throw new ProviderError(502, `FreshBooks refused to register ${event}: ${await reason(response)}`);
      const body = callbackResponse.parse(await response.json());
      return { callbackId: String(body.response.result.callback.callbackid) };
    },

    callbacksAt(ctx, uri) {
      return callbacksAt(ctx, uri);
    },

    async confirm(ctx, callbackId, verifier) {
      const response = await authorized(
        ctx,
        callbacksUrl(ctx, callbackId),
        { method: 'PUT', body: JSON.stringify({ callback: { verifier } }) },
        'a callback verification',
      );
      if (!response.ok) {
        // A 4xx other than auth or rate limits is FreshBooks saying the verifier is wrong: final.
        const refused = response.status >= 400 && response.status < 500 && ![401, 408, 429].includes(response.status);
        throw new ProviderError(refused ? 400 : 502, `FreshBooks refused to verify callback ${callbackId}: ${await reason(response)}`);
      }
      await response.body?.cancel();
    },

    async requestVerification(ctx, callbackId) {
      const response = await authorized(
        ctx,
        callbacksUrl(ctx, callbackId),
        { method: 'PUT', body: JSON.stringify({ callback: { resend: true } }) },
        'a verification resend',
      );
      await response.body?.cancel();
      if (!response.ok)
        throw new ProviderError(502, `FreshBooks refused to resend the verification of callback ${callbackId}: HTTP ${response.status}`);
    },

    async deregister(ctx, callbackId) {
      const response = await authorized(ctx, callbacksUrl(ctx, callbackId), { method: 'DELETE' }, 'a callback removal');
      await response.body?.cancel();
      // Already gone is as good as removed.
      if (!response.ok && response.status !== 404) {
        throw new ProviderError(502, `FreshBooks refused to remove callback ${callbackId}: HTTP ${response.status}`);
      }
    },

    parse(rawBody, contentType) {
      if (!contentType || !/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
        return 'FreshBooks webhooks are application/x-www-form-urlencoded';
      }
      // A field sent twice must say the same both times: the signature accepts either reading of a
      // repeat, so differing values would let a signed post be delivered (and keyed) as another.
      const seen = new Map<string, string>();
      for (const [key, value] of new URLSearchParams(rawBody).entries()) {
        const earlier = seen.get(key);
        if (earlier === undefined) seen.set(key, value);
        else if (earlier !== value) return `field ${key.slice(0, 40)} is repeated with different values`;
      }
      const fields = [...seen.entries()];
      const get = (k: string) => seen.get(k);
      const verifier = get('verifier');
      // The verification's field names are uncertain (providers.md): a `verifier` anywhere makes it one.
      if (verifier !== undefined) {
        const callbackId = get('object_id') ?? get('callback_id') ?? get('callbackid');
        if (!callbackId) return 'a verification needs object_id';
        if (!/^\d{1,20}$/.test(callbackId)) return "a verification's object_id must be a callback id (digits)";
        if (!verifier || verifier.length > MAX_VERIFIER_CHARS)
          return `a verification's verifier must be 1 to ${MAX_VERIFIER_CHARS} characters`;
        return { kind: 'verification', callbackId, verifier };
      }
      const name = get('name');
      if (!name || !/^[a-z_]+\.[A-Za-z_]+$/.test(name)) return 'name must be an event like invoice.create';
      if (!get('object_id')) return 'object_id is required';
      return { kind: 'notification', event: name, fields };
    },

    signatureChecker(webhook, rawBody, signature) {
      return freshbooksSignatureChecker(webhook.fields, rawBody, signature);
    },

    // FreshBooks sends no delivery id and no time: identical signed fields are the same webhook.
    deliveryKey(webhook) {
      return JSON.stringify(webhook.fields);
    },

    standardize(fields) {
      const [object = '', action = ''] = (fields.name ?? '').split('.');
      return { objectType: plural(object), eventType: eventTypes[action] ?? 'UNKNOWN', objectId: String(fields.object_id ?? '') };
    },

    async refreshTokens(ctx) {
      return tokenRequest(ctx, { grant_type: 'refresh_token', refresh_token: stateOf(ctx).tokens.refreshToken });
    },
  },
});
