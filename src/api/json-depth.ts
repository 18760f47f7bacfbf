import type { RequestHandler } from 'express';
import { badRequest } from '../errors';

/** Deepest nesting a request body may have; instance bodies need five levels. */
export const MAX_JSON_DEPTH = 32;

/**
 * How deep `value` nests, counted without recursion (a hostile body can nest thousands deep), and
 * stopping as soon as it passes `limit`.
 */
export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > limit) return true;
    for (const child of Object.values(node)) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Refuses bodies nested deeper than any instance needs. Deep values would otherwise pass validation
 * (unknown configuration keys are kept) and then break Temporal's payload conversion, leaving a
 * workflow that cannot complete a task.
 */
export const limitJsonDepth: RequestHandler = (req, _res, next) => {
  if (jsonDepthExceeds(req.body, MAX_JSON_DEPTH)) {
    throw badRequest(`Request body is nested more than ${MAX_JSON_DEPTH} levels deep`, [
      { path: '(body)', message: `nests more than ${MAX_JSON_DEPTH} levels` },
    ]);
  }
  next();
};
