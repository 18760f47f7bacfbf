import { useEffect, useState } from 'preact/hooks';
import { SIGNED_OUT_EVENT } from './api';
import { Page } from './components/page';
import { forgetElements } from './elements';
import { Link, navigate, useLocation } from './router';
import { clearSecrets, loadSecrets, type Secrets } from './session';
import { CreateInstance } from './pages/create-instance';
import { InstanceList } from './pages/instance-list';
import { InstancePage } from './pages/instance-page';
import { OAuthReturn } from './pages/oauth-return';
import { SignIn } from './pages/sign-in';

export function App() {
  const where = useLocation();
  const [secrets, setSecrets] = useState<Secrets | undefined>(loadSecrets);
  const [signedOutReason, setSignedOutReason] = useState<string>();

  useEffect(() => {
    // The API refused the stored secrets (changed, or the account removed): back to signing in.
    const refused = () => {
      clearSecrets();
      forgetElements();
      setSecrets(undefined);
      setSignedOutReason('The API no longer accepts the secrets you signed in with. Sign in again.');
    };
    window.addEventListener(SIGNED_OUT_EVENT, refused);
    return () => window.removeEventListener(SIGNED_OUT_EVENT, refused);
  }, []);

  const signOut = () => {
    clearSecrets();
    forgetElements();
    setSecrets(undefined);
    setSignedOutReason('Signed out.');
    navigate('/');
  };

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to the content
      </a>
      <header class="site-header">
        <Link href="/" class="brand">
          element-events
        </Link>
        {secrets ? (
          <nav aria-label="Console">
            <Link href="/" aria-current={where.path === '/' ? 'page' : undefined}>
              Instances
            </Link>
            <Link href="/new" aria-current={where.path === '/new' ? 'page' : undefined}>
              New instance
            </Link>
            <button type="button" class="link-button" onClick={signOut}>
              Sign out
            </button>
          </nav>
        ) : null}
      </header>
      <main id="main">
        {secrets ? (
          <Route path={where.path} query={where.query} />
        ) : (
          <SignIn
            reason={signedOutReason}
            onSignedIn={(s) => {
              setSignedOutReason(undefined);
              setSecrets(s);
            }}
          />
        )}
      </main>
    </>
  );
}

function Route({ path, query }: { path: string; query: URLSearchParams }) {
  if (path === '/') return <InstanceList key="list" />;
  if (path === '/new') return <CreateInstance key="new" />;
  if (path === '/oauth/return') return <OAuthReturn query={query} />;
  const instance = /^\/instances\/(\d+)$/.exec(path);
  if (instance) return <InstancePage key={instance[1]} id={instance[1]!} />;
  return (
    <Page title="Page not found">
      <p>
        There is no page at <code>{path}</code>. <Link href="/">Go to the instances</Link>.
      </p>
    </Page>
  );
}
