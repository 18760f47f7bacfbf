import type { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { decode } from '@temporalio/common/lib/internal-non-workflow';

/** A memo or search attribute payload as the default converter wrote it (JSON), or undefined. */
export function payloadValue(payload: { data?: Uint8Array | null } | null | undefined): unknown {
  if (!payload?.data) return undefined;
  try {
    return JSON.parse(Buffer.from(payload.data).toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * A memo field of a raw visibility row (`listWorkflowExecutions`), decoded by the client's codecs
 * first: memos are encrypted like every payload, search attributes are not (read those with
 * payloadValue). A memo written before encryption passes through.
 */
export async function memoValue(client: Client, payload: Payload | null | undefined): Promise<unknown> {
  if (!payload) return undefined;
  const [decoded] = await decode(client.options.loadedDataConverter.payloadCodecs, [payload]);
  return payloadValue(decoded);
}
