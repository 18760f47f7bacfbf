import { authorization, loadSecrets, type Secrets } from './session';
import type { FieldError } from './types';

export const BASE_PATH = '/elements/api-v2';
/** The header `GET /instances` and `GET …/events` carry the next page's token in. */
const NEXT_PAGE_HEADER = 'Elements-Next-Page-Token';

/** An answer other than 2xx, with the API's message and its field errors (`errors[].path`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors: FieldError[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Told when the API refuses the stored secrets (401), so the console signs out. */
export const SIGNED_OUT_EVENT = 'element-events:signed-out';

export interface ApiAnswer<T> {
  body: T;
  nextPage?: string;
}

interface CallOptions {
  json?: unknown;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  /** Secrets to try instead of the stored ones (signing in). */
  secrets?: Secrets;
}

/** One API call with the account's Authorization header; throws ApiError for anything but 2xx. */
export async function call<T>(method: string, path: string, opts: CallOptions = {}): Promise<ApiAnswer<T>> {
  const secrets = opts.secrets ?? loadSecrets();
  const headers: Record<string, string> = { accept: 'application/json', ...opts.headers };
  if (secrets) headers.authorization = authorization(secrets);
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  const query = Object.entries(opts.query ?? {}).filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '');
  const url = `${path.startsWith('/elements/') ? '' : BASE_PATH}${path}${query.length ? `?${new URLSearchParams(query.map(([k, v]) => [k, String(v)]))}` : ''}`;
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body: opts.json === undefined ? undefined : JSON.stringify(opts.json) });
  } catch {
    throw new ApiError(0, 'The API could not be reached. Is it running?');
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const error = body as { message?: string; errors?: FieldError[] } | undefined;
    if (response.status === 401 && !opts.secrets) window.dispatchEvent(new Event(SIGNED_OUT_EVENT));
    throw new ApiError(response.status, error?.message ?? `The API answered ${response.status}`, error?.errors ?? []);
  }
  return { body: body as T, nextPage: response.headers.get(NEXT_PAGE_HEADER) ?? undefined };
}

/** A message for any error a call may throw. */
export const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));
