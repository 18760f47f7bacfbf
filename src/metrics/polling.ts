import type { PollInput } from '../workflows/types';
import { elementLabel } from './labels';
import { pollDuration, pollLag, pollRecords } from './metrics';

/**
 * Times one poll of one resource and counts what it read. The lag is taken at the poll's first try
 * only: a retry starts late on purpose, after its backoff.
 */
export async function measurePoll<T extends { records: number }>(input: PollInput, attempt: number, poll: () => Promise<T>): Promise<T> {
  const element = elementLabel(input.instance.elementKey);
  const startedMs = Date.now();
  if (attempt === 1 && input.dueAtMs !== undefined) pollLag.observe({ element }, Math.max(0, startedMs - input.dueAtMs) / 1000);
  try {
    const result = await poll();
    pollDuration.observe({ element, outcome: 'ok' }, (Date.now() - startedMs) / 1000);
    pollRecords.observe({ element }, result.records);
    return result;
  } catch (err) {
    pollDuration.observe({ element, outcome: 'error' }, (Date.now() - startedMs) / 1000);
    throw err;
  }
}
