import { expandTemplate, templateProblems } from '../../src/polling/template';

const SEED_URL = "/hubs/crm/contacts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}'";
// 2026-11-23T09:14:58.999Z
const SINCE = Date.UTC(2026, 10, 23, 9, 14, 58, 999);

describe('expandTemplate', () => {
  test("the seed's Insightly contacts URL", () => {
    expect(templateProblems(SEED_URL)).toEqual([]);
    expect(expandTemplate(SEED_URL, SINCE)).toBe("/hubs/crm/contacts?where=updated_after_utc='2026-11-23 09:14:58'");
  });

  test('epoch variants', () => {
    expect(expandTemplate('${epoch}', SINCE)).toBe('1795425298999');
    expect(expandTemplate('${epoch:s}', SINCE)).toBe('1795425298');
    expect(expandTemplate('${epoch:us}', SINCE)).toBe('1795425298999000');
    expect(expandTemplate('${epoch:s}', 1999)).toBe('1');
    expect(expandTemplate('${epoch:s}', 0)).toBe('0');
    expect(expandTemplate('${epoch}|${epoch:us}', 0)).toBe('0|0');
  });

  test('several placeholders in one template', () => {
    const template =
      '/x?ms=${epoch}&s=${epoch:s}&us=${epoch:us}&d=${date:yyyy-MM-dd}' +
      "&ny=${dateTimeZone:America/New_York:yyyy-MM-dd HH:mm:ss}&g=${gmtDate:HH:mm}&iso=${gmtDate:yyyy-MM-dd'T'HH:mm:ss.SSSXXX}";
    expect(templateProblems(template)).toEqual([]);
    expect(expandTemplate(template, SINCE)).toBe(
      '/x?ms=1795425298999&s=1795425298&us=1795425298999000&d=2026-11-23' + '&ny=2026-11-23 04:14:58&g=09:14&iso=2026-11-23T09:14:58.999Z',
    );
  });

  test('dateTimeZone with IANA zones (incl. DST) and GMT offsets', () => {
    const summer = Date.UTC(2024, 6, 4, 16, 0, 0);
    expect(expandTemplate('${dateTimeZone:America/New_York:yyyy-MM-dd HH:mm:ss Z}', summer)).toBe('2024-07-04 12:00:00 -0400');
    expect(expandTemplate('${dateTimeZone:GMT-0800:HH:mm}', summer)).toBe('08:00');
    expect(expandTemplate('${dateTimeZone:GMT+05:HH:mm}', summer)).toBe('21:00');
    // The offset's own ':' is part of the zone, not the start of the format.
    expect(expandTemplate('${dateTimeZone:GMT+05:30:HH:mm}', summer)).toBe('21:30');
    expect(expandTemplate('${dateTimeZone:GMT:HH:mm z}', summer)).toBe('16:00 GMT');
  });

  test('date uses the server zone, which is UTC', () => {
    expect(expandTemplate('${date:yyyy-MM-dd HH:mm:ss z}', SINCE)).toBe('2026-11-23 09:14:58 UTC');
    expect(expandTemplate('${gmtDate:yyyy-MM-dd HH:mm:ss z}', SINCE)).toBe('2026-11-23 09:14:58 GMT');
  });

  test('text without placeholders is unchanged', () => {
    expect(expandTemplate('/hubs/crm/contacts', SINCE)).toBe('/hubs/crm/contacts');
    expect(expandTemplate('a $ b {c} $x', SINCE)).toBe('a $ b {c} $x');
    expect(expandTemplate('', SINCE)).toBe('');
  });

  test('throws the first problem rather than sending a half-expanded URL', () => {
    expect(() => expandTemplate('/x?a=${nope:1}&b=${gmtDate:QQ}', SINCE)).toThrow(/nope/);
    expect(() => expandTemplate('${gmtDate:yyyy', SINCE)).toThrow(/Unterminated/);
    expect(() => expandTemplate('${epoch}', Number.NaN)).toThrow();
  });
});

describe('templateProblems', () => {
  test('unknown placeholder kinds', () => {
    const problems = templateProblems('/x?since=${lastPoll:yyyy}');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/lastPoll/);
  });

  test('bad patterns name the letter', () => {
    const problems = templateProblems('${gmtDate:YYYY-MM-dd}');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/'Y'/);
    expect(templateProblems("${date:yyyy-MM-dd'T}")[0]).toMatch(/Unterminated quote/);
  });

  test('bad zones', () => {
    const problems = templateProblems('${dateTimeZone:Mars/Olympus_Mons:yyyy}');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/Mars\/Olympus_Mons/);
    expect(templateProblems('${dateTimeZone:GMT+25:00:HH}')[0]).toMatch(/GMT\+25:00/);
  });

  test('missing formats, zones and epoch units', () => {
    expect(templateProblems('${gmtDate}')[0]).toMatch(/format/);
    expect(templateProblems('${date:}')[0]).toMatch(/format/);
    expect(templateProblems('${dateTimeZone:America/New_York}')[0]).toMatch(/zone and a format/);
    expect(templateProblems('${dateTimeZone}')[0]).toMatch(/zone and a format/);
    expect(templateProblems('${epoch:ns}')[0]).toMatch(/ns/);
  });

  test('unterminated ${', () => {
    const problems = templateProblems("/x?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss'");
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/Unterminated placeholder/);
  });

  test('every problem is reported', () => {
    expect(templateProblems('${a}${gmtDate:Q}${dateTimeZone:Nowhere:HH}${epoch:x}${')).toHaveLength(5);
  });
});
