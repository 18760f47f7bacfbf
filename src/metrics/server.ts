import type { Server } from 'node:http';
import express from 'express';
import { createLimitedServer, DEFAULT_SERVER_LIMITS } from '../api/http-server';
import { errorHandler, notFoundRoute, requestIds } from '../api/errors';
import { LoginLimiter } from '../api/login-limiter';
import { noStore } from '../api/no-store';
import { requireOperator } from '../api/operator-auth';
import type { Config } from '../config';
import type { Logger } from '../logger';
import { exposeMetrics } from './exposition';

/**
 * A worker run alone (`npm run worker`) has no API to be scraped through: this serves its `GET /metrics`
 * on WORKER_METRICS_PORT, on loopback unless WORKER_METRICS_HOST says otherwise, behind the same
 * operator token as the API's. Nothing else is served there. Unset port: no server.
 */
export async function serveWorkerMetrics(config: Config, log: Logger): Promise<Server | undefined> {
  if (config.WORKER_METRICS_PORT === undefined) return undefined;
  if (!config.OPERATOR_TOKEN)
    throw new Error('WORKER_METRICS_PORT is set but OPERATOR_TOKEN is not: the metrics port would let nobody in. Set OPERATOR_TOKEN.');
  const app = express();
  app.disable('x-powered-by');
  app.use(requestIds, noStore);
  app.get('/metrics', requireOperator(config.OPERATOR_TOKEN, new LoginLimiter(config.AUTH_FAILURES_PER_MINUTE)), exposeMetrics);
  app.use(notFoundRoute);
  app.use(errorHandler(log));
  const server = createLimitedServer(app, DEFAULT_SERVER_LIMITS);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.WORKER_METRICS_PORT, config.WORKER_METRICS_HOST, () => resolve());
  });
  return server;
}
