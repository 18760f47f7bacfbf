// The account's secrets live in this tab's session storage only: never in a URL, never in local
// storage (which would outlive the tab), and sent only in the Authorization header.

export interface Secrets {
  user: string;
  organization: string;
}

const SECRETS = 'element-events.secrets';

export function loadSecrets(): Secrets | undefined {
  try {
    const raw = sessionStorage.getItem(SECRETS);
    const parsed = raw ? (JSON.parse(raw) as Partial<Secrets>) : undefined;
    return parsed?.user && parsed.organization ? { user: parsed.user, organization: parsed.organization } : undefined;
  } catch {
    return undefined;
  }
}

export function saveSecrets(secrets: Secrets): void {
  sessionStorage.setItem(SECRETS, JSON.stringify(secrets));
}

export function clearSecrets(): void {
  sessionStorage.removeItem(SECRETS);
}

export const authorization = (s: Secrets) => `User ${s.user}, Organization ${s.organization}`;

/** A value kept for the rest of this tab's session (a pending OAuth form, a draft): JSON, or undefined. */
export function takeStored<T>(key: string): T | undefined {
  const raw = sessionStorage.getItem(key);
  sessionStorage.removeItem(key);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

export function store(key: string, value: unknown): void {
  sessionStorage.setItem(key, JSON.stringify(value));
}
