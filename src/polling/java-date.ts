// Java SimpleDateFormat patterns on top of luxon.
//
// Cloud Elements configurations (poller URL templates, datesConfiguration) are written for Java's
// SimpleDateFormat, so we keep their pattern language instead of asking users to rewrite them.
// Calendar and time-zone arithmetic is always luxon's; this module only translates pattern letters.
// Output is pinned to en-US / latin digits so it never depends on the host's locale.

import { DateTime, FixedOffsetZone, IANAZone, Info, type Zone } from 'luxon';

const LOCALE = { locale: 'en-US', numberingSystem: 'latn', outputCalendar: 'gregory' } as const;

type FieldLetter = 'y' | 'M' | 'd' | 'H' | 'h' | 'k' | 'K' | 'm' | 's' | 'S' | 'E' | 'a' | 'D' | 'u' | 'z' | 'Z' | 'X';

const FIELD_LETTERS = new Set<string>(['y', 'M', 'd', 'H', 'h', 'k', 'K', 'm', 's', 'S', 'E', 'a', 'D', 'u', 'z', 'Z', 'X']);

type Token = { kind: 'literal'; text: string } | { kind: 'field'; letter: FieldLetter; count: number };

function tokenize(pattern: string): { tokens: Token[] } | { error: string } {
  const tokens: Token[] = [];
  const pushLiteral = (text: string): void => {
    const last = tokens[tokens.length - 1];
    if (last && last.kind === 'literal') last.text += text;
    else tokens.push({ kind: 'literal', text });
  };
  let i = 0;
  while (i < pattern.length) {
    const c = pattern.charAt(i);
    if (c === "'") {
      // '' is a literal quote both inside and outside a quoted run, as in Java.
      if (pattern.charAt(i + 1) === "'") {
        pushLiteral("'");
        i += 2;
        continue;
      }
      let text = '';
      let j = i + 1;
      let closed = false;
      while (j < pattern.length) {
        if (pattern.charAt(j) === "'") {
          if (pattern.charAt(j + 1) === "'") {
            text += "'";
            j += 2;
            continue;
          }
          closed = true;
          break;
        }
        text += pattern.charAt(j);
        j++;
      }
      if (!closed) return { error: `Unterminated quote in date pattern "${pattern}"` };
      pushLiteral(text);
      i = j + 1;
      continue;
    }
    if (/[A-Za-z]/.test(c)) {
      // Java reserves every ASCII letter; an unsupported one would silently print garbage, so refuse it.
      if (!FIELD_LETTERS.has(c)) {
        return { error: `Illegal pattern character '${c}' in date pattern "${pattern}"` };
      }
      let j = i;
      while (pattern.charAt(j) === c) j++;
      const count = j - i;
      if (c === 'X' && count > 3) {
        return { error: `Too many pattern letters 'X' (at most 3) in date pattern "${pattern}"` };
      }
      tokens.push({ kind: 'field', letter: c as FieldLetter, count });
      i = j;
      continue;
    }
    pushLiteral(c);
    i++;
  }
  return { tokens };
}

export function validateJavaDatePattern(pattern: string): string | undefined {
  if (typeof pattern !== 'string') return 'date pattern must be a string';
  const result = tokenize(pattern);
  return 'error' in result ? result.error : undefined;
}

// ---------------------------------------------------------------------------------------------
// Zones

interface ResolvedZone {
  zone: Zone;
  // Java prints custom and GMT/UTC zones by their id rather than an abbreviation, so remember it.
  shortName?: string;
  longName?: string;
}

const OFFSET_ZONE = /^(?:GMT|UTC|UT)([+-])(\d{1,2})(?::?(\d{2}))?$/i;

function fixedOffset(sign: string, hours: string, minutes: string | undefined): FixedOffsetZone | undefined {
  const h = Number(hours);
  const m = minutes === undefined ? 0 : Number(minutes);
  // Java's custom zone ids stop at 23:59.
  if (h > 23 || m > 59) return undefined;
  return FixedOffsetZone.instance((sign === '-' ? -1 : 1) * (h * 60 + m));
}

function resolveZone(zone: string): ResolvedZone | undefined {
  if (typeof zone !== 'string' || zone === '') return undefined;
  const upper = zone.toUpperCase();
  // Java's 'GMT' is luxon's UTC; keep the name so a 'z' field prints what Java would.
  if (upper === 'GMT') return { zone: FixedOffsetZone.utcInstance, shortName: 'GMT', longName: 'Greenwich Mean Time' };
  if (upper === 'UTC' || upper === 'UT') {
    return { zone: FixedOffsetZone.utcInstance, shortName: 'UTC', longName: 'Coordinated Universal Time' };
  }
  const m = OFFSET_ZONE.exec(zone);
  if (m) {
    const z = fixedOffset(m[1] ?? '+', m[2] ?? '0', m[3]);
    if (!z) return undefined;
    const name = `GMT${z.formatOffset(0, 'short')}`;
    return { zone: z, shortName: name, longName: name };
  }
  if (IANAZone.isValidZone(zone)) return { zone: IANAZone.create(zone) };
  return undefined;
}

/** The luxon zone for a Java-style zone id ('GMT', 'UTC', 'GMT+05:00', 'GMT-0800', IANA names). */
export function luxonZone(zone: string): Zone | undefined {
  return resolveZone(zone)?.zone;
}

export function isValidZone(zone: string): boolean {
  return resolveZone(zone) !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Formatting

function pad(text: string, count: number): string {
  // Java's rule for numbers: at least `count` digits.
  return text.padStart(count, '0');
}

function formatField(dt: DateTime, letter: FieldLetter, count: number, zone: ResolvedZone): string {
  switch (letter) {
    case 'y':
      return count === 2 ? dt.toFormat('yy') : pad(dt.toFormat('y'), count);
    case 'M':
      if (count >= 4) return dt.toFormat('MMMM');
      if (count === 3) return dt.toFormat('MMM');
      return pad(dt.toFormat('M'), count);
    case 'd':
      return pad(dt.toFormat('d'), count);
    case 'H':
      return pad(dt.toFormat('H'), count);
    case 'h':
      return pad(dt.toFormat('h'), count);
    case 'k': {
      // luxon has no 1-24 hour token; Java's k shows midnight as 24.
      const h = dt.toFormat('H');
      return pad(h === '0' ? '24' : h, count);
    }
    case 'K': {
      // luxon has no 0-11 hour token; Java's K shows noon/midnight as 0.
      const h = dt.toFormat('h');
      return pad(h === '12' ? '0' : h, count);
    }
    case 'm':
      return pad(dt.toFormat('m'), count);
    case 's':
      return pad(dt.toFormat('s'), count);
    case 'S':
      // Java's S is the millisecond count, not a fraction: SSS is 3 digits, S is unpadded.
      return pad(dt.toFormat('S'), count);
    case 'E':
      return dt.toFormat(count >= 4 ? 'EEEE' : 'EEE');
    case 'a':
      return dt.toFormat('a');
    case 'D':
      return pad(dt.toFormat('o'), count);
    case 'u':
      // Both Java's u and luxon's E number Monday 1 .. Sunday 7.
      return pad(dt.toFormat('E'), count);
    case 'z':
      if (count >= 4) return zone.longName ?? dt.toFormat('ZZZZZ');
      return zone.shortName ?? dt.toFormat('ZZZZ');
    case 'Z':
      return dt.toFormat('ZZZ');
    case 'X':
      // ISO 8601 writes a zero offset as Z.
      if (dt.offset === 0) return 'Z';
      if (count === 1) return dt.toFormat('ZZZ').slice(0, 3);
      return dt.toFormat(count === 2 ? 'ZZZ' : 'ZZ');
  }
}

export function formatJavaDate(epochMs: number, pattern: string, zone: string): string {
  if (!Number.isFinite(epochMs)) throw new Error(`Cannot format a date from ${String(epochMs)}`);
  const tokenized = tokenize(pattern);
  if ('error' in tokenized) throw new Error(tokenized.error);
  const resolved = resolveZone(zone);
  if (!resolved) throw new Error(`Unknown time zone "${zone}"`);
  const dt = DateTime.fromMillis(epochMs, { zone: resolved.zone, ...LOCALE });
  return tokenized.tokens.map((t) => (t.kind === 'literal' ? t.text : formatField(dt, t.letter, t.count, resolved))).join('');
}

// ---------------------------------------------------------------------------------------------
// Parsing
//
// luxon's fromFormat cannot read k, K, u, X's 'Z' or zone abbreviations, so fields are matched
// here and the resulting wall-clock fields are handed to luxon to resolve against the zone.
// Unlike Java's lenient default, out-of-range values and trailing text are rejected: a date we
// cannot read exactly is reported as unreadable rather than guessed.

interface Parsed {
  year?: number;
  month?: number;
  day?: number;
  ordinal?: number;
  hour?: number;
  hour12?: number; // from h or K, already 0-11
  pm?: boolean;
  minute?: number;
  second?: number;
  millisecond?: number;
  zone?: Zone;
}

interface Unit {
  re: string;
  apply(text: string, into: Parsed): boolean;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function alternation(names: string[]): string {
  // Longest first so "June" is not cut to "Jun".
  return [...new Set(names)]
    .sort((a, b) => b.length - a.length)
    .map(escapeRegex)
    .join('|');
}

function nameIndex(names: string[], text: string): number {
  const lower = text.toLowerCase();
  return names.findIndex((n) => n.toLowerCase() === lower);
}

const MONTHS_LONG = Info.months('long', { locale: 'en-US' });
const MONTHS_SHORT = Info.months('short', { locale: 'en-US' });
const WEEKDAYS = [...Info.weekdays('long', { locale: 'en-US' }), ...Info.weekdays('short', { locale: 'en-US' })];
const MERIDIEMS = Info.meridiems({ locale: 'en-US' });

// Abbreviations Java's English symbols resolve; they are fixed offsets, not the named zones.
const ZONE_ABBREVIATIONS: Record<string, number> = {
  Z: 0,
  GMT: 0,
  UTC: 0,
  UT: 0,
  EST: -300,
  EDT: -240,
  CST: -360,
  CDT: -300,
  MST: -420,
  MDT: -360,
  PST: -480,
  PDT: -420,
  AKST: -540,
  AKDT: -480,
  HST: -600,
};

const NUMERIC_OFFSET = /^([+-])(\d{2}):?(\d{2})?$/;

function parseZoneText(text: string): Zone | undefined {
  const abbr = ZONE_ABBREVIATIONS[text.toUpperCase()];
  if (abbr !== undefined) return FixedOffsetZone.instance(abbr);
  const m = NUMERIC_OFFSET.exec(text);
  if (m) return fixedOffset(m[1] ?? '+', m[2] ?? '0', m[3]);
  return resolveZone(text)?.zone;
}

const MAX_DIGITS: Partial<Record<FieldLetter, number>> = {
  y: 4,
  M: 2,
  d: 2,
  H: 2,
  h: 2,
  k: 2,
  K: 2,
  m: 2,
  s: 2,
  S: 3,
  D: 3,
  u: 1,
};

function isNumeric(t: Token | undefined): boolean {
  return t !== undefined && t.kind === 'field' && MAX_DIGITS[t.letter] !== undefined && !(t.letter === 'M' && t.count >= 3);
}

function numberUnit(count: number, max: number, abutting: boolean, set: (n: number, digits: number, p: Parsed) => boolean): Unit {
  // Java reads exactly `count` digits when the next field is also a number (yyyyMMdd); otherwise
  // any reasonable number of digits (MM accepts "7").
  const re = abutting && count > 1 ? `(\\d{${count}})` : `(\\d{1,${Math.max(count, max)}})`;
  return { re, apply: (text, p) => set(Number(text), text.length, p) };
}

function unitFor(token: Token, next: Token | undefined): Unit {
  if (token.kind === 'literal') return { re: `(${escapeRegex(token.text)})`, apply: () => true };
  const { letter, count } = token;
  const abutting = isNumeric(next);
  const max = MAX_DIGITS[letter] ?? 2;
  const num = (set: (n: number, digits: number, p: Parsed) => boolean): Unit => numberUnit(count, max, abutting, set);
  const inRange = (n: number, lo: number, hi: number): boolean => n >= lo && n <= hi;
  switch (letter) {
    case 'y':
      return num((n, digits, p) => {
        // Java windows two-digit years around "now"; we must be deterministic, so use luxon's
        // fixed cutoff instead: 00-60 is 20xx, 61-99 is 19xx.
        p.year = count === 2 && digits === 2 ? (n <= 60 ? 2000 + n : 1900 + n) : n;
        return true;
      });
    case 'M':
      if (count >= 3) {
        return {
          re: `(${alternation([...MONTHS_LONG, ...MONTHS_SHORT])})`,
          apply: (text, p) => {
            const long = nameIndex(MONTHS_LONG, text);
            p.month = (long >= 0 ? long : nameIndex(MONTHS_SHORT, text)) + 1;
            return p.month > 0;
          },
        };
      }
      return num((n, _d, p) => ((p.month = n), inRange(n, 1, 12)));
    case 'd':
      return num((n, _d, p) => ((p.day = n), inRange(n, 1, 31)));
    case 'H':
      return num((n, _d, p) => ((p.hour = n), (p.hour12 = undefined), inRange(n, 0, 23)));
    case 'k':
      return num((n, _d, p) => ((p.hour = n === 24 ? 0 : n), (p.hour12 = undefined), inRange(n, 1, 24)));
    case 'h':
      return num((n, _d, p) => ((p.hour12 = n === 12 ? 0 : n), (p.hour = undefined), inRange(n, 1, 12)));
    case 'K':
      return num((n, _d, p) => ((p.hour12 = n), (p.hour = undefined), inRange(n, 0, 11)));
    case 'm':
      return num((n, _d, p) => ((p.minute = n), inRange(n, 0, 59)));
    case 's':
      return num((n, _d, p) => ((p.second = n), inRange(n, 0, 59)));
    case 'S':
      return num((n, _d, p) => ((p.millisecond = n), inRange(n, 0, 999)));
    case 'D':
      return num((n, _d, p) => ((p.ordinal = n), inRange(n, 1, 366)));
    case 'u':
      // Like Java, a day of the week never overrides the date; it only has to be well formed.
      return num((n) => inRange(n, 1, 7));
    case 'E':
      return { re: `(${alternation(WEEKDAYS)})`, apply: () => true };
    case 'a':
      return {
        re: `(${alternation(MERIDIEMS)})`,
        apply: (text, p) => ((p.pm = nameIndex(MERIDIEMS, text) === 1), true),
      };
    case 'z':
    case 'Z':
      // Java accepts any zone form when parsing z or Z.
      return {
        re: '((?:GMT|UTC|UT)(?:[+-]\\d{1,2}(?::?\\d{2})?)?|[+-]\\d{2}:?\\d{2}|[A-Za-z][A-Za-z0-9_+-]*(?:/[A-Za-z0-9_+-]+)*)',
        apply: (text, p) => ((p.zone = parseZoneText(text)), p.zone !== undefined),
      };
    case 'X':
      return {
        re: '(Z|[+-]\\d{2}(?::?\\d{2})?)',
        apply: (text, p) => ((p.zone = parseZoneText(text)), p.zone !== undefined),
      };
  }
}

export function parseJavaDate(text: string, pattern: string, zone: string): number | undefined {
  const tokenized = tokenize(pattern);
  // A bad pattern or zone is a configuration error, not an unreadable value: fail loudly.
  if ('error' in tokenized) throw new Error(tokenized.error);
  const resolved = resolveZone(zone);
  if (!resolved) throw new Error(`Unknown time zone "${zone}"`);
  if (typeof text !== 'string') return undefined;

  const { tokens } = tokenized;
  const units = tokens.map((t, i) => unitFor(t, tokens[i + 1]));
  const match = new RegExp(`^${units.map((u) => u.re).join('')}$`, 'i').exec(text);
  if (!match) return undefined;

  const p: Parsed = {};
  for (let i = 0; i < units.length; i++) {
    const unit = units[i];
    const captured = match[i + 1];
    if (!unit || captured === undefined || !unit.apply(captured, p)) return undefined;
  }

  // Java defaults missing fields to 1970-01-01 00:00:00.000 and AM.
  const hour = p.hour ?? (p.hour12 !== undefined ? p.hour12 + (p.pm ? 12 : 0) : 0);
  const time = { hour, minute: p.minute ?? 0, second: p.second ?? 0, millisecond: p.millisecond ?? 0 };
  const useOrdinal = p.ordinal !== undefined && p.month === undefined && p.day === undefined;
  const dateFields = useOrdinal
    ? { year: p.year ?? 1970, ordinal: p.ordinal }
    : { year: p.year ?? 1970, month: p.month ?? 1, day: p.day ?? 1 };
  const dt = DateTime.fromObject({ ...dateFields, ...time }, { zone: p.zone ?? resolved.zone });
  return dt.isValid ? dt.toMillis() : undefined;
}
