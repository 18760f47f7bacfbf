import { jsonDepthExceeds, MAX_JSON_DEPTH } from '../../src/api/json-depth';

const nested = (depth: number): unknown => {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { k: value };
  return value;
};

describe('JSON depth limit', () => {
  test('scalars have no depth; each object or array adds one', () => {
    expect(jsonDepthExceeds('x', 0)).toBe(false);
    expect(jsonDepthExceeds(null, 0)).toBe(false);
    expect(jsonDepthExceeds({}, 0)).toBe(true);
    expect(jsonDepthExceeds({}, 1)).toBe(false);
    expect(jsonDepthExceeds(nested(5), 5)).toBe(false);
    expect(jsonDepthExceeds(nested(6), 5)).toBe(true);
  });

  test('the deepest branch counts, not the first', () => {
    expect(jsonDepthExceeds({ a: 1, b: [2], c: { d: nested(3) } }, 5)).toBe(false);
    expect(jsonDepthExceeds({ a: 1, b: [2], c: { d: nested(4) } }, 5)).toBe(true);
  });

  test('a value nested far beyond the call stack is measured without overflowing it', () => {
    expect(jsonDepthExceeds(nested(200_000), MAX_JSON_DEPTH)).toBe(true);
  });

  test('an instance body with a full poller configuration is well within the limit', () => {
    const body = {
      element: { key: 'insightly' },
      configuration: { 'event.poller.configuration': { contacts: { datesConfiguration: { updatedDateField: 'DATE_UPDATED_UTC' } } } },
    };
    expect(jsonDepthExceeds(body, MAX_JSON_DEPTH)).toBe(false);
  });
});
