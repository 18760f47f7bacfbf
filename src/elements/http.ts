export interface RetryOptions {
  /** Retries after the first attempt for 429, 5xx and network errors. */
  retries: number;
  /** Longest wait we accept from a Retry-After header before giving the retry back to Temporal. */
  maxWaitMs: number;
  baseDelayMs?: number;
  signal?: AbortSignal;
  onRetry?: (info: { attempt: number; waitMs: number; reason: string }) => void;
  /** How a wait between requests is spent (tests record the waits instead of spending them). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export function retryAfterMs(header: string | null, nowMs: number): number | undefined {
  if (!header) return undefined;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // Only an HTTP-date (IMF-fixdate); Date.parse alone would read junk like "foo 1" as a date.
  if (!/^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(text)) return undefined;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

const retryable = (status: number) => status === 429 || status >= 500;
/**
 * A 429 that says no requests are left and names no time to wait is a used-up quota (Insightly's
 * daily one): retrying in seconds would only spend requests that are not there.
 */
const quotaUsedUp = (response: Response) =>
  response.status === 429 && response.headers.get('x-ratelimit-remaining')?.trim() === '0' && !response.headers.has('retry-after');

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });
}

/**
 * fetch with bounded retries for rate limits and provider faults, honouring Retry-After.
 * Returns the last response when retries run out, so the caller decides what the failure means.
 */
export async function fetchWithRetry(url: string, init: RequestInit, opts: RetryOptions): Promise<Response> {
  const base = opts.baseDelayMs ?? 500;
  for (let attempt = 0; ; attempt++) {
    let response: Response | undefined;
    let reason: string;
    try {
      response = await fetch(url, { ...init, signal: opts.signal ?? null });
      if (!retryable(response.status) || attempt >= opts.retries || quotaUsedUp(response)) return response;
      reason = `HTTP ${response.status}`;
    } catch (err) {
      if (opts.signal?.aborted || attempt >= opts.retries) throw err;
      reason = (err as Error).message;
    }
    const backoff = Math.min(base * 2 ** attempt, 30_000);
    const hinted = response ? retryAfterMs(response.headers.get('retry-after'), Date.now()) : undefined;
    if (hinted !== undefined && hinted > opts.maxWaitMs) return response!;
    const waitMs = hinted ?? backoff;
    await response?.body?.cancel();
    opts.onRetry?.({ attempt: attempt + 1, waitMs, reason });
    await (opts.sleep ?? sleep)(waitMs, opts.signal);
  }
}
