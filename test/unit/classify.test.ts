import { classify, getByPath, readDate, type DatesConfiguration } from '../../src/polling/classify';

// The seed's Insightly datesConfiguration.
const INSIGHTLY: DatesConfiguration = {
  updatedDateField: 'DATE_UPDATED_UTC',
  updatedDateFormat: 'yyyy-MM-dd HH:mm:ss',
  updatedDateTimezone: 'GMT',
  createdDateField: 'DATE_CREATED_UTC',
  createdDateFormat: 'yyyy-MM-dd HH:mm:ss',
  createdDateTimezone: 'GMT',
};

const START = Date.UTC(2026, 10, 23, 9, 14, 0);
const END = Date.UTC(2026, 10, 23, 9, 15, 0);

function contact(updated: string, created = '2026-01-01 00:00:00', id = 1001): Record<string, unknown> {
  return { CONTACT_ID: id, DATE_CREATED_UTC: created, DATE_UPDATED_UTC: updated };
}

const window = { dates: INSIGHTLY, windowStartMs: START, windowEndMs: END };

describe('classify: the poll window is [start, end)', () => {
  test('a record exactly at windowStart is included', () => {
    expect(classify(contact('2026-11-23 09:14:00'), window)).toEqual({ eventType: 'UPDATED', updatedMs: START });
  });

  test('a record inside the window is included', () => {
    expect(classify(contact('2026-11-23 09:14:58'), window)).toEqual({
      eventType: 'UPDATED',
      updatedMs: Date.UTC(2026, 10, 23, 9, 14, 58),
    });
  });

  test('a record exactly at windowEnd is left for the next poll', () => {
    const result = classify(contact('2026-11-23 09:15:00'), window);
    expect(result).toHaveProperty('skip');
    expect((result as { skip: string }).skip).toMatch(/next poll/);
  });

  test('a record before windowStart is skipped', () => {
    const result = classify(contact('2026-11-23 09:13:59'), window);
    expect((result as { skip: string }).skip).toMatch(/before the poll window start/);
  });

  test('a record after windowEnd is skipped', () => {
    expect(classify(contact('2026-11-23 09:20:00'), window)).toHaveProperty('skip');
  });

  test('records sharing the boundary second are reported by exactly one of two consecutive polls', () => {
    const first = { dates: INSIGHTLY, windowStartMs: START, windowEndMs: END };
    const second = { dates: INSIGHTLY, windowStartMs: END, windowEndMs: END + 60_000 };
    const records = [
      contact('2026-11-23 09:14:59', '2026-01-01 00:00:00', 1),
      contact('2026-11-23 09:15:00', '2026-01-01 00:00:00', 2),
      contact('2026-11-23 09:15:00', '2026-11-23 09:15:00', 3),
      contact('2026-11-23 09:15:00', '2026-01-01 00:00:00', 4),
      contact('2026-11-23 09:15:01', '2026-01-01 00:00:00', 5),
    ];
    const reportedBy = (opts: typeof first): number[] =>
      records.filter((r) => !('skip' in classify(r, opts))).map((r) => r.CONTACT_ID as number);
    expect(reportedBy(first)).toEqual([1]);
    expect(reportedBy(second)).toEqual([2, 3, 4, 5]);
    // The provider query for the second poll (updated at or after its start, truncated to the
    // second) returns the first poll's boundary records again; they must not be reported twice.
    expect(classify(records[0], second)).toHaveProperty('skip');
  });

  test('sub-second window bounds against second-precision dates', () => {
    const opts = { dates: INSIGHTLY, windowStartMs: START + 500, windowEndMs: END + 500 };
    expect(classify(contact('2026-11-23 09:14:00'), opts)).toHaveProperty('skip');
    expect(classify(contact('2026-11-23 09:15:00'), opts)).toEqual({ eventType: 'UPDATED', updatedMs: END });
  });
});

describe('classify: CREATED vs UPDATED', () => {
  test('created equal to updated is CREATED', () => {
    expect(classify(contact('2026-11-23 09:14:30', '2026-11-23 09:14:30'), window)).toEqual({
      eventType: 'CREATED',
      updatedMs: Date.UTC(2026, 10, 23, 9, 14, 30),
    });
  });

  test('one second apart is UPDATED with the default tolerance of 0', () => {
    expect(classify(contact('2026-11-23 09:14:31', '2026-11-23 09:14:30'), window)).toMatchObject({ eventType: 'UPDATED' });
  });

  test('within the tolerance is CREATED, beyond it UPDATED', () => {
    const opts = { ...window, createdCheckToleranceSeconds: 2 };
    expect(classify(contact('2026-11-23 09:14:32', '2026-11-23 09:14:30'), opts)).toMatchObject({ eventType: 'CREATED' });
    expect(classify(contact('2026-11-23 09:14:33', '2026-11-23 09:14:30'), opts)).toMatchObject({ eventType: 'UPDATED' });
    // Clocks on the provider side can put created a little after updated.
    expect(classify(contact('2026-11-23 09:14:30', '2026-11-23 09:14:32'), opts)).toMatchObject({ eventType: 'CREATED' });
  });

  test('an unreadable created date means UPDATED', () => {
    expect(classify({ DATE_UPDATED_UTC: '2026-11-23 09:14:30' }, window)).toMatchObject({ eventType: 'UPDATED' });
    expect(classify(contact('2026-11-23 09:14:30', 'garbage'), window)).toMatchObject({ eventType: 'UPDATED' });
  });

  test('a negative tolerance counts as 0', () => {
    const opts = { ...window, createdCheckToleranceSeconds: -5 };
    expect(classify(contact('2026-11-23 09:14:30', '2026-11-23 09:14:30'), opts)).toMatchObject({ eventType: 'CREATED' });
    expect(classify(contact('2026-11-23 09:14:31', '2026-11-23 09:14:30'), opts)).toMatchObject({ eventType: 'UPDATED' });
  });
});

describe('classify: unreadable updated dates and filterByUpdatedDate', () => {
  test('unreadable updated date is skipped with a reason when filtering', () => {
    const result = classify(contact('23/11/2026'), window);
    expect((result as { skip: string }).skip).toMatch(/DATE_UPDATED_UTC/);
    expect((result as { skip: string }).skip).toMatch(/yyyy-MM-dd HH:mm:ss/);
    expect(classify({ CONTACT_ID: 1 }, window)).toHaveProperty('skip');
  });

  test('no updatedDateField configured is skipped with a reason when filtering', () => {
    const result = classify(contact('2026-11-23 09:14:30'), { ...window, dates: {} });
    expect((result as { skip: string }).skip).toMatch(/updatedDateField/);
  });

  test('unreadable updated date is UPDATED when not filtering', () => {
    expect(classify(contact('23/11/2026'), { ...window, filterByUpdatedDate: false })).toEqual({ eventType: 'UPDATED' });
    expect(classify({ CONTACT_ID: 1 }, { ...window, dates: {}, filterByUpdatedDate: false })).toEqual({
      eventType: 'UPDATED',
    });
  });

  test('no record is skipped by date when not filtering', () => {
    const opts = { ...window, filterByUpdatedDate: false };
    expect(classify(contact('2020-01-01 00:00:00'), opts)).toEqual({
      eventType: 'UPDATED',
      updatedMs: Date.UTC(2020, 0, 1),
    });
    expect(classify(contact('2026-11-23 09:15:00', '2026-11-23 09:15:00'), opts)).toEqual({
      eventType: 'CREATED',
      updatedMs: END,
    });
  });

  test('a bad configured format is a configuration error, not a skipped record', () => {
    expect(() => classify(contact('2026-11-23 09:14:30'), { ...window, dates: { ...INSIGHTLY, updatedDateFormat: 'YYYY' } })).toThrow(
      /'Y'/,
    );
  });
});

describe('classify: nested paths and other date forms', () => {
  test('nested date fields, ISO dates and zones', () => {
    const dates: DatesConfiguration = {
      updatedDateField: '$.meta.times[0].updated',
      createdDateField: 'meta.created',
      createdDateFormat: 'yyyy-MM-dd HH:mm:ss',
      createdDateTimezone: 'America/New_York',
    };
    const record = { meta: { times: [{ updated: '2026-11-23T04:14:30-05:00' }], created: '2026-11-23 04:14:30' } };
    expect(classify(record, { dates, windowStartMs: START, windowEndMs: END })).toEqual({
      eventType: 'CREATED',
      updatedMs: Date.UTC(2026, 10, 23, 9, 14, 30),
    });
  });

  test('epoch-millisecond dates', () => {
    const dates: DatesConfiguration = { updatedDateField: 'modifiedAt', createdDateField: 'createdAt' };
    const t = Date.UTC(2026, 10, 23, 9, 14, 30);
    expect(classify({ modifiedAt: t, createdAt: t }, { dates, windowStartMs: START, windowEndMs: END })).toEqual({
      eventType: 'CREATED',
      updatedMs: t,
    });
    expect(classify({ modifiedAt: END, createdAt: t }, { dates, windowStartMs: START, windowEndMs: END })).toHaveProperty('skip');
  });
});

describe('readDate', () => {
  const rec = {
    iso: '2026-11-23T09:14:58Z',
    isoOffset: '2026-11-23T04:14:58.250-05:00',
    isoLocal: '2026-11-23T04:14:58',
    sql: '2026-11-23 09:14:58',
    ms: 1795425298000,
    compact: 20261123,
    nothing: null,
    obj: { a: 1 },
  };

  test('without a format: ISO 8601 strings and epoch ms numbers', () => {
    expect(readDate(rec, 'iso', undefined, undefined)).toBe(Date.UTC(2026, 10, 23, 9, 14, 58));
    expect(readDate(rec, 'isoOffset', undefined, 'UTC')).toBe(Date.UTC(2026, 10, 23, 9, 14, 58, 250));
    // A zone only applies to ISO text without an offset.
    expect(readDate(rec, 'isoLocal', undefined, 'America/New_York')).toBe(Date.UTC(2026, 10, 23, 9, 14, 58));
    expect(readDate(rec, 'isoLocal', undefined, undefined)).toBe(Date.UTC(2026, 10, 23, 4, 14, 58));
    expect(readDate(rec, 'sql', undefined, 'GMT')).toBe(Date.UTC(2026, 10, 23, 9, 14, 58));
    expect(readDate(rec, 'ms', undefined, undefined)).toBe(1795425298000);
  });

  test('with a format', () => {
    expect(readDate(rec, 'sql', 'yyyy-MM-dd HH:mm:ss', 'GMT')).toBe(Date.UTC(2026, 10, 23, 9, 14, 58));
    expect(readDate(rec, 'sql', 'yyyy-MM-dd HH:mm:ss', 'America/New_York')).toBe(Date.UTC(2026, 10, 23, 14, 14, 58));
    expect(readDate(rec, 'sql', 'yyyy-MM-dd HH:mm:ss', undefined)).toBe(Date.UTC(2026, 10, 23, 9, 14, 58));
    expect(readDate(rec, 'compact', 'yyyyMMdd', 'UTC')).toBe(Date.UTC(2026, 10, 23));
    expect(readDate(rec, 'iso', 'yyyy-MM-dd HH:mm:ss', 'UTC')).toBeUndefined();
  });

  test('missing or unusable values are undefined', () => {
    expect(readDate(rec, 'absent', undefined, undefined)).toBeUndefined();
    expect(readDate(rec, 'nothing', undefined, undefined)).toBeUndefined();
    expect(readDate(rec, 'obj', undefined, undefined)).toBeUndefined();
    expect(readDate(rec, undefined, undefined, undefined)).toBeUndefined();
    expect(readDate({ d: 'yesterday' }, 'd', undefined, undefined)).toBeUndefined();
  });

  test('a bad zone throws', () => {
    expect(() => readDate(rec, 'sql', 'yyyy-MM-dd HH:mm:ss', 'Nowhere')).toThrow(/Nowhere/);
    expect(() => readDate(rec, 'iso', undefined, 'Nowhere')).toThrow(/Nowhere/);
  });
});

describe('getByPath', () => {
  const record = {
    CONTACT_ID: 1001,
    a: { b: { c: 'deep' } },
    items: [{ id: 'i0', tags: ['t0', 't1'] }, { id: 'i1' }],
    'odd.key': 'dotted',
    zero: 0,
  };

  test('plain, dotted and $-prefixed paths', () => {
    expect(getByPath(record, 'CONTACT_ID')).toBe(1001);
    expect(getByPath(record, '$.CONTACT_ID')).toBe(1001);
    expect(getByPath(record, 'a.b.c')).toBe('deep');
    expect(getByPath(record, '$.a.b.c')).toBe('deep');
    expect(getByPath(record, 'a.b')).toEqual({ c: 'deep' });
    expect(getByPath(record, '$')).toBe(record);
    expect(getByPath(record, 'zero')).toBe(0);
  });

  test('array indexes', () => {
    expect(getByPath(record, 'items[0].id')).toBe('i0');
    expect(getByPath(record, '$.items[1].id')).toBe('i1');
    expect(getByPath(record, 'items[0].tags[1]')).toBe('t1');
    expect(getByPath(record, 'items.0.id')).toBe('i0');
    expect(getByPath([{ id: 7 }], '$[0].id')).toBe(7);
  });

  test('quoted keys and keys containing dots', () => {
    expect(getByPath(record, "['odd.key']")).toBe('dotted');
    expect(getByPath(record, 'odd.key')).toBe('dotted');
  });

  test('missing paths are undefined', () => {
    expect(getByPath(record, 'nope')).toBeUndefined();
    expect(getByPath(record, 'a.x.c')).toBeUndefined();
    expect(getByPath(record, 'items[5].id')).toBeUndefined();
    expect(getByPath(record, 'a[0]')).toBeUndefined();
    expect(getByPath(record, 'CONTACT_ID.x')).toBeUndefined();
    expect(getByPath(null, 'a')).toBeUndefined();
    expect(getByPath('text', 'length')).toBeUndefined();
    // Never read through the prototype.
    expect(getByPath(record, 'constructor')).toBeUndefined();
    expect(getByPath(record, 'a.__proto__')).toBeUndefined();
    expect(getByPath(record, 'items.length')).toBe(2);
  });
});
