import type { Client } from '@temporalio/client';
import type { Payload, PayloadCodec } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { payloadValue } from '../../src/temporal/payloads';

type History = temporal.api.history.v1.IHistory;

/** A Payload as the history holds it: its bytes and their metadata (search attributes and memos alike). */
const isPayload = (v: unknown): v is Payload =>
  !!v &&
  typeof v === 'object' &&
  (v as Payload).data instanceof Uint8Array &&
  !!(v as Payload).metadata &&
  typeof (v as Payload).metadata === 'object';

/** Every payload a fetched history holds, wherever it is (inputs, results, memos, failures, search attributes). */
export function payloadsIn(value: unknown, out: Payload[] = []): Payload[] {
  if (isPayload(value)) out.push(value);
  else if (Array.isArray(value)) for (const v of value) payloadsIn(v, out);
  else if (value && typeof value === 'object' && !(value instanceof Uint8Array)) for (const v of Object.values(value)) payloadsIn(v, out);
  return out;
}

/**
 * The history with each payload replaced by what the codecs decode it to (in place), as a reader with
 * the codec sees it; failures get back the message and stack trace their encoded attributes hold.
 */
export async function decodeHistory<T>(value: T, codecs: readonly PayloadCodec[]): Promise<T> {
  const walk = async (v: unknown): Promise<unknown> => {
    if (isPayload(v)) {
      let p = v;
      for (const codec of [...codecs].reverse()) [p] = (await codec.decode([p])) as [Payload];
      return p;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) v[i] = await walk(v[i]);
    } else if (v && typeof v === 'object' && !(v instanceof Uint8Array)) {
      const o = v as Record<string, unknown>;
      for (const k of Object.keys(o)) if (o[k] && typeof o[k] === 'object') o[k] = await walk(o[k]);
      const attributes = isPayload(o.encodedAttributes)
        ? (payloadValue(o.encodedAttributes) as { message?: string; stack_trace?: string })
        : undefined;
      if (attributes?.message !== undefined) o.message = attributes.message;
      if (attributes?.stack_trace !== undefined) o.stackTrace = attributes.stack_trace;
    }
    return v;
  };
  return (await walk(value)) as T;
}

/** A workflow's history, its payloads decoded by the client's codecs (the raw one holds only ciphertext). */
export async function decodedHistory(client: Client, workflowId: string, runId?: string): Promise<History> {
  const history = await client.workflow.getHandle(workflowId, runId).fetchHistory();
  return decodeHistory(history, client.options.loadedDataConverter.payloadCodecs);
}

/**
 * Every byte string of a fetched history (payload data, strings) as text: what a byte search over it
 * sees (latin1, byte for byte), or `utf8` to find values as they were written.
 */
export function textOf(value: unknown, encoding: BufferEncoding = 'latin1'): string {
  const parts: string[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) parts.push(Buffer.from(v).toString(encoding));
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    else if (typeof v === 'string') parts.push(v);
  };
  walk(value);
  return parts.join('\n');
}

/** The webhook batches a decoded instance history holds, in order, and how each came: signal or update. */
export interface WebhookBatch {
  via: 'signal' | 'update';
  keys: string[];
}

export function webhookBatches(history: History): WebhookBatch[] {
  const keysOf = (receipts: { key: string }[]) => receipts.map((r) => r.key);
  return (history.events ?? []).flatMap((e): WebhookBatch[] => {
    const signal = e.workflowExecutionSignaledEventAttributes;
    if (signal?.signalName === 'webhooks')
      return [{ via: 'signal', keys: keysOf(payloadValue(signal.input!.payloads![0]) as { key: string }[]) }];
    const update = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (update?.name === 'acceptWebhooks')
      return [{ via: 'update', keys: keysOf((payloadValue(update.args!.payloads![0]) as { receipts: { key: string }[] }).receipts) }];
    return [];
  });
}
