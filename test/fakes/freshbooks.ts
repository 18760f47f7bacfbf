import { createHmac, randomBytes } from 'node:crypto';
import express from 'express';
import { DateTime } from 'luxon';
import { listenOnFreePort } from './http-server';

/**
 * A fake FreshBooks (element `freshbooksv2`) that follows providers.md: OAuth2 token endpoint with
 * one-use authorization codes (5 minutes) and one-use refresh tokens, Bearer-protected
 * `users/me`, the events/callbacks API with its verification handshake, and signed,
 * form-encoded notifications (`X-FreshBooks-Hmac-SHA256`).
 */

export interface FreshBooksBusiness {
  id: number;
  account_id: string;
  name: string;
  business_uuid: string;
}

export interface FakeFreshBooksOptions {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
  businesses?: FreshBooksBusiness[];
  /** Access-token lifetime; FreshBooks uses 12 hours. */
  accessTokenLifetimeSeconds?: number;
}

export interface TokenRequest {
  grant_type: string;
  status: number;
  error?: string;
  at: number;
}

export interface ApiRequest {
  method: string;
  path: string;
  at: number;
  /** The status answered (set once the response is sent). */
  status?: number;
}

export interface FreshBooksCallback {
  callbackid: number;
  event: string;
  uri: string;
  verified: boolean;
  verifier: string;
}

/** One verification post (`name=callback.verify`) the fake made to a callback's uri. */
export interface VerificationPost {
  callbackid: number;
  uri: string;
  verifier: string;
  /** The HTTP status received; 0 when the request failed. */
  status: number;
  error?: string;
  at: number;
}

/** One notification the fake posted from sendWebhook. */
export interface WebhookDelivery {
  callbackid: number;
  uri: string;
  event: string;
  body: string;
  signature?: string;
  status: number;
  error?: string;
  at: number;
}

/** The fake's routes, each of which a fault can be injected into. */
export type FreshBooksRoute = 'token' | 'identity' | 'register' | 'list' | 'verify' | 'resend' | 'remove';

/**
 * A fault on one route. `status` alone: the request is refused with it, nothing done. `dropAfterSuccess`:
 * the work is done, then the answer is `status` (default 500), as if the real answer were lost on the way
 * back. `delayMs`: the answer (whichever it is) is held that long, the work already done.
 */
export interface FreshBooksFault {
  status?: number;
  /** The body sent with `status` (default a message naming the injected fault). */
  body?: unknown;
  /** Requests it applies to, one after another (default 1; Infinity until clearFaults). */
  times?: number;
  delayMs?: number;
  dropAfterSuccess?: boolean;
}

/** A request a fault applied to. */
export interface FaultHit {
  route: FreshBooksRoute;
  /** The status answered. */
  status: number;
  /** Whether the route did its work (a delay or a dropped answer) or refused (a status alone). */
  workDone: boolean;
  /** When the answer went out (after any delay). */
  answeredAt: number;
}

interface StoredCallback extends FreshBooksCallback {
  accountId: string;
  updatedAt: string;
}

export const DEFAULT_BUSINESS: FreshBooksBusiness = {
  id: 6543,
  account_id: '6BApk',
  name: 'MyBiz',
  business_uuid: '2b8e9e2f-6d3a-4c43-9b1e-0f6c2a4f5d11',
};

export const IDENTITY_ID = 1234;
const SCOPE =
  'user:profile:read user:clients:read user:invoices:read user:estimates:read user:expenses:read user:payments:read user:projects:read';
const INVALID_GRANT = {
  error: 'invalid_grant',
  error_description:
    'The provided authorization grant is invalid, expired, revoked, does not match the redirection URI used in the authorization request, or was issued to another client.',
};
const EVENT_NAME = /^[a-z_]+\.[A-Za-z]+$/;

/** Python's dict(pairs): a repeated key keeps its first position and takes its last value. */
function dictPairs(pairs: [string, string][]): [string, string][] {
  const map = new Map<string, string>();
  for (const [k, v] of pairs) map.set(k, v);
  return [...map.entries()];
}

function pythonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const ch = s[i]!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (c >= 0x20 && c <= 0x7e) out += ch;
    // Everything else (controls, DEL, non-ASCII, each UTF-16 code unit of astral chars).
    else out += '\\u' + c.toString(16).padStart(4, '0');
  }
  return out + '"';
}

/**
 * The JSON text Python's `json.dumps(dict(pairs))` writes with its defaults (ensure_ascii=True,
 * separators `", "` and `": "`), keys in the given order.
 */
export function pythonJsonDumps(pairs: [string, string][]): string {
  return (
    '{' +
    dictPairs(pairs)
      .map(([k, v]) => `${pythonString(k)}: ${pythonString(v)}`)
      .join(', ') +
    '}'
  );
}

/** base64(HMAC-SHA256(key, pythonJsonDumps(pairs))): the `X-FreshBooks-Hmac-SHA256` value. */
export function freshbooksSignature(pairs: [string, string][], key: string): string {
  return createHmac('sha256', key).update(pythonJsonDumps(pairs), 'utf8').digest('base64');
}

const formBody = (pairs: [string, string][]) => new URLSearchParams(pairs).toString();
const token = (bytes = 32) => randomBytes(bytes).toString('hex');
const updatedAt = () => DateTime.utc().toFormat('yyyy-MM-dd HH:mm:ss');

async function postForm(uri: string, body: string, headers: Record<string, string>): Promise<{ status: number; error?: string }> {
  try {
    const res = await fetch(uri, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    await res.arrayBuffer().catch(() => undefined);
    return { status: res.status };
  } catch (err) {
    return { status: 0, error: err instanceof Error ? err.message : String(err) };
  }
}

export class FakeFreshBooks {
  url = '';
  readonly businesses: FreshBooksBusiness[];
  /** Lifetime of access tokens issued from now on (a test may change it between instances). */
  accessTokenLifetimeSeconds: number;
  /** How long an issued authorization code stays valid (5 minutes). */
  codeLifetimeMs = 5 * 60 * 1000;
  /** Delay between answering a callback POST/resend and posting its verification. */
  verificationDelayMs = 20;
  /** Verification posts still to lose (never sent), as a network or FreshBooks may lose them. */
  loseVerificationPosts = 0;
  /** Resend requests received (`PUT …/callbacks/{id}` with `{"callback": {"resend": true}}`). */
  resendRequests = 0;
  /** Verifiers refused (`PUT …/callbacks/{id}` with a verifier that is not the callback's). */
  refusedVerifiers = 0;
  /** Registrations still to accept and then answer 500, as if the answer were lost on the way back. */
  loseRegistrationAnswers = 0;

  /** Requests that faults (fail()) applied to, in the order answered. */
  readonly faultsHit: FaultHit[] = [];
  /** Called when a faulted request has been answered (after its delay): a test can act at that moment. */
  onFaultAnswered?: (hit: FaultHit) => void;

  /** Successful refresh_token grants. */
  refreshes = 0;
  /** Refresh tokens presented again after their one use. */
  refreshTokenReuses = 0;
  readonly tokenRequests: TokenRequest[] = [];
  /** Every request to an API route (users/me, events/callbacks), authenticated or not. */
  readonly requests: ApiRequest[] = [];
  readonly verificationPosts: VerificationPost[] = [];
  readonly deliveries: WebhookDelivery[] = [];

  private readonly codes = new Map<string, { expiresAt: number; used: boolean; redirectUri: string }>();
  /** Redirect URIs registered for the app: FreshBooks sends users back only to one of these. */
  private readonly redirectUris = new Set<string>();
  /** Consent pages shown (`GET /oauth/authorize`), each with its parameters and what was answered. */
  readonly authorizations: { clientId?: string; redirectUri?: string; state?: string; status: number }[] = [];
  private readonly accessTokens = new Map<string, { expiresAt: number }>();
  /** refresh token → still usable. */
  private readonly refreshTokens = new Map<string, boolean>();
  private readonly store = new Map<number, StoredCallback>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly faults = new Map<FreshBooksRoute, (FreshBooksFault & { left: number })[]>();
  private nextCallbackId = 2_001_000;
  private close?: () => Promise<void>;

  constructor(readonly opts: FakeFreshBooksOptions) {
    this.businesses = opts.businesses ?? [DEFAULT_BUSINESS];
    this.accessTokenLifetimeSeconds = opts.accessTokenLifetimeSeconds ?? 43_200;
    this.redirectUris.add(opts.redirectUri);
  }

  /** Registers another redirect URI for the app (as in FreshBooks' developer page), e.g. a console's return page. */
  addRedirectUri(uri: string): void {
    this.redirectUris.add(uri);
  }

  /**
   * Injects a fault into a route: the next `times` requests to it (after any faults queued before)
   * are refused, delayed or have their answer dropped. See FreshBooksFault.
   */
  fail(route: FreshBooksRoute, fault: FreshBooksFault = {}): void {
    const left = fault.times ?? 1;
    if (!(left > 0)) throw new Error(`fail(${route}): times must be positive`);
    const queue = this.faults.get(route) ?? [];
    queue.push({ ...fault, left });
    this.faults.set(route, queue);
  }

  /** Removes every fault not yet used up (on one route, or all). */
  clearFaults(route?: FreshBooksRoute): void {
    if (route) this.faults.delete(route);
    else this.faults.clear();
  }

  /** A one-use authorization code, valid codeLifetimeMs (5 minutes), for the redirect URI it was issued to. */
  issueCode(redirectUri = this.opts.redirectUri): string {
    const code = token(16);
    this.codes.set(code, { expiresAt: Date.now() + this.codeLifetimeMs, used: false, redirectUri });
    return code;
  }

  /** Makes every access token issued so far expired (API routes answer 401). */
  expireAccessTokens(): void {
    for (const t of this.accessTokens.values()) t.expiresAt = 0;
  }

  /** The registered callbacks, with their current verifier. */
  callbacks(): FreshBooksCallback[] {
    return [...this.store.values()].map(({ callbackid, event, uri, verified, verifier }) => ({
      callbackid,
      event,
      uri,
      verified,
      verifier,
    }));
  }

  /** Resolves once every verification post in flight has been answered. */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /**
   * Posts a notification to every verified callback registered for `event`; returns the statuses
   * received (0 when a request failed), one per callback.
   */
  async sendWebhook(
    event: string,
    objectId: string | number,
    extra: Record<string, string> = {},
    opts: {
      signature?: 'valid' | 'wrong' | 'missing';
      tamper?: boolean;
      contentType?: string;
      /** Where the post goes instead of the callback's uri (another replica of the receiver). */
      to?: (uri: string) => string;
      /** Only the callbacks registered at this uri (one instance's), not every instance's. */
      uri?: string;
    } = {},
  ): Promise<number[]> {
    const targets = [...this.store.values()].filter((c) => c.verified && c.event === event && (!opts.uri || c.uri === opts.uri));
    return Promise.all(
      targets.map(async (cb) => {
        const business = this.businesses.find((b) => b.account_id === cb.accountId)!;
        const fields = dictPairs([
          ['name', event],
          ['object_id', String(objectId)],
          ['account_id', cb.accountId],
          ['business_id', String(business.id)],
          ['identity_id', String(IDENTITY_ID)],
          ['user_id', '1'],
          ...Object.entries(extra),
        ]);
        const mode = opts.signature ?? 'valid';
        const signature =
          mode === 'missing' ? undefined : freshbooksSignature(fields, mode === 'wrong' ? `wrong-${cb.verifier}` : cb.verifier);
        const sent = opts.tamper ? fields.map(([k, v]): [string, string] => (k === 'object_id' ? [k, `${v}9`] : [k, v])) : fields;
        const headers: Record<string, string> = {
          'Content-Type': opts.contentType ?? 'application/x-www-form-urlencoded',
        };
        if (signature !== undefined) headers['X-FreshBooks-Hmac-SHA256'] = signature;
        const body = formBody(sent);
        const uri = opts.to?.(cb.uri) ?? cb.uri;
        const result = await postForm(uri, body, headers);
        this.deliveries.push({ callbackid: cb.callbackid, uri, event, body, signature, ...result, at: Date.now() });
        return result.status;
      }),
    );
  }

  /**
   * Stores a callback as a registration would, without anyone learning its id: what a registration
   * FreshBooks accepted leaves behind when its answer is lost and the caller never asks again.
   */
  addStrayCallback(accountId: string, event: string, uri: string): number {
    return this.storeCallback(accountId, event, uri).callbackid;
  }

  private storeCallback(accountId: string, event: string, uri: string): StoredCallback {
    const stored: StoredCallback = {
      callbackid: this.nextCallbackId++,
      event,
      uri,
      verified: false,
      verifier: token(16),
      accountId,
      updatedAt: updatedAt(),
    };
    this.store.set(stored.callbackid, stored);
    return stored;
  }

  /**
   * Sends a notification again exactly as it was sent (FreshBooks retrying a post it got no 2xx
   * for), to its callback or to `uri`; records and returns the status.
   */
  async resend(delivery: WebhookDelivery, uri = delivery.uri): Promise<number> {
    const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
    if (delivery.signature !== undefined) headers['X-FreshBooks-Hmac-SHA256'] = delivery.signature;
    const result = await postForm(uri, delivery.body, headers);
    this.deliveries.push({ ...delivery, uri, ...result, at: Date.now() });
    return result.status;
  }

  async start(port = 0): Promise<string> {
    const app = express();
    app.use(express.json());
    app.use(express.urlencoded({ extended: false }));

    // The consent page: the user signs in and approves at once; FreshBooks sends them back to the
    // app's redirect URI with a code (bound to that URI) and the state given.
    app.get('/oauth/authorize', (req, res) => {
      const q = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : undefined);
      const [clientId, redirectUri, state] = [q('client_id'), q('redirect_uri'), q('state')];
      const refuse = (why: string) => {
        this.authorizations.push({ clientId, redirectUri, state, status: 400 });
        res.status(400).type('text/plain').send(why);
      };
      if (clientId !== this.opts.clientId) return refuse('Unknown client_id');
      if (q('response_type') !== 'code') return refuse('response_type must be code');
      if (!redirectUri || !this.redirectUris.has(redirectUri)) return refuse('redirect_uri is not registered for this app');
      const back = new URL(redirectUri);
      back.searchParams.set('code', this.issueCode(redirectUri));
      if (state !== undefined) back.searchParams.set('state', state);
      this.authorizations.push({ clientId, redirectUri, state, status: 302 });
      res.redirect(302, back.toString());
    });

    app.post('/auth/oauth/token', this.injectFaults('token'), (req, res) => {
      const body = (req.body ?? {}) as Record<string, unknown>;
      const p = (name: string) => (typeof body[name] === 'string' ? (body[name] as string) : undefined);
      const grantType = p('grant_type') ?? '';
      const answer = (status: number, payload: Record<string, unknown>) => {
        this.tokenRequests.push({
          grant_type: grantType,
          status,
          ...(typeof payload.error === 'string' ? { error: payload.error } : {}),
          at: Date.now(),
        });
        res.status(status).set('Cache-Control', 'no-store').json(payload);
      };

      if (grantType !== 'authorization_code' && grantType !== 'refresh_token') {
        return answer(400, { error: 'unsupported_grant_type' });
      }
      if (p('client_id') !== this.opts.clientId || p('client_secret') !== this.opts.clientSecret) {
        return answer(401, { error: 'invalid_client' });
      }

      if (grantType === 'authorization_code') {
        const code = p('code');
        if (!code) return answer(400, { error: 'invalid_request', error_description: 'code is missing' });
        const entry = this.codes.get(code);
        if (!entry || entry.used || entry.expiresAt <= Date.now() || p('redirect_uri') !== entry.redirectUri) {
          return answer(401, INVALID_GRANT);
        }
        entry.used = true;
        return answer(200, this.issueTokens());
      }

      const refresh = p('refresh_token');
      if (!refresh) return answer(400, { error: 'invalid_request', error_description: 'refresh_token is missing' });
      const redirect = p('redirect_uri');
      const usable = this.refreshTokens.get(refresh);
      if (usable === false) {
        this.refreshTokenReuses++;
        return answer(401, INVALID_GRANT);
      }
      if (usable === undefined || (redirect !== undefined && !this.redirectUris.has(redirect))) {
        return answer(401, INVALID_GRANT);
      }
      this.refreshTokens.set(refresh, false);
      this.refreshes++;
      return answer(200, this.issueTokens());
    });

    // Every API route: log, then Bearer auth.
    const api = express.Router();
    api.use((req, res, next) => {
      const entry: ApiRequest = { method: req.method, path: req.originalUrl.split('?')[0]!, at: Date.now() };
      this.requests.push(entry);
      res.on('finish', () => (entry.status = res.statusCode));
      const auth = req.header('authorization') ?? '';
      const match = /^Bearer\s+(\S+)$/i.exec(auth);
      const t = match ? this.accessTokens.get(match[1]!) : undefined;
      if (!t || t.expiresAt <= Date.now()) {
        res.status(401).json({ error: 'unauthenticated' });
        return;
      }
      next();
    });
    // Faults apply to authenticated requests: an expired token is still answered 401 first.
    api.use(this.injectFaults());

    api.get('/auth/api/v1/users/me', (_req, res) => {
      res.json({
        response: {
          id: IDENTITY_ID,
          identity_id: IDENTITY_ID,
          first_name: 'Ada',
          last_name: 'Lovelace',
          email: 'ada@example.com',
          business_memberships: this.businesses.map((b) => ({
            role: 'owner',
            business: { id: b.id, account_id: b.account_id, name: b.name, business_uuid: b.business_uuid },
          })),
        },
      });
    });

    const CALLBACKS = '/events/account/:accountId/events/callbacks';
    const accountOk = (accountId: string) => this.businesses.some((b) => b.account_id === accountId);
    const view = (c: StoredCallback) => ({
      callbackid: c.callbackid,
      event: c.event,
      uri: c.uri,
      verified: c.verified,
      updated_at: c.updatedAt,
    });
    const findCallback = (accountId: string, id: string) => {
      const cb = /^\d+$/.test(id) ? this.store.get(Number(id)) : undefined;
      return cb && cb.accountId === accountId ? cb : undefined;
    };
    const notFound = (res: express.Response, what: string) => res.status(404).json({ message: `${what} not found` });

    api.post(CALLBACKS, (req, res) => {
      const accountId = String(req.params.accountId);
      if (!accountOk(accountId)) return notFound(res, `account ${accountId}`);
      const cb = (req.body as { callback?: { event?: unknown; uri?: unknown } } | undefined)?.callback;
      const event = cb?.event;
      const uri = cb?.uri;
      if (typeof event !== 'string' || !EVENT_NAME.test(event)) {
        return res.status(422).json({ message: `invalid event ${JSON.stringify(event)}` });
      }
      if (typeof uri !== 'string' || !/^https?:\/\/\S+$/.test(uri)) {
        return res.status(422).json({ message: `invalid uri ${JSON.stringify(uri)}` });
      }
      const stored = this.storeCallback(accountId, event, uri);
      if (this.loseRegistrationAnswers > 0) {
        this.loseRegistrationAnswers--;
        res.status(500).json({ message: 'the answer was lost (fault injected after the callback was stored)' });
      } else {
        res.json({ response: { result: { callback: view(stored) } } });
      }
      this.scheduleVerification(stored);
    });

    api.get(CALLBACKS, (req, res) => {
      const accountId = String(req.params.accountId);
      if (!accountOk(accountId)) return notFound(res, `account ${accountId}`);
      // Paged as FreshBooks pages its lists: page from 1, per_page 15 unless asked (at most 100).
      const list = [...this.store.values()].filter((c) => c.accountId === accountId).map(view);
      const perPage = Math.min(Math.max(Number(req.query.per_page) || 15, 1), 100);
      const page = Math.max(Number(req.query.page) || 1, 1);
      const pages = Math.max(Math.ceil(list.length / perPage), 1);
      const callbacks = list.slice((page - 1) * perPage, page * perPage);
      res.json({ response: { result: { callbacks, page, pages, per_page: perPage, total: list.length } } });
    });

    api.put(`${CALLBACKS}/:id`, (req, res) => {
      const accountId = String(req.params.accountId);
      if (!accountOk(accountId)) return notFound(res, `account ${accountId}`);
      const stored = findCallback(accountId, String(req.params.id));
      if (!stored) return notFound(res, `callback ${req.params.id}`);
      const body = (req.body as { callback?: { verifier?: unknown; resend?: unknown } } | undefined)?.callback;
      if (body?.resend === true || body?.resend === 'true') {
        this.resendRequests++;
        stored.verifier = token(16);
        stored.updatedAt = updatedAt();
        res.json({ response: { result: { callback: view(stored) } } });
        this.scheduleVerification(stored);
        return;
      }
      if (body?.verifier === undefined) return res.status(422).json({ message: 'verifier or resend required' });
      if (body.verifier !== stored.verifier) {
        this.refusedVerifiers++;
        return res.status(422).json({ message: 'invalid verifier' });
      }
      stored.verified = true;
      stored.updatedAt = updatedAt();
      res.json({ response: { result: { callback: view(stored) } } });
    });

    api.delete(`${CALLBACKS}/:id`, (req, res) => {
      const accountId = String(req.params.accountId);
      if (!accountOk(accountId)) return notFound(res, `account ${accountId}`);
      const stored = findCallback(accountId, String(req.params.id));
      if (!stored) return notFound(res, `callback ${req.params.id}`);
      this.store.delete(stored.callbackid);
      res.status(204).end();
    });

    // Mounted without a path so the router sees the full path (no prefix stripping).
    app.use((req, res, next) => {
      if (req.path.startsWith('/auth/api/') || req.path.startsWith('/events/')) return api(req, res, next);
      next();
    });
    app.use((_req: express.Request, res: express.Response) => res.status(404).json({ message: 'not found' }));
    app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      const status = (err as { status?: number }).status ?? 500;
      res.status(status).json({ error: 'invalid_request', error_description: err instanceof Error ? err.message : String(err) });
    });

    const listening = await listenOnFreePort(app, port);
    this.close = listening.close;
    this.url = listening.url;
    return this.url;
  }

  async stop(): Promise<void> {
    await this.idle();
    await this.close?.();
  }

  /** The route a request is for, as fail() names it. */
  private routeOf(req: express.Request): FreshBooksRoute | undefined {
    const path = req.path;
    if (path === '/auth/oauth/token') return 'token';
    if (path === '/auth/api/v1/users/me') return 'identity';
    if (/^\/events\/account\/[^/]+\/events\/callbacks\/?$/.test(path))
      return req.method === 'POST' ? 'register' : req.method === 'GET' ? 'list' : undefined;
    if (/^\/events\/account\/[^/]+\/events\/callbacks\/[^/]+$/.test(path)) {
      if (req.method === 'DELETE') return 'remove';
      if (req.method !== 'PUT') return undefined;
      const resend = (req.body as { callback?: { resend?: unknown } } | undefined)?.callback?.resend;
      return resend === true || resend === 'true' ? 'resend' : 'verify';
    }
    return undefined;
  }

  /** Takes one use of the first fault queued for a route. */
  private takeFault(route: FreshBooksRoute): FreshBooksFault | undefined {
    const queue = this.faults.get(route);
    const fault = queue?.[0];
    if (!fault) return undefined;
    if (--fault.left <= 0) queue.shift();
    return fault;
  }

  /** Middleware applying the route's next fault, if any (route: fixed, or found from the request). */
  private injectFaults(fixed?: FreshBooksRoute): express.RequestHandler {
    return (req, res, next) => {
      const route = fixed ?? this.routeOf(req);
      const fault = route && this.takeFault(route);
      if (!route || !fault) return next();
      const hold = (fn: () => void) => (fault.delayMs ? setTimeout(fn, fault.delayMs) : fn());
      const record = (workDone: boolean) =>
        res.once('finish', () => {
          const hit: FaultHit = { route, status: res.statusCode, workDone, answeredAt: Date.now() };
          this.faultsHit.push(hit);
          this.onFaultAnswered?.(hit);
        });
      const message = (status: number) => ({ message: `fault injected on ${route}: HTTP ${status}` });

      if (fault.status !== undefined && !fault.dropAfterSuccess) {
        // Refused: nothing is done.
        record(false);
        if (route === 'token') {
          const grantType = (req.body as { grant_type?: unknown } | undefined)?.grant_type;
          const error = (fault.body as { error?: unknown } | undefined)?.error;
          this.tokenRequests.push({
            grant_type: typeof grantType === 'string' ? grantType : '',
            status: fault.status,
            ...(typeof error === 'string' ? { error } : {}),
            at: Date.now(),
          });
        }
        const status = fault.status;
        hold(() => res.status(status).json(fault.body ?? message(status)));
        return;
      }

      // The work is done; its answer is held, or replaced by an error (a success only: a refusal stands).
      record(true);
      const end = res.end.bind(res) as (...args: unknown[]) => express.Response;
      res.end = ((...args: unknown[]) => {
        hold(() => {
          if (fault.dropAfterSuccess && res.statusCode < 300) {
            const status = fault.status ?? 500;
            const body = JSON.stringify(fault.body ?? message(status));
            res.removeHeader('ETag');
            res
              .status(status)
              .set({ 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(body)) });
            end(body);
          } else end(...args);
        });
        return res;
      }) as typeof res.end;
      next();
    };
  }

  private issueTokens() {
    const access = token();
    const refresh = token();
    this.accessTokens.set(access, { expiresAt: Date.now() + this.accessTokenLifetimeSeconds * 1000 });
    this.refreshTokens.set(refresh, true);
    return {
      access_token: access,
      refresh_token: refresh,
      token_type: 'Bearer',
      expires_in: this.accessTokenLifetimeSeconds,
      scope: SCOPE,
      created_at: Math.floor(Date.now() / 1000),
    };
  }

  /** After the response has gone out, posts `name=callback.verify` with the callback's current verifier. */
  private scheduleVerification(cb: StoredCallback): void {
    if (this.loseVerificationPosts > 0) {
      this.loseVerificationPosts--;
      return;
    }
    const verifier = cb.verifier;
    const p = new Promise<void>((resolve) => setTimeout(resolve, this.verificationDelayMs))
      .then(() =>
        postForm(
          cb.uri,
          formBody([
            ['name', 'callback.verify'],
            ['object_id', String(cb.callbackid)],
            ['verifier', verifier],
          ]),
          { 'Content-Type': 'application/x-www-form-urlencoded' },
        ),
      )
      .then((result) => {
        this.verificationPosts.push({ callbackid: cb.callbackid, uri: cb.uri, verifier, ...result, at: Date.now() });
      });
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }
}
