import type { ComponentChildren } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, messageOf } from '../api';
import { Checkbox, CheckboxGroup, ErrorSummary, TextField } from '../components/field';
import { Notice, Page } from '../components/page';
import { elementName, useElements } from '../elements';
import { setFlash, takeFlash } from '../flash';
import { Time } from '../format';
import { eventObjects, PATHS, placeErrors, resourcePath, type PlacedErrors } from '../form';
import { useInterval } from '../hooks';
import { Link, navigate } from '../router';
import type { ElementDescription, FieldError, Instance } from '../types';
import { NotificationLog } from './notification-log';

/** How often the page reads the instance again: its status moves with every poll and webhook. */
const REFRESH_MS = 5_000;

export function InstancePage({ id }: { id: string }) {
  const { elements } = useElements();
  const [flash] = useState(takeFlash);
  const [instance, setInstance] = useState<Instance | undefined>(flash?.created);
  const [loadError, setLoadError] = useState<{ status: number; message: string }>();
  const [notice, setNotice] = useState<{ kind: 'info' | 'error'; text: string }>();
  const [newToken, setNewToken] = useState<string | undefined>(flash?.created?.token);
  const [busy, setBusy] = useState<string>();
  const [settingsVersion, setSettingsVersion] = useState(0);
  const element = elements?.find((e) => e.key === instance?.element.key);

  const load = async () => {
    try {
      const { body } = await call<Instance>('GET', `/instances/${id}`);
      setInstance(body);
      setLoadError(undefined);
    } catch (err) {
      setLoadError({ status: err instanceof ApiError ? err.status : 0, message: messageOf(err) });
    }
  };
  useEffect(() => {
    void load();
  }, [id]);
  useInterval(() => void load(), REFRESH_MS);

  /** Runs one action, showing what came of it; the page is read again afterwards. */
  const act = async (what: string, fn: () => Promise<string | undefined>) => {
    // Buttons stay enabled while busy (a disabled button would drop the keyboard focus); a second press waits.
    if (busy) return;
    setBusy(what);
    setNotice(undefined);
    try {
      const done = await fn();
      if (done) setNotice({ kind: 'info', text: done });
      await load();
    } catch (err) {
      setNotice({ kind: 'error', text: messageOf(err) });
    } finally {
      setBusy(undefined);
    }
  };

  if (!instance) {
    return (
      <Page title={loadError ? 'Instance not found' : 'Instance'}>
        {loadError ? (
          <Notice kind="error">
            {loadError.status === 404 ? `There is no instance ${id} in this account (it may have been deleted).` : loadError.message}
          </Notice>
        ) : (
          <p role="status">Loading…</p>
        )}
        <p>
          <Link href="/">Back to the instances</Link>
        </p>
      </Page>
    );
  }

  const toggleEvents = () =>
    act('events', async () => {
      const on = !instance.eventsEnabled;
      await call('PATCH', `/instances/${id}`, { json: { configuration: { 'event.notification.enabled': on } } });
      setSettingsVersion((v) => v + 1);
      return on ? 'Events turned on.' : 'Events turned off.';
    });

  const rotate = () =>
    act('token', async () => {
      const { body } = await call<{ token: string }>('POST', `/instances/${id}/token`);
      setNewToken(body.token);
      return 'A new token was issued; the previous one no longer works.';
    });

  const remove = async () => {
    if (busy) return;
    setBusy('delete');
    try {
      await call('DELETE', `/instances/${id}`);
      setFlash({ message: `Instance "${instance.name}" was deleted.` });
      navigate('/');
    } catch (err) {
      setNotice({ kind: 'error', text: messageOf(err) });
      setBusy(undefined);
    }
  };

  const vendorType = String(
    instance.configuration['event.vendor.type'] ?? element?.vendorTypes[0] ?? (instance.status?.callbacks ? 'webhooks' : 'polling'),
  );
  const polling = vendorType === 'polling';

  return (
    <Page
      title={instance.name}
      actions={
        instance.temporalUiUrl ? (
          <a href={instance.temporalUiUrl} target="_blank" rel="noopener noreferrer" class="button">
            Open its workflow in the Temporal UI<span class="visually-hidden"> (opens a new tab)</span>
          </a>
        ) : null
      }
    >
      <p class="subtitle">
        {elementName(elements, instance.element.key)} instance {instance.id}
        {instance.tags.length ? ` · tags: ${instance.tags.join(', ')}` : ''}
      </p>
      {flash?.created ? <Notice>Instance created.</Notice> : null}
      {notice ? <Notice kind={notice.kind}>{notice.text}</Notice> : null}
      {loadError ? <Notice kind="error">Could not refresh: {loadError.message}</Notice> : null}
      {newToken ? (
        <div class="token">
          <TextField
            path="token"
            label="Element token"
            value={newToken}
            readOnly
            hint="Shown only now: keep it somewhere safe. It authenticates as this instance (User <secret>, Element <token>)."
          />
          <button type="button" onClick={() => setNewToken(undefined)}>
            Hide the token
          </button>
        </div>
      ) : null}

      <Status instance={instance} polling={polling} />

      <section aria-labelledby="events-heading">
        <h2 id="events-heading">Events</h2>
        <p>
          Events are <strong>{instance.eventsEnabled ? 'on' : 'off'}</strong>.
        </p>
        <button type="button" class={instance.eventsEnabled ? '' : 'primary'} aria-disabled={!!busy} onClick={() => void toggleEvents()}>
          {instance.eventsEnabled ? 'Turn events off' : 'Turn events on'}
        </button>
      </section>

      {element ? (
        <Settings
          key={settingsVersion}
          instance={instance}
          element={element}
          polling={polling}
          onSaved={() => {
            setNotice({ kind: 'info', text: 'Changes saved.' });
            void load().then(() => setSettingsVersion((v) => v + 1));
          }}
        />
      ) : null}

      <NotificationLog instanceId={id} />

      <section aria-labelledby="token-heading">
        <h2 id="token-heading">Element token</h2>
        <p>A new token replaces the current one at once: whatever uses the old one stops working.</p>
        <button type="button" aria-disabled={!!busy} onClick={() => void rotate()}>
          Rotate the token
        </button>
      </section>

      <DeleteInstance name={instance.name} busy={busy === 'delete'} onConfirm={() => void remove()} />
    </Page>
  );
}

function Fact({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      <td>{children}</td>
    </tr>
  );
}

function Status({ instance, polling }: { instance: Instance; polling: boolean }) {
  const s = instance.status;
  const resources = Object.entries(s?.resources ?? {});
  return (
    <section aria-labelledby="status-heading">
      <h2 id="status-heading">Status</h2>
      {s?.eventsDisabled ? <Notice kind="error">{s.eventsDisabled}</Notice> : null}
      {s?.lastError ? <Notice kind="error">Last error: {s.lastError}</Notice> : null}
      <table class="facts">
        <tbody>
          <Fact label="Events">{instance.eventsEnabled ? 'on' : 'off'}</Fact>
          <Fact label="Created">
            <Time iso={instance.createdDate} />
          </Fact>
          <Fact label="Callback URL">
            <span class="url">{String(instance.configuration['event.notification.callback.url'] ?? '—')}</span>
          </Fact>
          {polling ? (
            <>
              <Fact label="Refresh interval">{String(instance.configuration['event.poller.refresh_interval'] ?? 15)} minutes</Fact>
              <Fact label="Polls">{s?.polls ?? 0}</Fact>
              <Fact label="Next poll">{s?.nextPollAt ? <Time iso={s.nextPollAt} /> : 'none scheduled'}</Fact>
            </>
          ) : null}
          {s?.callbacks ? (
            <>
              <Fact label="Callbacks">
                {s.callbacks.wanted} wanted, {s.callbacks.registered} registered, {s.callbacks.verified} verified
              </Fact>
              <Fact label="Webhooks received">
                {s.webhooks?.received ?? 0} ({s.webhooks?.pending ?? 0} pending, {s.webhooks?.repeats ?? 0} repeats dropped)
              </Fact>
              <Fact label="Last webhook">
                <Time iso={s.webhooks?.lastReceivedAt} fallback="none yet" />
              </Fact>
              <Fact label="Tokens expire">
                <Time iso={s.tokensExpireAt} />
              </Fact>
            </>
          ) : null}
        </tbody>
      </table>
      {polling && resources.length ? (
        <table class="cards">
          <caption>Resources</caption>
          <thead>
            <tr>
              <th scope="col">Resource</th>
              <th scope="col">Watermark</th>
              <th scope="col">Last poll</th>
              <th scope="col">Events found</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {resources.map(([name, r]) => (
              <tr key={name}>
                <th scope="row" data-label="Resource">
                  {name}
                </th>
                <td data-label="Watermark">
                  <Time iso={r.watermark} />
                </td>
                <td data-label="Last poll">
                  <Time iso={r.lastPollAt} fallback="not yet" />
                </td>
                <td data-label="Events found">{r.lastEvents ?? '—'}</td>
                <td data-label="Last error" class={r.lastError ? 'error-text' : undefined}>
                  {r.lastError ?? 'none'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </section>
  );
}

/** The configured resource entries (`event.poller.configuration` is an object, or the same as JSON text). */
function configuredResources(configuration: Record<string, unknown>): Record<string, unknown> {
  const raw = configuration['event.poller.configuration'];
  if (typeof raw === 'string') {
    try {
      const parsed: unknown = JSON.parse(raw);
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  return raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
}

/** The instance's settings a PATCH changes: callback URL, interval, resources or objects. */
function Settings({
  instance,
  element,
  polling,
  onSaved,
}: {
  instance: Instance;
  element: ElementDescription;
  polling: boolean;
  onSaved: () => void;
}) {
  const configuration = instance.configuration;
  const configured = configuredResources(configuration);
  const current = Object.keys(instance.status?.resources ?? configured);
  const names = [...new Set([...Object.keys(element.events.polling?.resources ?? {}), ...current])];
  const initialObjects = () => {
    const given =
      typeof configuration['event.objects'] === 'string' ? configuration['event.objects'].split(',').map((o) => o.trim()) : undefined;
    const chosen = given ?? element.events.webhooks?.defaultObjects ?? [];
    return Object.fromEntries((element.events.webhooks?.objects ?? []).map((o) => [o, chosen.includes(o)]));
  };
  const [callbackUrl, setCallbackUrl] = useState(String(configuration['event.notification.callback.url'] ?? ''));
  const [interval, setIntervalValue] = useState(String(configuration['event.poller.refresh_interval'] ?? '15'));
  const [resources, setResources] = useState<Record<string, boolean>>(() => Object.fromEntries(names.map((n) => [n, current.includes(n)])));
  const [objects, setObjects] = useState<Record<string, boolean>>(initialObjects);
  const [placed, setPlaced] = useState<PlacedErrors>({ byPath: {}, unplaced: [] });
  const [message, setMessage] = useState<string>();
  const [busy, setBusy] = useState(false);
  const fieldPaths = [PATHS.callbackUrl, PATHS.refreshInterval, PATHS.resources, PATHS.objects, ...names.map(resourcePath)];

  const changes = (): Record<string, unknown> => {
    const change: Record<string, unknown> = {};
    if (callbackUrl.trim() !== String(configuration['event.notification.callback.url'] ?? ''))
      change['event.notification.callback.url'] = callbackUrl.trim();
    if (polling) {
      if (interval.trim() !== String(configuration['event.poller.refresh_interval'] ?? '15'))
        change['event.poller.refresh_interval'] = interval.trim();
      const chosen = names.filter((n) => resources[n]);
      if (chosen.length !== current.length || chosen.some((n) => !current.includes(n))) {
        // A resource kept keeps its own settings; one added takes the element's defaults.
        change['event.poller.configuration'] = Object.fromEntries(
          chosen.map((n) => [n, Object.hasOwn(configured, n) ? configured[n] : {}]),
        );
        // event.objects would narrow the new list again: the checkboxes say it all now.
        if (configuration['event.objects'] !== undefined) change['event.objects'] = null;
      }
    }
    if (element.events.webhooks) {
      const wanted = eventObjects(objects, element);
      if ((wanted ?? null) !== (configuration['event.objects'] ?? null)) change['event.objects'] = wanted ?? null;
    }
    return change;
  };

  const save = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    const problems: FieldError[] = [];
    if (polling && !Object.values(resources).some(Boolean)) problems.push({ path: PATHS.resources, message: 'keep at least one resource' });
    if (element.events.webhooks && !Object.values(objects).some(Boolean))
      problems.push({ path: PATHS.objects, message: 'keep at least one object' });
    if (problems.length) {
      setMessage('Some fields need attention.');
      setPlaced(placeErrors(problems, fieldPaths));
      return;
    }
    const change = changes();
    if (!Object.keys(change).length) {
      setMessage('Nothing changed.');
      setPlaced({ byPath: {}, unplaced: [] });
      return;
    }
    setBusy(true);
    try {
      await call('PATCH', `/instances/${instance.id}`, { json: { configuration: change } });
      setMessage(undefined);
      setPlaced({ byPath: {}, unplaced: [] });
      onSaved();
    } catch (err) {
      setMessage(messageOf(err));
      setPlaced(placeErrors(err instanceof ApiError ? err.errors : [], fieldPaths));
    } finally {
      setBusy(false);
    }
  };

  const errorsAt = (path: string) => placed.byPath[path];
  return (
    <section aria-labelledby="settings-heading">
      <h2 id="settings-heading">Settings</h2>
      <form onSubmit={(e) => void save(e)} noValidate aria-busy={busy}>
        <ErrorSummary message={message} errors={placed.unplaced} />
        <TextField
          path={PATHS.callbackUrl}
          label="Callback URL"
          type="url"
          value={callbackUrl}
          onInput={setCallbackUrl}
          hint="Retries and redeliveries go to the URL current at the time."
          errors={errorsAt(PATHS.callbackUrl)}
        />
        {polling ? (
          <>
            <TextField
              path={PATHS.refreshInterval}
              label="Refresh interval (minutes)"
              type="number"
              step="any"
              min="0"
              value={interval}
              onInput={setIntervalValue}
              errors={errorsAt(PATHS.refreshInterval)}
            />
            <CheckboxGroup path={PATHS.resources} legend="Resources to poll" errors={errorsAt(PATHS.resources)}>
              <div class="checkbox-grid">
                {names.map((n) => (
                  <Checkbox
                    key={n}
                    path={resourcePath(n)}
                    label={n}
                    checked={resources[n] === true}
                    onChange={(v) => setResources({ ...resources, [n]: v })}
                    errors={errorsAt(resourcePath(n))}
                  />
                ))}
              </div>
            </CheckboxGroup>
          </>
        ) : null}
        {element.events.webhooks ? (
          <CheckboxGroup path={PATHS.objects} legend="Objects to watch" errors={errorsAt(PATHS.objects)}>
            <div class="checkbox-grid">
              {element.events.webhooks.objects.map((o) => (
                <Checkbox
                  key={o}
                  path={`${PATHS.objects}.${o}`}
                  label={o}
                  checked={objects[o] === true}
                  onChange={(v) => setObjects({ ...objects, [o]: v })}
                />
              ))}
            </div>
          </CheckboxGroup>
        ) : null}
        <button type="submit" class="primary" aria-disabled={busy}>
          {busy ? 'Saving…' : 'Save changes'}
        </button>
      </form>
    </section>
  );
}

/** Deleting asks first, in a modal dialog (focus stays in it; Escape cancels). */
function DeleteInstance({ name, busy, onConfirm }: { name: string; busy: boolean; onConfirm: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  return (
    <section aria-labelledby="delete-heading">
      <h2 id="delete-heading">Delete</h2>
      <p>Deleting stops the instance's events and removes its callbacks at the provider. Notifications already made are still delivered.</p>
      <button type="button" class="danger" onClick={() => dialog.current?.showModal()}>
        Delete instance…
      </button>
      <dialog ref={dialog} aria-labelledby="delete-dialog-heading" aria-describedby="delete-dialog-text">
        <h2 id="delete-dialog-heading">Delete "{name}"?</h2>
        <p id="delete-dialog-text">This cannot be undone.</p>
        <div class="dialog-actions">
          <button type="button" class="danger" aria-disabled={busy} onClick={() => !busy && onConfirm()}>
            {busy ? 'Deleting…' : 'Delete permanently'}
          </button>
          <button type="button" aria-disabled={busy} onClick={() => !busy && dialog.current?.close()}>
            Cancel
          </button>
        </div>
      </dialog>
    </section>
  );
}
