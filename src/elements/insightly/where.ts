/**
 * Translates a Cloud Elements hub URL (`/hubs/crm/contacts?where=updated_after_utc='${gmtDate:…}'`)
 * into Insightly's search call. Everything that cannot be translated is reported, so that a bad
 * configuration is refused when the instance is created instead of failing every poll.
 */

export const hubObjects: Record<string, string> = {
  contacts: 'Contacts',
  accounts: 'Organisations',
  leads: 'Leads',
  opportunities: 'Opportunities',
};

export interface InsightlySearch {
  object: string;
  /** Query parameters; values may still hold `${…}` date templates. */
  params: Record<string, string>;
}

export type Translation = { ok: true; search: InsightlySearch } | { ok: false; problems: string[] };

// `field op 'value'`; a value may not contain a quote, which keeps the grammar unambiguous.
const clausePattern = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|=|>)\s*'([^']*)'\s*$/;

const updatedAliases = new Set(['updated_after_utc', 'date_updated_utc']);

// Clauses are separated by AND outside quotes, so a value may itself contain " and ".
function splitClauses(where: string): string[] {
  const clauses: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < where.length; i++) {
    const ch = where[i]!;
    if (ch === "'") quoted = !quoted;
    if (!quoted && /^\s+and\s+/i.test(where.slice(i)) && current.trim()) {
      clauses.push(current);
      current = '';
      i += /^\s+and\s+/i.exec(where.slice(i))![0].length - 1;
      continue;
    }
    current += ch;
  }
  clauses.push(current);
  return clauses;
}

function translateWhere(where: string, params: Record<string, string>, problems: string[]): void {
  for (const clause of splitClauses(where)) {
    const m = clausePattern.exec(clause);
    if (!m) {
      problems.push(`cannot translate the where clause "${clause.trim()}": expected field = 'value'`);
      continue;
    }
    const [, rawField, op, value] = m as unknown as [string, string, string, string];
    const field = rawField.toLowerCase();
    if (updatedAliases.has(field)) {
      if (field === 'date_updated_utc' && op === '=') {
        problems.push(`cannot translate "${clause.trim()}": Insightly searches updated dates only as "at or after" (use >=)`);
      } else params.updated_after_utc = value;
    } else if (field === 'field_name' || field === 'field_value') {
      if (op !== '=') problems.push(`cannot translate "${clause.trim()}": ${field} takes =`);
      else params[field] = value;
    } else {
      problems.push(
        `cannot translate the where clause on "${rawField}": Insightly search supports updated_after_utc, field_name and field_value`,
      );
    }
  }
  if ('field_name' in params !== 'field_value' in params) {
    problems.push('field_name and field_value must be given together');
  }
}

// Decodes %XX escapes but keeps '+', which date templates use for offsets (GMT+05:00).
function decode(part: string, problems: string[]): string {
  try {
    return decodeURIComponent(part);
  } catch {
    problems.push(`malformed URL escape in "${part}"`);
    return part;
  }
}

export function translateHubUrl(url: string): Translation {
  const problems: string[] = [];
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const query = q === -1 ? '' : url.slice(q + 1);

  const pathMatch = /^\/hubs\/crm\/([A-Za-z_]+)\/?$/.exec(path.trim());
  const hubName = pathMatch?.[1];
  const object = hubName ? hubObjects[hubName.toLowerCase()] : undefined;
  if (!pathMatch) problems.push(`url path "${path}" is not a hub URL like /hubs/crm/contacts`);
  else if (!object) {
    problems.push(`unknown Insightly resource "${hubName}"; known: ${Object.keys(hubObjects).join(', ')}`);
  }

  const params: Record<string, string> = {};
  for (const pair of query.split('&').filter(Boolean)) {
    const eq = pair.indexOf('=');
    const key = decode(eq === -1 ? pair : pair.slice(0, eq), problems);
    const value = decode(eq === -1 ? '' : pair.slice(eq + 1), problems);
    if (key === 'where') translateWhere(value, params, problems);
    else problems.push(`unsupported query parameter "${key}" (only where is translated)`);
  }
  return problems.length || !object ? { ok: false, problems } : { ok: true, search: { object, params } };
}
