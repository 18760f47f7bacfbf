import { formatJavaDate, isValidZone, luxonZone, parseJavaDate, validateJavaDatePattern } from '../../src/polling/java-date';

const INSIGHTLY = 'yyyy-MM-dd HH:mm:ss';
const ISO_MS = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX";
const RFC_1123 = 'EEE, dd MMM yyyy HH:mm:ss Z';

// 2026-11-23T09:14:58.123Z, a Monday, standard time in New York.
const NOV = Date.UTC(2026, 10, 23, 9, 14, 58, 123);
// 2024-07-04T00:05:06.007Z, a Thursday, daylight time in New York.
const JUL = Date.UTC(2024, 6, 4, 0, 5, 6, 7);

describe('formatJavaDate', () => {
  test("Insightly's yyyy-MM-dd HH:mm:ss in GMT", () => {
    expect(formatJavaDate(NOV, INSIGHTLY, 'GMT')).toBe('2026-11-23 09:14:58');
    expect(formatJavaDate(NOV, INSIGHTLY, 'UTC')).toBe('2026-11-23 09:14:58');
  });

  test("ISO patterns with 'T' and XXX", () => {
    expect(formatJavaDate(NOV, ISO_MS, 'GMT')).toBe('2026-11-23T09:14:58.123Z');
    expect(formatJavaDate(NOV, ISO_MS, 'America/New_York')).toBe('2026-11-23T04:14:58.123-05:00');
    expect(formatJavaDate(JUL, ISO_MS, 'America/New_York')).toBe('2024-07-03T20:05:06.007-04:00');
    expect(formatJavaDate(NOV, "yyyy-MM-dd'T'HH:mm:ssX", 'America/New_York')).toBe('2026-11-23T04:14:58-05');
    expect(formatJavaDate(NOV, "yyyy-MM-dd'T'HH:mm:ssXX", 'America/New_York')).toBe('2026-11-23T04:14:58-0500');
    expect(formatJavaDate(NOV, "yyyy-MM-dd'T'HH:mm:ssX", 'UTC')).toBe('2026-11-23T09:14:58Z');
    expect(formatJavaDate(NOV, 'XXX', 'GMT+05:30')).toBe('+05:30');
  });

  test('EEE, dd MMM yyyy HH:mm:ss Z', () => {
    expect(formatJavaDate(NOV, RFC_1123, 'GMT')).toBe('Mon, 23 Nov 2026 09:14:58 +0000');
    expect(formatJavaDate(NOV, RFC_1123, 'America/New_York')).toBe('Mon, 23 Nov 2026 04:14:58 -0500');
    expect(formatJavaDate(JUL, RFC_1123, 'America/New_York')).toBe('Wed, 03 Jul 2024 20:05:06 -0400');
  });

  test('America/New_York across the DST changes', () => {
    const p = 'yyyy-MM-dd HH:mm:ss z';
    // Spring forward: 01:59:59 EST is followed by 03:00:00 EDT.
    expect(formatJavaDate(Date.UTC(2024, 2, 10, 6, 59, 59), p, 'America/New_York')).toBe('2024-03-10 01:59:59 EST');
    expect(formatJavaDate(Date.UTC(2024, 2, 10, 7, 0, 0), p, 'America/New_York')).toBe('2024-03-10 03:00:00 EDT');
    // Fall back: 01:30 happens twice.
    expect(formatJavaDate(Date.UTC(2024, 10, 3, 5, 30), p, 'America/New_York')).toBe('2024-11-03 01:30:00 EDT');
    expect(formatJavaDate(Date.UTC(2024, 10, 3, 6, 30), p, 'America/New_York')).toBe('2024-11-03 01:30:00 EST');
    expect(formatJavaDate(JUL, 'zzzz', 'America/New_York')).toBe('Eastern Daylight Time');
  });

  test('GMT offset zones and zone names', () => {
    expect(formatJavaDate(NOV, 'HH:mm z', 'GMT+05:00')).toBe('14:14 GMT+05:00');
    expect(formatJavaDate(NOV, 'HH:mm Z', 'GMT-0800')).toBe('01:14 -0800');
    expect(formatJavaDate(NOV, 'HH:mm Z', 'GMT+5')).toBe('14:14 +0500');
    expect(formatJavaDate(NOV, 'yyyy-MM-dd HH:mm', 'GMT-08:00')).toBe('2026-11-23 01:14');
    expect(formatJavaDate(NOV, 'z', 'GMT')).toBe('GMT');
    expect(formatJavaDate(NOV, 'z', 'UTC')).toBe('UTC');
    expect(formatJavaDate(NOV, 'zzzz', 'GMT')).toBe('Greenwich Mean Time');
  });

  test('the other supported letters', () => {
    expect(formatJavaDate(JUL, 'EEEE MMMM d yy', 'UTC')).toBe('Thursday July 4 24');
    expect(formatJavaDate(JUL, 'M/d/y', 'UTC')).toBe('7/4/2024');
    expect(formatJavaDate(JUL, 'h:mm a', 'UTC')).toBe('12:05 AM');
    expect(formatJavaDate(JUL, 'hh:mm a', 'GMT+13:00')).toBe('01:05 PM');
    // k is 1-24 (midnight is 24), K is 0-11 (midnight is 0).
    expect(formatJavaDate(JUL, 'k K H', 'UTC')).toBe('24 0 0');
    expect(formatJavaDate(Date.UTC(2024, 6, 4, 12), 'k K H h', 'UTC')).toBe('12 0 12 12');
    expect(formatJavaDate(Date.UTC(2024, 6, 4, 23), 'kk KK HH hh', 'UTC')).toBe('23 11 23 11');
    // D is day of year, u is day of week (Monday 1 .. Sunday 7).
    expect(formatJavaDate(JUL, 'D DDD u', 'UTC')).toBe('186 186 4');
    expect(formatJavaDate(Date.UTC(2024, 0, 7), 'D DDD u EEE', 'UTC')).toBe('7 007 7 Sun');
    // S is the millisecond count.
    expect(formatJavaDate(JUL, 'S SSS', 'UTC')).toBe('7 007');
    expect(formatJavaDate(NOV, 's.SSS', 'UTC')).toBe('58.123');
    expect(formatJavaDate(JUL, 'MMM dd', 'UTC')).toBe('Jul 04');
  });

  test('quoted literals', () => {
    expect(formatJavaDate(NOV, "HH 'o''clock'", 'UTC')).toBe("09 o'clock");
    expect(formatJavaDate(NOV, "''yy''", 'UTC')).toBe("'26'");
    expect(formatJavaDate(NOV, "'Day' D 'of' yyyy", 'UTC')).toBe('Day 327 of 2026');
    expect(formatJavaDate(NOV, "yyyy-MM-dd'T'HH", 'UTC')).toBe('2026-11-23T09');
  });

  test('bad patterns, zones and times throw', () => {
    expect(() => formatJavaDate(NOV, 'YYYY-MM-dd', 'UTC')).toThrow(/'Y'/);
    expect(() => formatJavaDate(NOV, "yyyy-MM-dd'T", 'UTC')).toThrow(/Unterminated quote/);
    expect(() => formatJavaDate(NOV, INSIGHTLY, 'Mars/Olympus_Mons')).toThrow(/Mars\/Olympus_Mons/);
    expect(() => formatJavaDate(Number.NaN, INSIGHTLY, 'UTC')).toThrow();
  });
});

describe('parseJavaDate', () => {
  test("Insightly's format in GMT", () => {
    expect(parseJavaDate('2026-11-23 09:14:58', INSIGHTLY, 'GMT')).toBe(Date.UTC(2026, 10, 23, 9, 14, 58));
    expect(parseJavaDate('2026-11-23 09:14:58', INSIGHTLY, 'UTC')).toBe(Date.UTC(2026, 10, 23, 9, 14, 58));
  });

  test('wall-clock text in America/New_York, standard and daylight time', () => {
    expect(parseJavaDate('2024-01-04 12:00:00', INSIGHTLY, 'America/New_York')).toBe(Date.UTC(2024, 0, 4, 17));
    expect(parseJavaDate('2024-07-04 12:00:00', INSIGHTLY, 'America/New_York')).toBe(Date.UTC(2024, 6, 4, 16));
    expect(parseJavaDate('2024-07-04 12:00:00', INSIGHTLY, 'GMT+05:00')).toBe(Date.UTC(2024, 6, 4, 7));
    expect(parseJavaDate('2024-07-04 12:00:00', INSIGHTLY, 'GMT-0800')).toBe(Date.UTC(2024, 6, 4, 20));
  });

  test('an offset in the text wins over the zone argument', () => {
    const expected = Date.UTC(2026, 10, 23, 9, 14, 58, 123);
    expect(parseJavaDate('2026-11-23T09:14:58.123Z', ISO_MS, 'America/New_York')).toBe(expected);
    expect(parseJavaDate('2026-11-23T04:14:58.123-05:00', ISO_MS, 'UTC')).toBe(expected);
    expect(parseJavaDate('2026-11-23T14:44:58.123+05:30', ISO_MS, 'UTC')).toBe(expected);
    expect(parseJavaDate('Mon, 23 Nov 2026 04:14:58 -0500', RFC_1123, 'UTC')).toBe(Date.UTC(2026, 10, 23, 9, 14, 58));
    expect(parseJavaDate('Mon, 23 Nov 2026 09:14:58 +0000', RFC_1123, 'America/New_York')).toBe(Date.UTC(2026, 10, 23, 9, 14, 58));
    expect(parseJavaDate('2024-07-04 12:00:00 EDT', 'yyyy-MM-dd HH:mm:ss z', 'UTC')).toBe(Date.UTC(2024, 6, 4, 16));
    expect(parseJavaDate('2024-07-04 12:00:00 GMT+05:30', 'yyyy-MM-dd HH:mm:ss z', 'UTC')).toBe(Date.UTC(2024, 6, 4, 6, 30));
    expect(parseJavaDate('2024-07-04 12:00:00 America/Chicago', 'yyyy-MM-dd HH:mm:ss z', 'UTC')).toBe(Date.UTC(2024, 6, 4, 17));
  });

  test('the other letters', () => {
    expect(parseJavaDate('20240704000506', 'yyyyMMddHHmmss', 'UTC')).toBe(Date.UTC(2024, 6, 4, 0, 5, 6));
    expect(parseJavaDate('7/4/2024', 'M/d/yyyy', 'UTC')).toBe(Date.UTC(2024, 6, 4));
    expect(parseJavaDate('July 4, 2024', 'MMMM d, yyyy', 'UTC')).toBe(Date.UTC(2024, 6, 4));
    expect(parseJavaDate('04-sep-2024', 'dd-MMM-yyyy', 'UTC')).toBe(Date.UTC(2024, 8, 4));
    expect(parseJavaDate('24-07-04', 'yy-MM-dd', 'UTC')).toBe(Date.UTC(2024, 6, 4));
    expect(parseJavaDate('99-07-04', 'yy-MM-dd', 'UTC')).toBe(Date.UTC(1999, 6, 4));
    expect(parseJavaDate('2024-186', 'yyyy-DDD', 'UTC')).toBe(Date.UTC(2024, 6, 4));
    expect(parseJavaDate('2024-07-04 12:30 AM', 'yyyy-MM-dd hh:mm a', 'UTC')).toBe(Date.UTC(2024, 6, 4, 0, 30));
    expect(parseJavaDate('2024-07-04 12:30 PM', 'yyyy-MM-dd hh:mm a', 'UTC')).toBe(Date.UTC(2024, 6, 4, 12, 30));
    expect(parseJavaDate('2024-07-04 1:00 pm', 'yyyy-MM-dd h:mm a', 'UTC')).toBe(Date.UTC(2024, 6, 4, 13));
    expect(parseJavaDate('2024-07-04 24:00', 'yyyy-MM-dd kk:mm', 'UTC')).toBe(Date.UTC(2024, 6, 4, 0));
    expect(parseJavaDate('2024-07-04 11:00 PM', 'yyyy-MM-dd KK:mm a', 'UTC')).toBe(Date.UTC(2024, 6, 4, 23));
    expect(parseJavaDate("09 o'clock 2024-07-04", "HH 'o''clock' yyyy-MM-dd", 'UTC')).toBe(Date.UTC(2024, 6, 4, 9));
  });

  test('text that does not fit the pattern is undefined', () => {
    expect(parseJavaDate('2026-11-23T09:14:58Z', INSIGHTLY, 'UTC')).toBeUndefined();
    expect(parseJavaDate('2026-11-23 09:14:58 trailing', INSIGHTLY, 'UTC')).toBeUndefined();
    expect(parseJavaDate('', INSIGHTLY, 'UTC')).toBeUndefined();
    expect(parseJavaDate('not a date', INSIGHTLY, 'UTC')).toBeUndefined();
    expect(parseJavaDate('2026-02-30 00:00:00', INSIGHTLY, 'UTC')).toBeUndefined();
    expect(parseJavaDate('2026-13-01 00:00:00', INSIGHTLY, 'UTC')).toBeUndefined();
    expect(parseJavaDate('2026-11-23 24:00:00', INSIGHTLY, 'UTC')).toBeUndefined();
    expect(parseJavaDate('2026-11-23 13:00 PM', 'yyyy-MM-dd hh:mm a', 'UTC')).toBeUndefined();
    expect(parseJavaDate('Xyz, 23 Nov 2026 09:14:58 +0000', RFC_1123, 'UTC')).toBeUndefined();
  });

  test('a bad pattern or zone is a configuration error and throws', () => {
    expect(() => parseJavaDate('2026', 'YYYY', 'UTC')).toThrow(/'Y'/);
    expect(() => parseJavaDate('2026', 'yyyy', 'Nowhere/Special')).toThrow(/Nowhere\/Special/);
  });

  test('round trips format -> parse', () => {
    const instants = [
      NOV,
      JUL,
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(2024, 2, 10, 7, 0, 0, 1),
      Date.UTC(2024, 10, 3, 5, 30, 0, 500), // first 01:30 in New York
      Date.UTC(1999, 11, 31, 23, 59, 59, 0),
    ];
    const patterns = [
      ISO_MS,
      "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
      'EEE, dd MMM yyyy HH:mm:ss.SSS z',
      'EEEE, MMMM d yyyy hh:mm:ss.SSS a XXX',
      'yyyyMMddHHmmssSSSXX',
      'yyyy-DDD kk:mm:ss.SSS Z',
    ];
    const zones = ['GMT', 'UTC', 'America/New_York', 'Asia/Kolkata', 'GMT+05:00', 'GMT-0800'];
    for (const t of instants) {
      for (const pattern of patterns) {
        for (const zone of zones) {
          const text = formatJavaDate(t, pattern, zone);
          expect({ pattern, zone, text, parsed: parseJavaDate(text, pattern, zone) }).toEqual({
            pattern,
            zone,
            text,
            parsed: t,
          });
        }
      }
    }
    // Without a zone in the text, a wall-clock pattern round trips wherever the wall time is unambiguous.
    for (const zone of zones) {
      const text = formatJavaDate(NOV, INSIGHTLY, zone);
      expect(parseJavaDate(text, INSIGHTLY, zone)).toBe(Date.UTC(2026, 10, 23, 9, 14, 58));
    }
  });
});

describe('validateJavaDatePattern', () => {
  test('good patterns', () => {
    for (const p of [INSIGHTLY, ISO_MS, RFC_1123, "yyyy-MM-dd'T'HH:mm:ssX", "h 'o''clock' a", 'D u k K zzzz', '']) {
      expect(validateJavaDatePattern(p)).toBeUndefined();
    }
  });

  test('bad patterns name the problem', () => {
    expect(validateJavaDatePattern('yyyy-MM-dd HH:mm:ss Q')).toMatch(/'Q'/);
    expect(validateJavaDatePattern('YYYY-MM-dd')).toMatch(/'Y'/);
    expect(validateJavaDatePattern('yyyy-MM-ddTHH:mm:ss')).toMatch(/'T'/);
    expect(validateJavaDatePattern('yyyy-MM-dd G')).toMatch(/'G'/);
    expect(validateJavaDatePattern("yyyy 'unclosed")).toMatch(/Unterminated quote/);
    expect(validateJavaDatePattern('HH:mm XXXX')).toMatch(/'X'/);
  });
});

describe('zones', () => {
  test('isValidZone', () => {
    for (const z of ['GMT', 'UTC', 'America/New_York', 'Europe/London', 'GMT+05:00', 'GMT-0800', 'GMT+5', 'GMT-08:30']) {
      expect({ z, valid: isValidZone(z) }).toEqual({ z, valid: true });
    }
    for (const z of ['', 'Mars/Olympus_Mons', 'GMT+25:00', 'GMT+05:99', 'GMT+', 'not a zone']) {
      expect({ z, valid: isValidZone(z) }).toEqual({ z, valid: false });
    }
  });

  test("Java's GMT is luxon's UTC", () => {
    expect(luxonZone('GMT')?.isUniversal).toBe(true);
    expect(luxonZone('GMT')?.offset(NOV)).toBe(0);
    expect(luxonZone('GMT-0800')?.offset(NOV)).toBe(-480);
    expect(luxonZone('America/New_York')?.offset(JUL)).toBe(-240);
    expect(luxonZone('bogus')).toBeUndefined();
  });
});
