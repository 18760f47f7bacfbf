import { Router } from 'express';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import { exposeMetrics } from '../metrics/exposition';
import { countInstancesWith } from '../metrics/instance-counts';
import type { LoginLimiter } from './login-limiter';
import { requireOperator } from './operator-auth';

/**
 * `GET /metrics` (at the root, where Prometheus looks by default): this process's metrics, the
 * worker's too when it runs here (`npm start`), and the instance counts, which only the API reads.
 * For operators only (OPERATOR_TOKEN as a Bearer token); without a token configured, a 404.
 */
export function metricsRouter({
  client,
  config,
  operatorLimiter,
}: {
  client: Client;
  config: Config;
  operatorLimiter: LoginLimiter;
}): Router {
  if (config.OPERATOR_TOKEN) countInstancesWith(client, config.TEMPORAL_TASK_QUEUE);
  const router = Router();
  router.get('/metrics', requireOperator(config.OPERATOR_TOKEN, operatorLimiter), exposeMetrics);
  return router;
}
