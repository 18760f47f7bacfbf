import express, { Router, type Request, type RequestHandler } from 'express';
import type { Payload } from '@temporalio/common';
import { z } from 'zod';
import type { Config } from '../config';
import { badRequest, forbidden, HttpError, unauthorized } from '../errors';
import { ENCRYPTED_ENCODING, loadPayloadCodec, type EncryptionCodec } from '../temporal/payload-codec';
import { clientKey, type LoginLimiter } from './login-limiter';
import { bearerToken, isOperatorToken, operatorEndpointsOff } from './operator-auth';
import { cookieValue, OperatorSessions, SESSION_COOKIE } from './operator-session';
import { isOwnOrigin, signInRoutes } from './operator-sign-in';

/** Where the codec server lives on the API; the Temporal UI appends `/decode` and `/encode`. */
export const CODEC_PATH = '/codec';
/** The largest request body the codec endpoints read (a history page's payloads; Temporal's own limit is 2 MB a payload). */
export const CODEC_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** The most payloads one request may carry. */
export const CODEC_MAX_PAYLOADS = 1000;
/** The request headers the Temporal UI sends to a codec server, answered in preflights. */
export const CODEC_ALLOWED_HEADERS = ['Content-Type', 'X-Namespace', 'Authorization'];

/** The routes this file adds (the OpenAPI document, which describes the accounts' API, leaves them out). */
export const CODEC_ROUTES = [
  `OPTIONS ${CODEC_PATH}/decode`,
  `POST ${CODEC_PATH}/decode`,
  `OPTIONS ${CODEC_PATH}/encode`,
  `POST ${CODEC_PATH}/encode`,
  `GET ${CODEC_PATH}/sign-in`,
  `POST ${CODEC_PATH}/sign-in`,
  `POST ${CODEC_PATH}/sign-out`,
];

// Proto JSON (what the UI and `temporal` send): bytes as base64, standard or URL-safe alphabet.
const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'not base64');
const payloadSchema = z.looseObject({ metadata: z.record(z.string(), base64).optional(), data: base64.optional() });
type JsonPayload = z.infer<typeof payloadSchema>;
const bodySchema = z.object({ payloads: z.array(payloadSchema) });

const bytesOf = (text: string | undefined) => Buffer.from(text ?? '', 'base64');
const toPayload = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, bytesOf(v)])),
  data: bytesOf(p.data),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});
const encrypted = (p: JsonPayload) => bytesOf(p.metadata?.encoding).toString() === ENCRYPTED_ENCODING;

/**
 * Temporal's codec server protocol for the Temporal UI (and `temporal --codec-endpoint`): `POST
 * /codec/decode` and `/codec/encode` take `{"payloads": [...]}` in proto JSON and answer the same shape,
 * decrypted or encrypted with the payload codec's keys. Only operators: `Authorization: Bearer
 * <OPERATOR_TOKEN>` (programs) or the session cookie of `/codec/sign-in` (a browser, whose UI sends it
 * with "include credentials"). Cross-origin calls only from the configured UI's origin (TEMPORAL_UI_URL),
 * which preflights are answered for. Off (404) while OPERATOR_TOKEN is unset.
 */
export function codecServerRouter({ config, operatorLimiter: limiter }: { config: Config; operatorLimiter: LoginLimiter }): Router {
  const router = Router();
  const token = config.OPERATOR_TOKEN;
  const uiOrigin = config.TEMPORAL_UI_URL ? new URL(config.TEMPORAL_UI_URL).origin : undefined;
  const sessions = token ? new OperatorSessions(token) : undefined;
  // Loaded on first use: an app that never decodes (tests of other routes) creates no key file.
  let codec: EncryptionCodec | undefined;
  const payloadCodec = () =>
    (codec ??= loadPayloadCodec({ payloadKeys: config.PAYLOAD_KEYS, secretsKey: config.SECRETS_KEY, dataDir: config.DATA_DIR }));

  const operatorEndpointsOn: RequestHandler = (_req, _res, next) => {
    if (!token) throw operatorEndpointsOff();
    next();
  };

  // Browsers send Origin on cross-origin calls (and same-origin POSTs). Only the UI may read answers;
  // any other page is refused before credentials are looked at, so a cookie cannot be used from it.
  const crossOrigin: RequestHandler = (req, res, next) => {
    const origin = req.header('origin');
    res.vary('Origin');
    if (origin === undefined || isOwnOrigin(origin, req)) return next();
    if (origin !== uiOrigin) throw forbidden(originRefusal(origin, uiOrigin));
    res.set({ 'access-control-allow-origin': origin, 'access-control-allow-credentials': 'true' });
    next();
  };

  const preflight: RequestHandler = (req, res) => {
    const origin = req.header('origin');
    res.vary('Origin');
    if (!origin || origin !== uiOrigin) throw forbidden(originRefusal(origin ?? '(none)', uiOrigin));
    res.set({
      'access-control-allow-origin': origin,
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'POST',
      'access-control-allow-headers': CODEC_ALLOWED_HEADERS.join(', '),
      'access-control-max-age': '600',
    });
    res.status(204).end();
  };

  // Settled from the headers alone, before any body is read. Only a wrong token or a forged cookie counts
  // as a failed sign-in: a UI opened before signing in (or left signed in past the session) sends many
  // requests without a valid credential, and must not lock its operator out for the rest of the minute.
  const operatorOnly: RequestHandler = (req, _res, next) => {
    const address = clientKey(req.ip ?? req.socket.remoteAddress ?? 'unknown');
    limiter.check(address);
    const authorization = req.header('authorization');
    if (isOperatorToken(token, bearerToken(authorization))) return next();
    const session = sessions!.check(cookieValue(req.header('cookie'), SESSION_COOKIE));
    if (session === 'valid') return next();
    if (authorization !== undefined || session === 'forged') limiter.failed(address);
    throw unauthorized(
      session === 'expired'
        ? `The operator session has ended: sign in again at ${CODEC_PATH}/sign-in`
        : `The codec server is for operators: send "Authorization: Bearer <OPERATOR_TOKEN>", or sign in at ${CODEC_PATH}/sign-in ` +
            'and let the Temporal UI include credentials',
    );
  };

  // Its own body reading: JSON only (a cross-origin JSON POST needs a preflight), bounded, parsed here.
  const jsonBody: RequestHandler[] = [
    (req, _res, next) => {
      if (!req.is('application/json')) throw new HttpError(415, 'The codec endpoints take Content-Type: application/json');
      next();
    },
    express.raw({ type: () => true, limit: CODEC_MAX_BODY_BYTES }),
  ];

  const payloadsOf = (req: Request): JsonPayload[] => {
    const namespace = req.header('x-namespace');
    if (namespace !== undefined && namespace !== config.TEMPORAL_NAMESPACE) {
      throw badRequest(
        `This codec server holds the keys of namespace ${config.TEMPORAL_NAMESPACE}, not of ${namespace.slice(0, 100)} (X-Namespace)`,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(Buffer.isBuffer(req.body) ? req.body.toString('utf8') : '');
    } catch {
      throw badRequest('Invalid JSON in request body');
    }
    const count = (body as { payloads?: unknown })?.payloads;
    if (Array.isArray(count) && count.length > CODEC_MAX_PAYLOADS) {
      throw new HttpError(413, `At most ${CODEC_MAX_PAYLOADS} payloads a request (CODEC_MAX_PAYLOADS); this one has ${count.length}`);
    }
    const parsed = bodySchema.safeParse(body);
    if (!parsed.success) {
      throw badRequest(
        'The body must be {"payloads": [{"metadata": {...}, "data": "..."}]}, bytes in base64 (proto JSON)',
        parsed.error.issues.slice(0, 10).map((i) => ({ path: i.path.join('.') || '(body)', message: i.message })),
      );
    }
    return parsed.data.payloads;
  };

  const guarded = [operatorEndpointsOn, crossOrigin, operatorOnly, ...jsonBody];

  router.options(`${CODEC_PATH}/decode`, operatorEndpointsOn, preflight);
  router.options(`${CODEC_PATH}/encode`, operatorEndpointsOn, preflight);

  router.post(`${CODEC_PATH}/decode`, ...guarded, async (req, res) => {
    const payloads = payloadsOf(req);
    const decoded: JsonPayload[] = [];
    for (const [i, payload] of payloads.entries()) {
      // Payloads that are not ours to decrypt (written before encryption) go back as they came.
      if (!encrypted(payload)) {
        decoded.push(payload);
        continue;
      }
      try {
        const [plain] = await payloadCodec().decode([toPayload(payload)]);
        decoded.push(toJson(plain!));
      } catch (err) {
        throw badRequest(`payloads[${i}] could not be decrypted`, [{ path: `payloads.${i}`, message: decryptProblem(err) }]);
      }
    }
    res.json({ payloads: decoded });
  });

  router.post(`${CODEC_PATH}/encode`, ...guarded, async (req, res) => {
    const payloads = payloadsOf(req);
    const encoded: JsonPayload[] = [];
    // Already encrypted payloads are not wrapped twice.
    for (const payload of payloads)
      encoded.push(encrypted(payload) ? payload : toJson((await payloadCodec().encode([toPayload(payload)]))[0]!));
    res.json({ payloads: encoded });
  });

  router.use(signInRoutes({ basePath: CODEC_PATH, config, sessions, limiter, operatorEndpointsOn }));
  return router;
}

function originRefusal(origin: string, uiOrigin: string | undefined): string {
  const allowed = uiOrigin ? `only the Temporal UI at ${uiOrigin} (TEMPORAL_UI_URL)` : 'no browser origin, since TEMPORAL_UI_URL is unset';
  return `Origin ${origin.slice(0, 200)} may not call the codec server: ${allowed}`;
}

/** Why a payload did not open, without echoing anything of it. */
function decryptProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  if (/which this process does not hold/.test(message)) return message.replace('this process', 'this codec server');
  if (/too short/.test(message)) return message;
  return 'it does not open with the key its metadata names (altered, or not encrypted by this deployment)';
}
