// Decides, for one polled record, whether it is a CREATED or UPDATED event in this poll's window,
// or is skipped. Pure: the caller supplies the window so replays of a poll classify identically.

import { DateTime } from 'luxon';
import { luxonZone, parseJavaDate } from './java-date';

export interface DatesConfiguration {
  updatedDateField?: string;
  updatedDateFormat?: string;
  updatedDateTimezone?: string;
  createdDateField?: string;
  createdDateFormat?: string;
  createdDateTimezone?: string;
}

export interface ClassifyOptions {
  dates: DatesConfiguration;
  /** Inclusive start of the poll window (epoch ms). */
  windowStartMs: number;
  /** Exclusive end of the poll window (epoch ms). */
  windowEndMs: number;
  /** Seconds between created and updated still counted as a creation; default 0. */
  createdCheckToleranceSeconds?: number;
  /** Default true. When false no record is skipped because of its dates. */
  filterByUpdatedDate?: boolean;
}

export type Classification = { eventType: 'CREATED' | 'UPDATED'; updatedMs?: number } | { skip: string };

// Dates without a configured zone are read in the server zone, which this project fixes to UTC.
const DEFAULT_ZONE = 'UTC';

type PathStep = string | number;

function parsePath(path: string): PathStep[] {
  let rest = path;
  if (rest === '$') return [];
  if (rest.startsWith('$.')) rest = rest.slice(2);
  else if (rest.startsWith('$[')) rest = rest.slice(1);
  const steps: PathStep[] = [];
  let i = 0;
  while (i < rest.length) {
    const c = rest.charAt(i);
    if (c === '.') {
      i++;
      continue;
    }
    if (c === '[') {
      const close = rest.indexOf(']', i);
      if (close < 0) {
        steps.push(rest.slice(i));
        break;
      }
      const inner = rest.slice(i + 1, close);
      const quoted = /^(['"])(.*)\1$/.exec(inner);
      if (quoted) steps.push(quoted[2] ?? '');
      else if (/^\d+$/.test(inner)) steps.push(Number(inner));
      else steps.push(inner);
      i = close + 1;
      continue;
    }
    let j = i;
    while (j < rest.length && rest.charAt(j) !== '.' && rest.charAt(j) !== '[') j++;
    steps.push(rest.slice(i, j));
    i = j;
  }
  return steps;
}

function step(value: unknown, key: PathStep): unknown {
  if (typeof key === 'number') return Array.isArray(value) ? value[key] : undefined;
  // Own properties only, so a field named "constructor" or "__proto__" never reaches the prototype.
  if (value !== null && typeof value === 'object' && Object.prototype.hasOwnProperty.call(value, key)) {
    return (value as Record<string, unknown>)[key];
  }
  return undefined;
}

/** Reads `CONTACT_ID`, `a.b.c`, `$.a.b`, `items[0].id` or `['odd.key']` from a record. */
export function getByPath(record: unknown, path: string): unknown {
  let value: unknown = record;
  for (const key of parsePath(path)) {
    value = step(value, key);
    if (value === undefined) break;
  }
  // Providers do use dots in field names; fall back to the whole path as one key.
  if (value === undefined && path.includes('.')) return step(record, path);
  return value;
}

/**
 * Epoch ms of a record's date field, or undefined when it is missing or not in the expected form.
 * Throws when the format or zone itself is invalid: that is a configuration error which must fail
 * the poll rather than quietly skip every record.
 */
export function readDate(
  record: unknown,
  field: string | undefined,
  format: string | undefined,
  zone: string | undefined,
): number | undefined {
  if (!field) return undefined;
  const value = getByPath(record, field);
  const zoneName = zone ? zone : DEFAULT_ZONE;

  if (!format) {
    if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
    if (typeof value !== 'string') return undefined;
    const z = luxonZone(zoneName);
    if (!z) throw new Error(`Unknown time zone "${zoneName}" for date field ${field}`);
    // Zone only applies to ISO text without an offset. A space instead of 'T' is common enough
    // (RFC 3339 allows it) that refusing it would drop real records.
    let dt = DateTime.fromISO(value, { zone: z });
    if (!dt.isValid) dt = DateTime.fromSQL(value, { zone: z });
    return dt.isValid ? dt.toMillis() : undefined;
  }

  if (typeof value !== 'string' && typeof value !== 'number') return undefined;
  return parseJavaDate(String(value), format, zoneName);
}

function describe(ms: number): string {
  // Epoch numbers come from provider data and may be out of Date's range; never throw on a message.
  return DateTime.fromMillis(ms, { zone: 'utc' }).toISO() ?? `${ms} ms`;
}

export function classify(record: unknown, opts: ClassifyOptions): Classification {
  const { dates, windowStartMs, windowEndMs } = opts;
  const filter = opts.filterByUpdatedDate !== false;
  const tolerance = opts.createdCheckToleranceSeconds;
  const toleranceMs = tolerance !== undefined && Number.isFinite(tolerance) && tolerance > 0 ? tolerance * 1000 : 0;

  const updatedMs = readDate(record, dates.updatedDateField, dates.updatedDateFormat, dates.updatedDateTimezone);

  if (updatedMs === undefined) {
    if (!filter) return { eventType: 'UPDATED' };
    const field = dates.updatedDateField;
    const raw = field ? getByPath(record, field) : undefined;
    return {
      skip: !field
        ? 'no updatedDateField configured, so the record cannot be placed in the poll window'
        : `updated date ${field}=${JSON.stringify(raw) ?? 'undefined'} is missing or does not match ` +
          `${dates.updatedDateFormat ? `format "${dates.updatedDateFormat}"` : 'ISO 8601 / epoch ms'}`,
    };
  }

  if (filter) {
    // Half-open window [start, end): consecutive polls share a boundary, and each record on it
    // belongs to exactly one of them.
    if (updatedMs < windowStartMs) {
      return { skip: `updated ${describe(updatedMs)} is before the poll window start ${describe(windowStartMs)}` };
    }
    if (updatedMs >= windowEndMs) {
      return {
        skip: `updated ${describe(updatedMs)} is at or after the poll window end ${describe(windowEndMs)}; the next poll reports it`,
      };
    }
  }

  const createdMs = readDate(record, dates.createdDateField, dates.createdDateFormat, dates.createdDateTimezone);
  const created = createdMs !== undefined && Math.abs(updatedMs - createdMs) <= toleranceMs;
  return { eventType: created ? 'CREATED' : 'UPDATED', updatedMs };
}
