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
