/**
 * A record's own entry. Keys that come from outside (resource names, callback ids) may be
 * `constructor` or `toString`, which plain indexing finds on Object.prototype.
 */
export const own = <T>(record: Record<string, T>, key: string): T | undefined => (Object.hasOwn(record, key) ? record[key] : undefined);
