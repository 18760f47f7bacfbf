import type { RequestHandler } from 'express';
import { registry } from './metrics';

/** Answers with every metric of this process in Prometheus' text format (behind the operator check). */
export const exposeMetrics: RequestHandler = async (_req, res) => {
  const text = await registry.metrics();
  res.set('content-type', registry.contentType).send(text);
};
