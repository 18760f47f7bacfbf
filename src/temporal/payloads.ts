/** A memo or search attribute payload as the default converter wrote it (JSON), or undefined. */
export function payloadValue(payload: { data?: Uint8Array | null } | null | undefined): unknown {
  if (!payload?.data) return undefined;
  try {
    return JSON.parse(Buffer.from(payload.data).toString('utf8'));
  } catch {
    return undefined;
  }
}
