export interface FieldError {
  path: string;
  message: string;
}

/** An error the API answers with its own status; everything else is a 500 with no detail. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: FieldError[] = [],
    /** Response headers that go with the answer (Retry-After with a 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string, errors: FieldError[] = []) => new HttpError(400, message, errors);
export const notFound = (message = 'Not found') => new HttpError(404, message);
export const unauthorized = (message: string) => new HttpError(401, message);
export const forbidden = (message: string) => new HttpError(403, message);
/** A named limit was reached: the message says which, so the caller can tell a quota from a fault. */
export const tooMany = (message: string, retryAfterSeconds?: number) =>
  new HttpError(429, message, [], retryAfterSeconds ? { 'retry-after': String(Math.ceil(retryAfterSeconds)) } : {});

/** The provider refused us (bad credentials, bad code) or could not be reached. */
export class ProviderError extends HttpError {
  constructor(status: 400 | 502, message: string) {
    super(status, message);
    this.name = 'ProviderError';
  }
}

/** The provider's request quota for the period is used up: retrying before it renews only spends requests. */
export class ProviderQuotaError extends ProviderError {
  constructor(message: string) {
    super(502, message);
    this.name = 'ProviderQuotaError';
  }
}
