import { useEffect, useState } from 'preact/hooks';
import { call, messageOf } from '../api';
import { Notice, Page } from '../components/page';
import { elementName, useElements } from '../elements';
import { takeFlash } from '../flash';
import { Time } from '../format';
import { Link } from '../router';
import type { Instance } from '../types';

/** Instances a page; the API caps pages with summaries at 25. */
const PAGE_SIZE = 20;

function LastActivity({ instance }: { instance: Instance }) {
  const s = instance.summary;
  if (!s) return <>—</>;
  if (s.unavailable) return <span class="muted">unavailable ({s.unavailable})</span>;
  if (s.lastWebhookAt && (!s.lastPollAt || s.lastWebhookAt > s.lastPollAt))
    return (
      <>
        webhook <Time iso={s.lastWebhookAt} />
      </>
    );
  if (s.lastPollAt)
    return (
      <>
        poll <Time iso={s.lastPollAt} />
      </>
    );
  return <span class="muted">none yet</span>;
}

export function InstanceList() {
  const { elements } = useElements();
  // What the page before said it did (an instance deleted), shown once.
  const [notice] = useState(() => takeFlash()?.message);
  // The tokens of the pages before this one, so "Previous page" can go back.
  const [pages, setPages] = useState<(string | undefined)[]>([undefined]);
  const [instances, setInstances] = useState<Instance[]>();
  const [nextPage, setNextPage] = useState<string>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(true);
  const token = pages[pages.length - 1];

  useEffect(() => {
    let live = true;
    setLoading(true);
    call<Instance[]>('GET', '/instances', { query: { include: 'summary', pageSize: PAGE_SIZE, nextPage: token } })
      .then(
        (answer) => {
          if (!live) return;
          setInstances(answer.body);
          setNextPage(answer.nextPage);
          setError(undefined);
        },
        (err: unknown) => live && setError(messageOf(err)),
      )
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, [token]);

  return (
    <Page
      title="Instances"
      actions={
        <Link href="/new" class="button primary">
          New instance
        </Link>
      }
    >
      {notice ? <Notice>{notice}</Notice> : null}
      {error ? <Notice kind="error">{error}</Notice> : null}
      <div aria-busy={loading}>
        {instances && !instances.length && pages.length === 1 ? (
          <p>
            No instances yet. <Link href="/new">Create the first one</Link>.
          </p>
        ) : null}
        {instances?.length ? (
          <table class="cards">
            <caption class="visually-hidden">Your instances{pages.length > 1 ? `, page ${pages.length}` : ''}</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Element</th>
                <th scope="col">Events</th>
                <th scope="col">Last poll or webhook</th>
                <th scope="col">Failed deliveries</th>
              </tr>
            </thead>
            <tbody>
              {instances.map((i) => (
                <tr key={i.id}>
                  <th scope="row" data-label="Name">
                    <Link href={`/instances/${i.id}`}>{i.name}</Link>
                  </th>
                  <td data-label="Element">{elementName(elements, i.element.key)}</td>
                  <td data-label="Events">
                    <span class={`badge ${i.eventsEnabled ? 'on' : 'off'}`}>{i.eventsEnabled ? 'on' : 'off'}</span>
                  </td>
                  <td data-label="Last poll or webhook">
                    <LastActivity instance={i} />
                  </td>
                  <td data-label="Failed deliveries" class={i.summary?.failedDeliveries ? 'failed-count' : undefined}>
                    {i.summary?.failedDeliveries ?? '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </div>
      {pages.length > 1 || nextPage ? (
        <nav class="pager" aria-label="Instance pages">
          <button
            type="button"
            aria-disabled={pages.length === 1 || loading}
            onClick={() => !loading && pages.length > 1 && setPages(pages.slice(0, -1))}
          >
            Previous page
          </button>
          <span>Page {pages.length}</span>
          <button type="button" aria-disabled={!nextPage || loading} onClick={() => !loading && nextPage && setPages([...pages, nextPage])}>
            Next page
          </button>
        </nav>
      ) : null}
    </Page>
  );
}
