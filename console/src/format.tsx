/** A time as the reader's local date and time, with the exact instant machine-readable. */
export function Time({ iso, fallback = '—' }: { iso?: string; fallback?: string }) {
  if (!iso) return <>{fallback}</>;
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return <>{iso}</>;
  return (
    <time dateTime={iso} title={iso}>
      {date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' })}
    </time>
  );
}

/** The first part of a long id, enough to tell notifications apart in a list. */
export const shortId = (id: string) => id.slice(0, 8);
