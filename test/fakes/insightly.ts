import express from 'express';
import { DateTime } from 'luxon';
import { listenOnFreePort } from './http-server';

/**
 * A fake Insightly v3.1 that follows providers.md: Basic auth with the API key as user name,
 * `/{Object}/Search` with updated_after_utc (at or after; `yyyy-MM-dd HH:mm:ss` or ISO 8601),
 * field_name/field_value, top (default 100, at most 500), skip, count_total, rate-limit headers,
 * and 429 past about ten requests a second (with `Retry-After` or, as Insightly may send it, without),
 * and the daily quota: once it is used up, 429 with `X-RateLimit-Remaining: 0` and no `Retry-After`.
 * With `indexLagMs`, Search works from a lagging index, as the real one does: each write shows there
 * only that long after it was made. Records can be deleted, and Search can list them by id or by
 * updated date (Insightly does not document its order), so a delete or an update between two page
 * reads shifts records across a page boundary, as it can on the real service.
 */
export const objects = {
  Contacts: 'CONTACT_ID',
  Organisations: 'ORGANISATION_ID',
  Leads: 'LEAD_ID',
  Opportunities: 'OPPORTUNITY_ID',
} as const;
export type InsightlyObject = keyof typeof objects;

export type InsightlyRecord = Record<string, unknown>;

export interface SearchCall {
  object: string;
  query: Record<string, string>;
  at: number;
  status: number;
  /** Records the answer held (a 200's page). */
  returned?: number;
}

const FORMAT = 'yyyy-MM-dd HH:mm:ss';
export const insightlyDate = (ms: number) => DateTime.fromMillis(ms, { zone: 'utc' }).toFormat(FORMAT);

function parseUpdatedAfter(value: string): number | undefined {
  const plain = DateTime.fromFormat(value, FORMAT, { zone: 'utc' });
  if (plain.isValid) return plain.toMillis();
  const iso = DateTime.fromISO(value, { zone: 'utc' });
  return iso.isValid ? iso.toMillis() : undefined;
}

export class FakeInsightly {
  readonly records: Record<InsightlyObject, Map<number, InsightlyRecord>> = {
    Contacts: new Map(),
    Organisations: new Map(),
    Leads: new Map(),
    Opportunities: new Map(),
  };
  readonly calls: SearchCall[] = [];
  url = '';
  /** Requests a second before 429; 0 turns the limit off. */
  rateLimitPerSecond = 10;
  /** The per-second 429's Retry-After (seconds); undefined sends none, which Insightly may do. */
  rateLimitRetryAfter: string | undefined = '1';
  /** Requests a day; past it every request is a 429 with `X-RateLimit-Remaining: 0`, until `resetDailyQuota()`. */
  dailyQuota = 100_000;
  /** Requests counted against the daily quota: those that got past authentication and the per-second limit. */
  quotaUsed = 0;
  /** The order Search lists records in: by id, or by DATE_UPDATED_UTC (oldest first, then by id). */
  order: 'id' | 'updated' = 'id';
  /** Delay before each Search answer, to hold a poll in flight. */
  latencyMs = 0;
  /**
   * How long after a write (wall time, whatever the record's dates say) Search shows it. Until then
   * Search shows the record as it was before that write, or not at all if it was just created.
   */
  indexLagMs = 0;
  /** Runs before a Search is answered: tests use it to change data mid-poll. */
  beforeSearch?: (call: SearchCall) => void | Promise<void>;
  afterSearch?: (call: SearchCall) => void | Promise<void>;
  private failures: { status: number; headers: Record<string, string> }[] = [];
  private nextId = 1000;
  /** Every written state of every record, oldest first, with the wall time it was written. */
  private writes: Record<InsightlyObject, Map<number, { record: InsightlyRecord | undefined; writtenAt: number }[]>> = {
    Contacts: new Map(),
    Organisations: new Map(),
    Leads: new Map(),
    Opportunities: new Map(),
  };
  private window: number[] = [];
  private close?: () => Promise<void>;

  constructor(readonly apiKey: string) {}

  /** The next `count` Search requests answer `status` (with these headers). */
  failNext(count: number, status: number, headers: Record<string, string> = {}): void {
    for (let i = 0; i < count; i++) this.failures.push({ status, headers });
  }

  create(object: InsightlyObject, fields: InsightlyRecord = {}, atMs = Date.now()): InsightlyRecord {
    const id = this.nextId++;
    const record = {
      [objects[object]]: id,
      ...fields,
      DATE_CREATED_UTC: insightlyDate(atMs),
      DATE_UPDATED_UTC: insightlyDate(atMs),
    };
    this.records[object].set(id, record);
    this.writes[object].set(id, [{ record, writtenAt: Date.now() }]);
    return record;
  }

  /** Deletes a record: Search no longer shows it (once the index catches up, with `indexLagMs`). */
  delete(object: InsightlyObject, id: number): void {
    if (!this.records[object].delete(id)) throw new Error(`no ${object} ${id}`);
    this.writes[object].get(id)!.push({ record: undefined, writtenAt: Date.now() });
  }

  /** A new day: the daily quota is whole again. */
  resetDailyQuota(): void {
    this.quotaUsed = 0;
  }

  update(object: InsightlyObject, id: number, fields: InsightlyRecord = {}, atMs = Date.now()): InsightlyRecord {
    const existing = this.records[object].get(id);
    if (!existing) throw new Error(`no ${object} ${id}`);
    const record = { ...existing, ...fields, DATE_UPDATED_UTC: insightlyDate(atMs) };
    this.records[object].set(id, record);
    this.writes[object].get(id)!.push({ record, writtenAt: Date.now() });
    return record;
  }

  /** What Search shows of an object now: the latest state of each record that the index has caught up with. */
  private indexed(object: InsightlyObject): InsightlyRecord[] {
    if (!this.indexLagMs) return [...this.records[object].values()];
    const visibleBefore = Date.now() - this.indexLagMs;
    return [...this.writes[object].values()].flatMap((states) => {
      const shown = states.filter((s) => s.writtenAt <= visibleBefore).at(-1);
      // A delete is a state too: the index shows the record until it catches up with it.
      return shown?.record ? [shown.record] : [];
    });
  }

  searchCalls(object?: InsightlyObject): SearchCall[] {
    return object ? this.calls.filter((c) => c.object === object) : this.calls;
  }

  async start(port = 0): Promise<string> {
    const app = express();
    app.get('/:object/Search', async (req, res) => {
      const object = req.params.object as InsightlyObject;
      const query = Object.fromEntries(Object.entries(req.query).map(([k, v]) => [k, String(v)]));
      const call: SearchCall = { object, query, at: Date.now(), status: 200 };
      const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
        call.status = status;
        this.calls.push(call);
        res.set({
          'X-RateLimit-Limit': String(this.dailyQuota),
          'X-RateLimit-Remaining': String(Math.max(0, this.dailyQuota - this.quotaUsed)),
          ...headers,
        });
        res.status(status).json(body);
      };

      const auth = req.header('authorization') ?? '';
      const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
      if (decoded !== `${this.apiKey}:`) return answer(401, { Message: 'Unauthorized' });
      if (!(object in this.records)) return answer(404, { Message: `Unknown object ${object}` });

      const now = Date.now();
      this.window = this.window.filter((t) => now - t < 1000);
      if (this.rateLimitPerSecond && this.window.length >= this.rateLimitPerSecond) {
        const retryAfter: Record<string, string> =
          this.rateLimitRetryAfter === undefined ? {} : { 'Retry-After': this.rateLimitRetryAfter };
        return answer(429, { Message: 'Too many requests' }, retryAfter);
      }
      this.window.push(now);
      // The daily quota: no Retry-After (the wait is until the day rolls over), and nothing left.
      if (this.quotaUsed >= this.dailyQuota) return answer(429, { Message: 'API daily request quota exceeded' });
      this.quotaUsed++;
      const failure = this.failures.shift();
      if (failure) return answer(failure.status, { Message: 'Injected failure' }, failure.headers);

      const top = query.top === undefined ? 100 : Number(query.top);
      const skip = query.skip === undefined ? 0 : Number(query.skip);
      if (!Number.isInteger(top) || top < 1 || top > 500 || !Number.isInteger(skip) || skip < 0) {
        return answer(400, { Message: 'top must be 1..500 and skip a non-negative integer' });
      }
      if ('field_name' in query !== 'field_value' in query) {
        return answer(400, { Message: 'field_name and field_value go together' });
      }
      let since: number | undefined;
      if (query.updated_after_utc !== undefined) {
        since = parseUpdatedAfter(query.updated_after_utc);
        if (since === undefined) return answer(400, { Message: `Invalid updated_after_utc ${query.updated_after_utc}` });
      }

      await this.beforeSearch?.(call);
      if (this.latencyMs) await new Promise((r) => setTimeout(r, this.latencyMs));
      const id = (r: InsightlyRecord) => Number(r[objects[object]]);
      const updated = (r: InsightlyRecord) => parseUpdatedAfter(String(r.DATE_UPDATED_UTC))!;
      const matching = this.indexed(object)
        .filter((r) => since === undefined || updated(r) >= since)
        .filter((r) => !query.field_name || String(r[query.field_name]) === query.field_value)
        .sort((a, b) => (this.order === 'updated' ? updated(a) - updated(b) : 0) || id(a) - id(b));
      const headers: Record<string, string> = query.count_total === 'true' ? { 'X-Total-Count': String(matching.length) } : {};
      const page = matching.slice(skip, skip + top);
      call.returned = page.length;
      answer(200, page, headers);
      await this.afterSearch?.(call);
    });
    const listening = await listenOnFreePort(app, port);
    this.close = listening.close;
    this.url = listening.url;
    return this.url;
  }

  async stop(): Promise<void> {
    await this.close?.();
  }
}
