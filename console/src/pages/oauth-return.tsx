import { useEffect, useState } from 'preact/hooks';
import { ApiError, call, messageOf } from '../api';
import { Notice, Page } from '../components/page';
import { useElements } from '../elements';
import { setFlash } from '../flash';
import { createBody } from '../form';
import { Link, navigate } from '../router';
import { store, takeStored } from '../session';
import type { Instance } from '../types';
import { DRAFT_KEY, pendingKey, type Draft, type PendingConnection } from './create-instance';

/**
 * Where the provider sends the browser back with `code` and `state`: the state must be one this tab
 * started (its pending form is kept under it, once); then the instance is created with the code.
 */
export function OAuthReturn({ query }: { query: URLSearchParams }) {
  const { elements, error: elementsError } = useElements();
  // Read once: the code is single-use, and the address bar is cleared of it at once.
  const [given] = useState(() => ({
    code: query.get('code') ?? undefined,
    state: query.get('state') ?? undefined,
    error: query.get('error') ?? undefined,
    errorDescription: query.get('error_description') ?? undefined,
  }));
  const [pending] = useState(() => (given.state ? takeStored<PendingConnection>(pendingKey(given.state)) : undefined));
  const [problem, setProblem] = useState<string>();

  useEffect(() => {
    history.replaceState(null, '', location.pathname);
  }, []);

  useEffect(() => {
    if (!pending || !elements || given.error || !given.code) return;
    const element = elements.find((e) => e.key === pending.form.elementKey);
    if (!element) {
      setProblem(`The element ${pending.form.elementKey} is no longer offered.`);
      return;
    }
    call<Instance & { token: string }>('POST', '/instances', {
      json: createBody(pending.form, element, { code: given.code }),
      headers: { 'Idempotency-Key': pending.idempotencyKey },
    }).then(
      ({ body }) => {
        setFlash({ created: body });
        navigate(`/instances/${body.id}`, { replace: true });
      },
      (err: unknown) => {
        // Back to the form, filled in as it was, with the API's errors beside their fields.
        const draft: Draft = {
          form: pending.form,
          message: `The instance was not created: ${messageOf(err)}`,
          errors: err instanceof ApiError ? err.errors : [],
        };
        store(DRAFT_KEY, draft);
        navigate('/new', { replace: true });
      },
    );
  }, [elements]);

  let failure: string | undefined = problem ?? elementsError;
  if (given.error) failure = `The provider did not grant access: ${given.errorDescription ?? given.error}.`;
  else if (!given.state || !pending)
    failure = 'This return does not match a connection started in this browser tab (its state is unknown or was already used).';
  else if (!given.code) failure = 'The provider sent no authorization code back.';

  useEffect(() => {
    // "Back to the form" shows it as it was.
    if (failure && pending) store(DRAFT_KEY, { form: pending.form, message: failure } satisfies Draft);
  }, [failure]);
  return (
    <Page title="Connecting">
      {failure ? (
        <>
          <Notice kind="error">{failure}</Notice>
          <p>
            <Link href="/new">Back to the new instance form</Link>
          </p>
        </>
      ) : (
        <p role="status">Creating the instance with the provider's authorization…</p>
      )}
    </Page>
  );
}
