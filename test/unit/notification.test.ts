import { createHmac } from 'node:crypto';
import {
  MAX_EVENTS_POLLING,
  MAX_EVENTS_WEBHOOKS,
  buildNotification,
  chunk,
  elementsSignature,
  eventIdFor,
  type StandardEvent,
} from '../../src/events/notification';

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('eventIdFor', () => {
  const parts = ['contacts', '1001@1795417498000:CREATED', '1002@1795417499000:UPDATED'];

  test('is deterministic', () => {
    expect(eventIdFor(42, parts)).toBe(eventIdFor(42, [...parts]));
  });

  test('is UUID-shaped: 8-4-4-4-12 lower-case hex, version 8, RFC 4122 variant', () => {
    for (let i = 0; i < 200; i++) {
      const id = eventIdFor(i, [`object-${i}`]);
      expect(id).toMatch(UUID_V8);
      expect(id).toHaveLength(36);
    }
  });

  test('the variant nibble takes every one of 8, 9, a, b over many ids', () => {
    const variants = new Set(Array.from({ length: 200 }, (_, i) => eventIdFor(1, [String(i)])[19]));
    expect([...variants].sort()).toEqual(['8', '9', 'a', 'b']);
  });

  test('differs when a part differs, when the order differs, when a part is added, and per instance', () => {
    const base = eventIdFor(42, parts);
    const others = [
      eventIdFor(42, ['contacts', '1001@1795417498000:CREATED', '1002@1795417499000:CREATED']),
      eventIdFor(42, [parts[0]!, parts[2]!, parts[1]!]),
      eventIdFor(42, [...parts, '1003@1795417500000:CREATED']),
      eventIdFor(42, parts.slice(0, 2)),
      eventIdFor(43, parts),
      eventIdFor(4, ['2', ...parts]),
    ];
    for (const other of others) expect(other).not.toBe(base);
    expect(new Set(others).size).toBe(others.length);
  });

  // Part values come from providers (object ids): no separator inside one may make two lists collide.
  test('parts containing a newline do not collide with split parts', () => {
    expect(eventIdFor(1, ['a\nb'])).not.toBe(eventIdFor(1, ['a', 'b']));
  });
});

describe('chunk', () => {
  test('splits into pieces of at most size, in order', () => {
    const items = Array.from({ length: 25 }, (_, i) => i);
    const pieces = chunk(items, MAX_EVENTS_POLLING);
    expect(pieces.map((p) => p.length)).toEqual([10, 10, 5]);
    expect(pieces.flat()).toEqual(items);
  });

  test('exact multiples leave no empty piece; an empty list gives no piece; a short list gives one', () => {
    expect(
      chunk(
        Array.from({ length: 40 }, (_, i) => i),
        MAX_EVENTS_WEBHOOKS,
      ).map((p) => p.length),
    ).toEqual([20, 20]);
    expect(chunk([], 10)).toEqual([]);
    expect(chunk(['a', 'b'], 10)).toEqual([['a', 'b']]);
    expect(chunk([1, 2, 3], 1)).toEqual([[1], [2], [3]]);
  });

  test('does not change its input', () => {
    const items = [1, 2, 3, 4];
    chunk(items, 3);
    expect(items).toEqual([1, 2, 3, 4]);
  });

  test('Cloud Elements figures: 10 events for polling, 20 for webhooks', () => {
    expect(MAX_EVENTS_POLLING).toBe(10);
    expect(MAX_EVENTS_WEBHOOKS).toBe(20);
  });
});

describe('buildNotification', () => {
  test("has exactly the shape of DESIGN.md's notification", () => {
    const events: StandardEvent[] = [
      { eventType: 'CREATED', objectType: 'contacts', objectId: '1001', elementKey: 'insightly', date: '2026-11-23T09:14:58.000Z' },
    ];
    const raw = { objectType: 'contacts', objects: [{ CONTACT_ID: 1001, DATE_UPDATED_UTC: '2026-11-23 09:14:58' }] };
    const eventId = eventIdFor(42, ['contacts', '1001']);
    const n = buildNotification({
      eventId,
      instance: { id: 42, name: 'API Instance with Polling', tags: ['Docs'], elementKey: 'insightly' },
      date: '2026-11-23T09:15:00.000Z',
      events,
      raw,
    });
    // Round-trip through JSON: what the callback receives.
    expect(JSON.parse(JSON.stringify(n))).toStrictEqual({
      message: {
        eventId,
        instanceId: 42,
        instanceName: 'API Instance with Polling',
        instanceTags: ['Docs'],
        elementKey: 'insightly',
        date: '2026-11-23T09:15:00.000Z',
        events: [
          { eventType: 'CREATED', objectType: 'contacts', objectId: '1001', elementKey: 'insightly', date: '2026-11-23T09:14:58.000Z' },
        ],
        raw: { objectType: 'contacts', objects: [{ CONTACT_ID: 1001, DATE_UPDATED_UTC: '2026-11-23 09:14:58' }] },
      },
    });
    expect(Object.keys(n)).toEqual(['message']);
    expect(typeof n.message.instanceId).toBe('number');
    expect(typeof n.message.events[0]!.objectId).toBe('string');
  });
});

describe('elementsSignature', () => {
  const independent = (body: string, key: string) =>
    `sha256=${createHmac('sha256', Buffer.from(key, 'utf8')).update(Buffer.from(body, 'utf8')).digest('base64')}`;

  test('is sha256= followed by the base64 HMAC-SHA256 of the body bytes keyed with the key', () => {
    const body = JSON.stringify({ message: { eventId: 'x', events: [] } });
    const sig = elementsSignature(body, 'my-signing-key');
    expect(sig).toBe(independent(body, 'my-signing-key'));
    expect(sig).toMatch(/^sha256=[A-Za-z0-9+/]{43}=$/);
  });

  test('non-ASCII bodies are signed over their UTF-8 bytes', () => {
    const body = '{"name":"Café 中文 👍"}';
    expect(elementsSignature(body, 'k')).toBe(independent(body, 'k'));
  });

  test('changes when one byte of the body changes, or the key changes', () => {
    const body = '{"message":{"eventId":"abc","instanceId":42}}';
    const sig = elementsSignature(body, 'key');
    const flipped = body.replace('42', '43');
    expect(flipped).toHaveLength(body.length);
    expect(elementsSignature(flipped, 'key')).not.toBe(sig);
    expect(elementsSignature(`${body} `, 'key')).not.toBe(sig);
    expect(elementsSignature(body, 'kez')).not.toBe(sig);
    expect(elementsSignature(body, 'key')).toBe(sig);
  });
});

describe('chunk guards', () => {
  test('a size below 1 is refused instead of looping forever', () => {
    expect(() => chunk([1, 2], 0)).toThrow(RangeError);
  });
});
