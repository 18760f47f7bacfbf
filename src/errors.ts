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
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const badRequest = (message: string, errors: FieldError[] = []) => new HttpError(400, message, errors);
export const notFound = (message = 'Not found') => new HttpError(404, message);
export const unauthorized = (message: string) => new HttpError(401, message);

/** The provider refused us (bad credentials, bad code) or could not be reached. */
export class ProviderError extends HttpError {
  constructor(status: 400 | 502, message: string) {
    super(status, message);
    this.name = 'ProviderError';
  }
}
