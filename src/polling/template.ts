// Cloud Elements poller URL templates: `${gmtDate:FMT}`, `${date:FMT}`, `${dateTimeZone:ZONE:FMT}`,
// `${epoch}`, `${epoch:s}`, `${epoch:us}`, all filled from one instant (the poll's "since" time).

import { formatJavaDate, isValidZone, validateJavaDatePattern } from './java-date';

// This project runs as if the server's zone were UTC, so `${date:...}` must not follow the host.
const SERVER_ZONE = 'UTC';

type Part = { kind: 'text'; text: string } | { kind: 'date'; zone: string; pattern: string } | { kind: 'epoch'; unit: 'ms' | 's' | 'us' };

// A zone written as GMT+05:00 has a ':' of its own; without this the "first ':'" rule would take
// GMT+05 as the zone and silently print a literal "00:" in front of the date.
const SPLIT_OFFSET_ZONE = /^((?:GMT|UTC|UT)[+-]\d{1,2}:\d{2}):/i;

function parseTemplate(template: string): { parts: Part[]; problems: string[] } {
  const parts: Part[] = [];
  const problems: string[] = [];
  let pos = 0;
  while (pos < template.length) {
    const start = template.indexOf('${', pos);
    if (start < 0) {
      parts.push({ kind: 'text', text: template.slice(pos) });
      break;
    }
    if (start > pos) parts.push({ kind: 'text', text: template.slice(pos, start) });
    const end = template.indexOf('}', start + 2);
    if (end < 0) {
      problems.push(`Unterminated placeholder at position ${start}: "${template.slice(start)}"`);
      parts.push({ kind: 'text', text: template.slice(start) });
      break;
    }
    const placeholder = template.slice(start, end + 1);
    const body = template.slice(start + 2, end);
    pos = end + 1;

    const colon = body.indexOf(':');
    const kind = colon < 0 ? body : body.slice(0, colon);
    const arg = colon < 0 ? undefined : body.slice(colon + 1);

    const datePart = (zone: string, pattern: string | undefined): void => {
      if (pattern === undefined || pattern === '') {
        problems.push(`Placeholder ${placeholder} needs a date format, e.g. \${${kind}:yyyy-MM-dd HH:mm:ss}`);
        return;
      }
      const bad = validateJavaDatePattern(pattern);
      if (bad) {
        problems.push(`Placeholder ${placeholder}: ${bad}`);
        return;
      }
      parts.push({ kind: 'date', zone, pattern });
    };

    switch (kind) {
      case 'gmtDate':
        datePart('GMT', arg);
        break;
      case 'date':
        datePart(SERVER_ZONE, arg);
        break;
      case 'dateTimeZone': {
        if (arg === undefined || arg === '') {
          problems.push(`Placeholder ${placeholder} needs a zone and a format: \${dateTimeZone:ZONE:FMT}`);
          break;
        }
        const offset = SPLIT_OFFSET_ZONE.exec(arg);
        const zoneEnd = offset ? (offset[1] ?? '').length : arg.indexOf(':');
        if (zoneEnd < 0) {
          problems.push(`Placeholder ${placeholder} needs a zone and a format: \${dateTimeZone:ZONE:FMT}`);
          break;
        }
        const zone = arg.slice(0, zoneEnd);
        if (!isValidZone(zone)) {
          problems.push(`Placeholder ${placeholder}: unknown time zone "${zone}"`);
          break;
        }
        datePart(zone, arg.slice(zoneEnd + 1));
        break;
      }
      case 'epoch':
        if (arg === undefined || arg === 'ms') parts.push({ kind: 'epoch', unit: 'ms' });
        else if (arg === 's' || arg === 'us') parts.push({ kind: 'epoch', unit: arg });
        else problems.push(`Placeholder ${placeholder}: unknown epoch unit "${arg}" (use \${epoch}, \${epoch:s} or \${epoch:us})`);
        break;
      default:
        problems.push(`Unknown placeholder ${placeholder}: kind "${kind}" is not one of gmtDate, date, dateTimeZone, epoch`);
    }
  }
  return { parts, problems };
}

export function templateProblems(template: string): string[] {
  return parseTemplate(template).problems;
}

export function expandTemplate(template: string, sinceMs: number): string {
  const { parts, problems } = parseTemplate(template);
  // Never send a half-expanded URL to a provider: it would poll the wrong window without failing.
  if (problems.length > 0) throw new Error(problems[0]);
  if (!Number.isFinite(sinceMs)) throw new Error(`Cannot expand a template for time ${String(sinceMs)}`);
  return parts
    .map((part) => {
      switch (part.kind) {
        case 'text':
          return part.text;
        case 'date':
          return formatJavaDate(sinceMs, part.pattern, part.zone);
        case 'epoch':
          if (part.unit === 's') return String(Math.floor(sinceMs / 1000));
          if (part.unit === 'us') return String(Math.floor(sinceMs * 1000));
          return String(Math.floor(sinceMs));
      }
    })
    .join('');
}
