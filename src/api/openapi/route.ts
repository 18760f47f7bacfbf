import type { z } from 'zod';
import type { Example } from './examples';

/** Who may call a route: anyone; the platform secrets only; or those or the instance's Element token. */
export type Access = 'public' | 'platform' | 'platformOrToken';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** Response headers the document describes once and routes name. */
export type ResponseHeader = 'Elements-Next-Page-Token' | 'Retry-After';

/** Request headers the document describes once and routes name (besides Authorization, a security scheme). */
export type RequestHeader = 'Idempotency-Key';

export interface ResponseDoc {
  description: string;
  /** The answer's schema (JSON unless `contentType` says otherwise); none for an empty answer. */
  schema?: z.ZodType;
  contentType?: string;
  examples?: Record<string, Example>;
  headers?: ResponseHeader[];
}

/** A header parameter of one route only (a provider's signature header). */
export interface HeaderParameter {
  name: string;
  description: string;
  required?: boolean;
}

/**
 * One route as the OpenAPI document shows it. Schemas are zod schemas: the ones the route itself
 * parses with wherever there is one, so the document says what the code checks.
 */
export interface RouteDoc {
  method: Method;
  /** OpenAPI style, under the base path: `/instances/{id}`. */
  path: string;
  summary: string;
  /** CommonMark. */
  description?: string;
  tag: string;
  access: Access;
  pathParams?: Record<string, { schema: z.ZodType; description: string }>;
  /** The route's own query schema (a zod object), each key a parameter; descriptions by key. */
  query?: { schema: z.ZodObject; descriptions?: Record<string, string> };
  headers?: (RequestHeader | HeaderParameter)[];
  body?: { schema: z.ZodType; contentType?: string; description?: string; examples?: Record<string, Example> };
  responses: Record<number, ResponseDoc>;
  /**
   * Error statuses this route answers besides the ones every route of its kind does (401 and 429 when
   * authenticated, 403 for platform-only, 400/413/415 with a JSON body, 404 with an `{id}`), or those
   * with what they mean here. Every error has the API's error shape.
   */
  errors?: Partial<Record<number, string>>;
}
