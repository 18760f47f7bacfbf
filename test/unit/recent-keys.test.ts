import { RecentKeys } from '../../src/workflows/recent-keys';

describe('RecentKeys', () => {
  test('a key seen within the window is a repeat; after it, a first sighting again', () => {
    const keys = new RecentKeys([], 10_000, 100);
    expect(keys.firstSighting('a', 0)).toBe(true);
    expect(keys.firstSighting('a', 9_999)).toBe(false);
    expect(keys.firstSighting('b', 5_000)).toBe(true);
    expect(keys.firstSighting('a', 10_000)).toBe(true); // the window is measured from the first sighting
    expect(keys.firstSighting('b', 14_000)).toBe(false);
    expect(keys.toJSON()).toEqual([
      ['b', 5_000],
      ['a', 10_000],
    ]);
  });

  test('at most `max` keys: the oldest goes first, and the rest survive a round trip through JSON', () => {
    const keys = new RecentKeys([], 60_000, 3);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) expect(keys.firstSighting(k, i)).toBe(true);
    expect(keys.size).toBe(3);
    const carried = new RecentKeys(JSON.parse(JSON.stringify(keys)) as [string, number][], 60_000, 3);
    expect(carried.firstSighting('a', 10)).toBe(true); // dropped when full: a very late repeat gets through
    expect(carried.firstSighting('d', 10)).toBe(false);
    expect(carried.firstSighting('c', 10)).toBe(false);
  });
});

describe('RecentKeys, read only', () => {
  test('seenWithin answers without recording, and only within the window', () => {
    const keys = new RecentKeys([['a', 1_000]], 10_000, 100);
    expect(keys.seenWithin('a', 10_999)).toBe(true);
    expect(keys.seenWithin('a', 11_000)).toBe(false);
    expect(keys.seenWithin('b', 2_000)).toBe(false);
    expect(keys.firstSighting('b', 2_000)).toBe(true); // asking did not record it
  });

  test('remembersSince: until the set is full, everything; then only back to its oldest key', () => {
    const keys = new RecentKeys([], 60_000, 3);
    keys.firstSighting('a', 10);
    keys.firstSighting('b', 20);
    expect(keys.remembersSince(0)).toBe(true);
    keys.firstSighting('c', 30);
    expect(keys.remembersSince(10)).toBe(true);
    expect(keys.remembersSince(9)).toBe(false);
    keys.firstSighting('d', 40); // 'a' (10) dropped
    expect(keys.remembersSince(15)).toBe(false);
    expect(keys.remembersSince(20)).toBe(true);
  });
});
