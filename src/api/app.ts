import express from 'express';
import type { Client } from '@temporalio/client';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Sealer } from '../secrets/sealer';
import { requireCaller } from './auth';
import { accessLog, errorHandler, notFoundRoute, requestIds } from './errors';
import { eventsRouter } from './events';
import { healthRouter } from './health';
import { BASE_PATH } from './base-path';
import { instancesRouter } from './instances';
import { limitJsonDepth } from './json-depth';
import { webhooksRouter } from './webhooks';

export { BASE_PATH } from './base-path';
export const JSON_LIMIT = '1mb';

export function createApp(deps: { client: Client; config: Config; log: Logger; sealer: Sealer }): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(requestIds, accessLog(deps.log));
  const api = express.Router();
  api.use(healthRouter(deps));
  // Providers post form bodies and sign exact bytes: the receiver reads its own body, before any JSON parsing.
  api.use(webhooksRouter(deps));
  api.use(express.json({ limit: JSON_LIMIT }), limitJsonDepth);
  api.use(requireCaller(deps.config.accounts));
  api.use(instancesRouter(deps));
  api.use(eventsRouter(deps));
  app.use(BASE_PATH, api);
  app.use(notFoundRoute);
  app.use(errorHandler(deps.log));
  return app;
}
