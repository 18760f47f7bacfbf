import { createHash } from 'node:crypto';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import type { Request } from 'express';
import { z } from 'zod';
import { badRequest, HttpError } from '../errors';
import type { InstanceView } from '../instances/types';
import type { Sealer } from '../secrets/sealer';
import { ElementsAccount } from '../temporal/search-attributes';
import { instanceWorkflowId } from '../workflows/ids';

/**
 * `Idempotency-Key`, as payment APIs use it: a retried `POST /instances` (a lost answer, a timeout)
 * gets the first answer instead of a second instance, and a retried redelivery the same redelivery.
 * Nothing is kept in process memory: the record is the instance workflow itself (its id derived from
 * the key, its memo holding the request's hash and the sealed token), or Temporal's own update ids.
 */
export const IDEMPOTENCY_HEADER = 'Idempotency-Key';

// Printable ASCII only: the key is hashed, never echoed, but a bound keeps a hostile header cheap.
const keySchema = z
  .string()
  .min(1, `${IDEMPOTENCY_HEADER} may not be empty`)
  .max(255, `${IDEMPOTENCY_HEADER} is at most 255 characters`)
  .regex(/^[\x20-\x7e]+$/, `${IDEMPOTENCY_HEADER} must be printable ASCII`);

/** The request's key, or undefined without one; a malformed key is a 400 naming the header. */
export function idempotencyKeyOf(req: Request): string | undefined {
  const raw = req.headers[IDEMPOTENCY_HEADER.toLowerCase()];
  if (raw === undefined) return undefined;
  const parsed = keySchema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const message = typeof raw === 'string' ? parsed.error.issues[0]!.message : `${IDEMPOTENCY_HEADER} must be given once`;
  throw badRequest(`Invalid ${IDEMPOTENCY_HEADER} header: ${message}`, [{ path: IDEMPOTENCY_HEADER, message }]);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** JSON with object keys sorted at every level: equal bodies hash equal whatever order the keys came in. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** Keys are scoped per account (the NUL cannot occur in an account id), so two accounts never share one. */
const scopedKeyHash = (accountId: string, key: string) => sha256(`${accountId}\u0000${key}`);

// The same range as random instance ids: 100000 .. 2^31-2.
const MIN_ID = 100_000n;
const ID_SPAN = 2n ** 31n - 1n - MIN_ID;

/** A keyed `POST /instances`: the instance id the key stands for and what the request must match. */
export interface KeyedCreate {
  id: number;
  keyHash: string;
  requestHash: string;
}

export function keyedCreate(accountId: string, key: string, parsedBody: unknown): KeyedCreate {
  const keyHash = scopedKeyHash(accountId, key);
  // The id is the key's: every replica that sees the key looks at the same workflow.
  const id = Number(MIN_ID + (BigInt(`0x${keyHash.slice(0, 16)}`) % ID_SPAN));
  return { id, keyHash, requestHash: sha256(canonicalJson(parsedBody)) };
}

/** The memo field an instance created with a key carries: enough to replay its first answer. */
export const IDEMPOTENCY_MEMO = 'idempotency';
const recordSchema = z.object({ keyHash: z.string(), requestHash: z.string(), token: z.string() });
export type IdempotencyRecord = z.infer<typeof recordSchema>;

const tokenContext = (id: number) => ({ instanceId: id, field: 'idempotency.token' });

/** The memo entry for a new instance: the token sealed, so the replayable answer never sits in clear in Temporal. */
export const idempotencyRecord = (keyed: KeyedCreate, token: string, sealer: Sealer): IdempotencyRecord => ({
  keyHash: keyed.keyHash,
  requestHash: keyed.requestHash,
  token: sealer.seal(token, tokenContext(keyed.id)),
});

const conflict = (message: string) => new HttpError(409, message, [{ path: IDEMPOTENCY_HEADER, message }]);

/**
 * What the key already stands for: undefined when nothing was created with it yet; the first answer
 * (the instance and its token) when the same request was; otherwise a 409 saying why not.
 */
export async function replayedCreate(
  client: Client,
  sealer: Sealer,
  accountId: string,
  keyed: KeyedCreate,
): Promise<(InstanceView & { token: string }) | undefined> {
  let description;
  try {
    description = await client.workflow.getHandle(instanceWorkflowId(keyed.id)).describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return undefined;
    throw err;
  }
  const record = recordSchema.safeParse(description.memo?.[IDEMPOTENCY_MEMO]);
  // The derived id may be taken by an instance created without a key, or (rarely) with another key or account.
  if (!record.success || record.data.keyHash !== keyed.keyHash || description.typedSearchAttributes.get(ElementsAccount) !== accountId) {
    throw conflict(`This ${IDEMPOTENCY_HEADER} cannot be used: its instance id is taken by another instance. Use another key.`);
  }
  if (description.status.name !== 'RUNNING') {
    throw conflict(`The instance created with this ${IDEMPOTENCY_HEADER} (${keyed.id}) was deleted; use a new key for a new instance.`);
  }
  if (record.data.requestHash !== keyed.requestHash) {
    throw conflict(`This ${IDEMPOTENCY_HEADER} was already used with another request body; use a new key for a new instance.`);
  }
  const view = description.memo?.instance as InstanceView | undefined;
  if (!view) throw new Error(`instance ${keyed.id} has no instance memo`);
  return { ...view, token: sealer.open(record.data.token, tokenContext(keyed.id)) };
}

/**
 * Concurrent requests with one key on this replica run one after the other, so a duplicate finds the
 * first one's instance instead of racing it to the provider (a FreshBooks code is single use).
 * Replicas race at `workflow.start`; the loser answers from the winner's record.
 */
export class KeyedQueue {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(keyHash: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(keyHash) ?? Promise.resolve();
    const mine = before.then(fn, fn);
    const tail = mine.catch(() => undefined);
    this.tails.set(keyHash, tail);
    try {
      return await mine;
    } finally {
      if (this.tails.get(keyHash) === tail) this.tails.delete(keyHash);
    }
  }
}

/**
 * The update id of a keyed redelivery: Temporal answers a second update with an id it has seen in
 * that run with the first one's outcome, so a retried call is the same redelivery. `scope` keeps the
 * single and the bulk call apart. The instance scopes the key to its account (a notification belongs
 * to one instance, an instance to one account); the eventId makes it the event's.
 */
export const redeliveryUpdateId = (scope: 'single' | 'bulk', instanceId: number, key: string, eventId: string) =>
  `redeliver-${scope}-${sha256(`${instanceId}\u0000${key}\u0000${eventId}`)}`;
