import type { RequestListener } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import express from 'express';
import type { Client } from '@temporalio/client';
import { accountsProblem, type Config } from '../config';
import type { CallbackPolicy } from '../events/callback-url';
import type { Logger } from '../logger';
import type { Sealer } from '../secrets/sealer';
import { requireCaller } from './auth';
import { codecServerRouter } from './codec-server';
import { consoleRouter } from './console';
import { docsRouter } from './docs';
import { accessLog, errorHandler, notFoundRoute, requestIds } from './errors';
import { elements, type Element } from '../elements';
import { elementsRouter } from './elements';
import { eventsRouter } from './events';
import { healthRouter } from './health';
import { BASE_PATH } from './base-path';
import { instancesRouter } from './instances';
import { limitJsonDepth } from './json-depth';
import { LoginLimiter } from './login-limiter';
import { metricsRouter } from './metrics';
import { noStore } from './no-store';
import { securityHeaders } from './plain-answers';
import { webhookReceiver } from './webhooks';
import { requestSpans } from '../tracing/request-spans';

export { BASE_PATH } from './base-path';
export const JSON_LIMIT = '1mb';

export interface AppDeps {
  client: Client;
  config: Config;
  log: Logger;
  sealer: Sealer;
  /** How callback URLs are checked at creation; tests give it a resolver of their own. */
  callbackPolicy: CallbackPolicy;
  /** The elements described to callers (default: the registry); tests add elements only they know. */
  elements?: ReadonlyMap<string, Element>;
  /** Tracing on (OTEL_EXPORTER_OTLP_ENDPOINT): a span per request. */
  tracer?: Tracer;
}

/** The API. */
export interface App {
  /** What the HTTP server runs: the webhook receiver's posts, answered without Express, and Express for the rest. */
  listener: RequestListener;
  /** Every route but the webhook receiver's. */
  express: express.Express;
  /** Resolves once the receiver's calls to Temporal have settled: then the connection may close. */
  settled(): Promise<void>;
}

export function createApp(deps: AppDeps): App {
  const noAccount = accountsProblem(deps.config);
  if (noAccount) throw new Error(noAccount);
  const app = express();
  app.disable('x-powered-by');
  // Every answer is no-store (noStore): an ETag would be a hash of each body for nothing.
  app.set('etag', false);
  if (deps.config.TRUST_PROXY) app.set('trust proxy', trustProxy(deps.config.TRUST_PROXY));
  if (deps.tracer) app.use(requestSpans(deps.tracer));
  app.use(securityHeaders, noStore, requestIds, accessLog(deps.log));
  const api = express.Router();
  api.use(healthRouter(deps));
  // Who is calling is settled from the headers alone, before any body is read or parsed.
  api.use(requireCaller(deps.config.accounts, new LoginLimiter(deps.config.AUTH_FAILURES_PER_MINUTE)));
  api.use(express.json({ limit: JSON_LIMIT }), limitJsonDepth);
  api.use(instancesRouter(deps));
  api.use(eventsRouter(deps));
  const catalog = deps.elements ?? elements;
  api.use(elementsRouter({ config: deps.config, catalog }));
  // One count of guesses at OPERATOR_TOKEN, whichever operator endpoint they are made at.
  const operatorLimiter = new LoginLimiter(deps.config.AUTH_FAILURES_PER_MINUTE);
  // The codec server for the Temporal UI: operators only, its own auth, CORS and body reading.
  app.use(codecServerRouter({ ...deps, operatorLimiter }));
  // The OpenAPI document and its reference page: static, no secrets needed.
  app.use(docsRouter(catalog));
  app.use(BASE_PATH, api);
  // Operators' metrics, at the root where Prometheus looks (docs/operations.md).
  app.use(metricsRouter({ ...deps, operatorLimiter }));
  app.use(consoleRouter());
  app.use(notFoundRoute);
  app.use(errorHandler(deps.log));
  // The webhook receiver ahead of Express: providers post to it at up to thousands a second. It reads
  // its own body (form bodies, signed as exact bytes) and answers to no caller's credentials.
  const receiver = webhookReceiver(deps);
  return {
    listener: (req, res) => void (receiver.handle(req, res) || app(req, res)),
    express: app,
    settled: () => receiver.settled(),
  };
}

/** TRUST_PROXY as Express takes it: a hop count, or addresses and subnets (`true` is refused by the config). */
function trustProxy(value: string): boolean | number | string {
  if (/^\d+$/.test(value)) return Number(value);
  if (value === 'false') return false;
  return value;
}
