import { useState } from 'preact/hooks';
import { ApiError, call, messageOf } from '../api';
import { TextField } from '../components/field';
import { Notice, Page } from '../components/page';
import { saveSecrets, type Secrets } from '../session';

/** Asks for the account's two secrets and keeps them only once the API accepts them. */
export function SignIn({ onSignedIn, reason }: { onSignedIn: (s: Secrets) => void; reason?: string }) {
  const [user, setUser] = useState('');
  const [organization, setOrganization] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const secrets = { user: user.trim(), organization: organization.trim() };
    if (!secrets.user || !secrets.organization) {
      setError('Enter both the User secret and the Organization secret.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      // Any call proves the secrets; the smallest list page is the cheapest one.
      await call('GET', '/instances', { query: { pageSize: 1 }, secrets });
      saveSecrets(secrets);
      onSignedIn(secrets);
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'Those secrets were refused. Check the User secret and the Organization secret and try again.'
          : messageOf(err),
      );
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page title="Sign in">
      <p>
        Sign in with your account's <strong>User</strong> and <strong>Organization</strong> secrets, the ones the API takes as{' '}
        <code>Authorization: User …, Organization …</code>. They are kept in this browser tab only, until you sign out or close it.
      </p>
      {reason ? <Notice>{reason}</Notice> : null}
      <form class="narrow" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <TextField path="user" label="User secret" type="password" autoComplete="off" required value={user} onInput={setUser} />
        <TextField
          path="organization"
          label="Organization secret"
          type="password"
          autoComplete="off"
          required
          value={organization}
          onInput={setOrganization}
        />
        {error ? <Notice kind="error">{error}</Notice> : null}
        <button type="submit" class="primary" aria-disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </Page>
  );
}
