import { hubObjects, translateHubUrl, type Translation } from '../../src/elements/insightly/where';

const TEMPLATE = '${gmtDate:yyyy-MM-dd HH:mm:ss}';
const SEED = `/hubs/crm/contacts?where=updated_after_utc='${TEMPLATE}'`;

function search(t: Translation) {
  if (!t.ok) throw new Error(`expected a translation, got problems: ${t.problems.join('; ')}`);
  return t.search;
}

function problems(t: Translation): string[] {
  if (t.ok) throw new Error(`expected problems, got ${JSON.stringify(t.search)}`);
  expect(t.problems.length).toBeGreaterThan(0);
  return t.problems;
}

describe('translateHubUrl', () => {
  test('the seed URL becomes a Contacts search with the date template kept for later expansion', () => {
    expect(search(translateHubUrl(SEED))).toEqual({ object: 'Contacts', params: { updated_after_utc: TEMPLATE } });
  });

  test.each([
    ['contacts', 'Contacts'],
    ['accounts', 'Organisations'],
    ['leads', 'Leads'],
    ['opportunities', 'Opportunities'],
  ])('/hubs/crm/%s maps to Insightly %s', (hub, object) => {
    const s = search(translateHubUrl(`/hubs/crm/${hub}?where=updated_after_utc='${TEMPLATE}'`));
    expect(s.object).toBe(object);
    expect(s.params).toEqual({ updated_after_utc: TEMPLATE });
    expect(hubObjects[hub]).toBe(object);
  });

  test('a hub path without a query searches with no parameters', () => {
    expect(search(translateHubUrl('/hubs/crm/leads'))).toEqual({ object: 'Leads', params: {} });
  });

  test('DATE_UPDATED_UTC >= is an alias of updated_after_utc (case-insensitive field)', () => {
    expect(search(translateHubUrl(`/hubs/crm/contacts?where=DATE_UPDATED_UTC >= '${TEMPLATE}'`)).params).toEqual({
      updated_after_utc: TEMPLATE,
    });
    expect(search(translateHubUrl(`/hubs/crm/contacts?where=date_updated_utc>='${TEMPLATE}'`)).params).toEqual({
      updated_after_utc: TEMPLATE,
    });
  });

  test('= on DATE_UPDATED_UTC is refused with a problem that says to use >=', () => {
    const p = problems(translateHubUrl(`/hubs/crm/contacts?where=DATE_UPDATED_UTC = '${TEMPLATE}'`));
    expect(p.join('\n')).toMatch(/DATE_UPDATED_UTC/);
    expect(p.join('\n')).toMatch(/>=/);
  });

  test('field_name and field_value together become search parameters next to the date', () => {
    const url = `/hubs/crm/contacts?where=updated_after_utc='${TEMPLATE}' and field_name='LAST_NAME' AND field_value='Smith'`;
    expect(search(translateHubUrl(url))).toEqual({
      object: 'Contacts',
      params: { updated_after_utc: TEMPLATE, field_name: 'LAST_NAME', field_value: 'Smith' },
    });
  });

  test.each([["field_name='LAST_NAME'"], ["field_value='Smith'"]])('%s without its partner is a problem', (clause) => {
    const p = problems(translateHubUrl(`/hubs/crm/contacts?where=updated_after_utc='${TEMPLATE}' and ${clause}`));
    expect(p.join('\n')).toMatch(/field_name and field_value/);
  });

  test('an unknown field is a problem naming the field', () => {
    const p = problems(translateHubUrl("/hubs/crm/contacts?where=EMAIL_ADDRESS='a@b.c'"));
    expect(p.join('\n')).toContain('EMAIL_ADDRESS');
  });

  test('a clause that is not field op quoted-value is a problem quoting it', () => {
    const p = problems(translateHubUrl('/hubs/crm/contacts?where=updated_after_utc=yesterday'));
    expect(p.join('\n')).toContain('updated_after_utc=yesterday');
  });

  test('an unknown resource is a problem naming it and the known ones', () => {
    const p = problems(translateHubUrl(`/hubs/crm/widgets?where=updated_after_utc='${TEMPLATE}'`)).join('\n');
    expect(p).toContain('widgets');
    expect(p).toContain('contacts');
  });

  test.each([
    [`/Contacts/Search?updated_after_utc='${TEMPLATE}'`],
    [`/hubs/marketing/contacts?where=updated_after_utc='${TEMPLATE}'`],
    [`https://api.na1.insightly.com/v3.1/Contacts`],
    [''],
  ])('a non-hub path (%j) is a problem saying it is not a hub URL', (url) => {
    expect(problems(translateHubUrl(url)).join('\n')).toMatch(/not a hub URL/);
  });

  test('an extra query parameter is a problem naming it', () => {
    const p = problems(translateHubUrl(`${SEED}&orderBy=LAST_NAME`)).join('\n');
    expect(p).toContain('orderBy');
  });

  test('a URL-encoded where is decoded (%27 quotes, %20 spaces, %3D, %24%7B template)', () => {
    // encodeURIComponent leaves ' alone; clients such as curl --data-urlencode or Java's URLEncoder escape it.
    const encoded = `/hubs/crm/contacts?where=${encodeURIComponent(`updated_after_utc='${TEMPLATE}'`).replace(/'/g, '%27')}`;
    expect(encoded).toContain('%27');
    expect(search(translateHubUrl(encoded))).toEqual({ object: 'Contacts', params: { updated_after_utc: TEMPLATE } });

    const partly = '/hubs/crm/contacts?where=updated_after_utc%20%3E%3D%20%27${gmtDate:yyyy-MM-dd HH:mm:ss}%27';
    expect(search(translateHubUrl(partly)).params).toEqual({ updated_after_utc: TEMPLATE });
  });

  test("'+' is kept as a plus (time zone offsets such as GMT+05:00), not turned into a space", () => {
    const tpl = '${dateTimeZone:GMT+05:00:yyyy-MM-dd HH:mm:ss}';
    expect(search(translateHubUrl(`/hubs/crm/contacts?where=updated_after_utc='${tpl}'`)).params.updated_after_utc).toBe(tpl);
    expect(search(translateHubUrl("/hubs/crm/contacts?where=updated_after_utc='2026-01-01T00:00:00+05:00'")).params).toEqual({
      updated_after_utc: '2026-01-01T00:00:00+05:00',
    });
    // %2B decodes to a plus as well.
    expect(search(translateHubUrl('/hubs/crm/contacts?where=updated_after_utc%3D%272026-01-01T00:00:00%2B05:00%27')).params).toEqual({
      updated_after_utc: '2026-01-01T00:00:00+05:00',
    });
  });

  test("a value holding a quote (a Java pattern literal such as 'T') is reported, not mis-read", () => {
    const tpl = "${gmtDate:yyyy-MM-dd'T'HH:mm:ss}";
    expect(problems(translateHubUrl(`/hubs/crm/contacts?where=updated_after_utc='${tpl}'`)).length).toBeGreaterThan(0);
  });

  test('a malformed %-escape is a problem, not an exception', () => {
    expect(() => translateHubUrl("/hubs/crm/contacts?where=updated_after_utc='%ZZ'")).not.toThrow();
    const t = translateHubUrl("/hubs/crm/contacts?where=field_name='%E0%A4%A'");
    expect(problems(t).join('\n')).toMatch(/malformed URL escape/);
  });

  // A value may contain the word "and": only an AND outside quotes separates clauses.
  test('" and " inside a quoted value is not a clause separator', () => {
    const url = `/hubs/crm/accounts?where=field_name='ORGANISATION_NAME' and field_value='Smith and Sons'`;
    expect(search(translateHubUrl(url)).params).toEqual({ field_name: 'ORGANISATION_NAME', field_value: 'Smith and Sons' });
  });
});
