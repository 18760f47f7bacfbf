import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { call, messageOf } from '../api';
import { Notice } from '../components/page';
import { shortId, Time } from '../format';
import { useInterval } from '../hooks';
import { DELIVERY_STATUSES, type DeliveryRecord, type NotificationListItem } from '../types';

const PAGE_SIZE = 25;
/** The first page is read again this often, so new notifications and status changes show up. */
const REFRESH_MS = 5_000;

interface Page {
  events: NotificationListItem[];
  nextPage?: string;
}

/** An instance's notifications, newest first: status filter, attempts, redelivery. */
export function NotificationLog({ instanceId }: { instanceId: string }) {
  const [status, setStatus] = useState('');
  const [items, setItems] = useState<NotificationListItem[]>();
  const [nextPage, setNextPage] = useState<string>();
  const [pagesLoaded, setPagesLoaded] = useState(1);
  const [open, setOpen] = useState<Record<string, DeliveryRecord | 'loading' | { error: string }>>({});
  const [notice, setNotice] = useState<{ kind: 'info' | 'error'; text: string }>();
  const [busy, setBusy] = useState<string>();

  const fetchPage = (token?: string) =>
    call<Page>('GET', `/instances/${instanceId}/events`, { query: { status, pageSize: PAGE_SIZE, nextPage: token } }).then((a) => a.body);

  const reload = async () => {
    try {
      const page = await fetchPage();
      setItems(page.events);
      setNextPage(page.nextPage);
      setPagesLoaded(1);
      // Open records are read again too: their attempts and status move on.
      for (const [eventId, record] of Object.entries(open)) if (record !== 'loading') void details(eventId);
    } catch (err) {
      setNotice({ kind: 'error', text: messageOf(err) });
    }
  };

  useEffect(() => {
    setItems(undefined);
    void reload();
  }, [status, instanceId]);
  // Only while the reader has not paged on: a refresh would take the later pages away.
  useInterval(() => pagesLoaded === 1 && !busy && void reload(), REFRESH_MS);

  const more = async () => {
    if (!nextPage) return;
    try {
      const page = await fetchPage(nextPage);
      setItems([...(items ?? []), ...page.events]);
      setNextPage(page.nextPage);
      setPagesLoaded(pagesLoaded + 1);
    } catch (err) {
      setNotice({ kind: 'error', text: messageOf(err) });
    }
  };

  async function details(eventId: string) {
    try {
      const { body } = await call<DeliveryRecord>('GET', `/instances/${instanceId}/events/${eventId}`);
      setOpen((o) => (Object.hasOwn(o, eventId) ? { ...o, [eventId]: body } : o));
    } catch (err) {
      setOpen((o) => (Object.hasOwn(o, eventId) ? { ...o, [eventId]: { error: messageOf(err) } } : o));
    }
  }

  const toggle = (eventId: string) => {
    if (Object.hasOwn(open, eventId)) {
      const { [eventId]: _closed, ...rest } = open;
      setOpen(rest);
      return;
    }
    setOpen({ ...open, [eventId]: 'loading' });
    void details(eventId);
  };

  const act = async (what: string, fn: () => Promise<string>) => {
    // Buttons stay enabled while busy (a disabled button would drop the keyboard focus); a second press waits.
    if (busy) return;
    setBusy(what);
    setNotice(undefined);
    try {
      setNotice({ kind: 'info', text: await fn() });
      await reload();
    } catch (err) {
      setNotice({ kind: 'error', text: messageOf(err) });
    } finally {
      setBusy(undefined);
    }
  };

  const redeliver = (eventId: string) =>
    act(eventId, async () => {
      const { body } = await call<DeliveryRecord>('POST', `/instances/${instanceId}/events/${eventId}/redeliver`);
      if (Object.hasOwn(open, eventId)) setOpen((o) => ({ ...o, [eventId]: body }));
      return `Notification ${shortId(eventId)} is being delivered again.`;
    });

  const redeliverAll = () =>
    act('all', async () => {
      const { body } = await call<{ redelivered: number }>('POST', `/instances/${instanceId}/events/redeliver`);
      return body.redelivered === 1
        ? '1 failed notification is being delivered again.'
        : `${body.redelivered} failed notifications are being delivered again.`;
    });

  return (
    <section aria-labelledby="notifications-heading">
      <h2 id="notifications-heading">Notifications</h2>
      <div class="toolbar">
        <div class="field inline">
          <label for="notification-status">Filter by status</label>
          <select id="notification-status" value={status} onChange={(e) => setStatus(e.currentTarget.value)}>
            <option value="">all</option>
            {DELIVERY_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </div>
        <button type="button" onClick={() => void reload()}>
          Refresh
        </button>
        <button type="button" aria-disabled={!!busy} onClick={() => void redeliverAll()}>
          Redeliver all failed
        </button>
      </div>
      {notice ? <Notice kind={notice.kind}>{notice.text}</Notice> : null}
      {items === undefined ? <p role="status">Loading…</p> : null}
      {items && !items.length ? <p>{status ? `No ${status} notifications.` : 'No notifications yet.'}</p> : null}
      {items?.length ? (
        <table class="cards log">
          <caption class="visually-hidden">Notifications{status ? ` (${status})` : ''}, newest first</caption>
          <thead>
            <tr>
              <th scope="col">Notification</th>
              <th scope="col">Created</th>
              <th scope="col">Status</th>
              <th scope="col">Events</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {items.map((n) => {
              const record = open[n.eventId];
              const detailsId = `attempts-${n.eventId}`;
              return (
                <Fragment key={n.eventId}>
                  <tr>
                    <th scope="row" data-label="Notification">
                      <code title={n.eventId}>{shortId(n.eventId)}</code>
                    </th>
                    <td data-label="Created">
                      <Time iso={n.createdDate} />
                    </td>
                    <td data-label="Status">
                      <span class={`badge ${n.status}`}>{n.status}</span>
                    </td>
                    <td data-label="Events">{n.events ?? '—'}</td>
                    <td class="row-actions">
                      <button
                        type="button"
                        aria-expanded={record !== undefined}
                        aria-controls={record !== undefined ? detailsId : undefined}
                        aria-label={`Attempts of ${shortId(n.eventId)}`}
                        onClick={() => toggle(n.eventId)}
                      >
                        Attempts
                      </button>
                      {n.status === 'failed' ? (
                        <button
                          type="button"
                          aria-disabled={!!busy}
                          aria-label={`Redeliver ${shortId(n.eventId)}`}
                          onClick={() => void redeliver(n.eventId)}
                        >
                          Redeliver
                        </button>
                      ) : null}
                    </td>
                  </tr>
                  {record !== undefined ? (
                    <tr class="details">
                      <td colSpan={5} id={detailsId}>
                        <Attempts record={record} />
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      ) : null}
      {nextPage ? (
        <button type="button" onClick={() => void more()}>
          Load more notifications
        </button>
      ) : null}
    </section>
  );
}

function Attempts({ record }: { record: DeliveryRecord | 'loading' | { error: string } }) {
  if (record === 'loading') return <p role="status">Loading the attempts…</p>;
  if ('error' in record) return <Notice kind="error">{record.error}</Notice>;
  return (
    <div class="attempts">
      <p>
        Notification <code>{record.eventId}</code>: <strong>{record.status}</strong>, {record.events} event{record.events === 1 ? '' : 's'}
        {record.deliveredDate ? (
          <>
            , delivered <Time iso={record.deliveredDate} />
          </>
        ) : null}
        {record.nextAttemptAt ? (
          <>
            , next attempt <Time iso={record.nextAttemptAt} />
          </>
        ) : null}
        .
      </p>
      {record.attempts.length ? (
        <table>
          <caption>Attempts of {shortId(record.eventId)}</caption>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">When</th>
              <th scope="col">URL</th>
              <th scope="col">Result</th>
              <th scope="col">Took</th>
            </tr>
          </thead>
          <tbody>
            {record.attempts.map((a) => (
              <tr key={a.attempt}>
                <td>{a.attempt}</td>
                <td>
                  <Time iso={a.at} />
                </td>
                <td class="url">{a.url ?? '—'}</td>
                <td>{a.error ?? (a.status !== undefined ? `answered ${a.status}` : '—')}</td>
                <td>{Math.round(a.durationMs)} ms</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p>No attempt yet.</p>
      )}
    </div>
  );
}
