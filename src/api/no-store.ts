import type { RequestHandler } from 'express';

/** Every answer is about live state, and one carries the instance token: nothing may be cached. */
export const noStore: RequestHandler = (_req, res, next) => {
  res.setHeader('cache-control', 'no-store');
  next();
};
