import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, call, messageOf } from '../api';
import { Checkbox, CheckboxGroup, ErrorSummary, TextField } from '../components/field';
import { Notice, Page } from '../components/page';
import { useElements } from '../elements';
import { setFlash } from '../flash';
import {
  clientProblems,
  configurationPath,
  createBody,
  createFieldPaths,
  DATE_KEYS,
  isPolling,
  newForm,
  PATHS,
  placeErrors,
  randomState,
  resourcePath,
  type CreateForm,
  type DateKey,
  type PlacedErrors,
  type ResourceChoice,
} from '../form';
import { navigate } from '../router';
import { store, takeStored } from '../session';
import type { ConfigurationField, ElementDescription, FieldError, Instance } from '../types';

/** Where the OAuth provider sends the browser back to. */
export const OAUTH_RETURN_PATH = '/oauth/return';
export const oauthReturnUrl = () => `${location.origin}${OAUTH_RETURN_PATH}`;
/** A form waiting for its OAuth code, kept in session storage under its `state`. */
export const pendingKey = (state: string) => `element-events.oauth.${state}`;
/** A form to show again (after a failed create on the OAuth return page). */
export const DRAFT_KEY = 'element-events.draft';

export interface PendingConnection {
  form: CreateForm;
  idempotencyKey: string;
}

export interface Draft {
  form: CreateForm;
  message?: string;
  errors?: FieldError[];
}

const DATE_LABELS: Record<DateKey, string> = {
  updatedDateField: 'Updated date field',
  updatedDateFormat: 'Updated date format',
  updatedDateTimezone: 'Updated date time zone',
  createdDateField: 'Created date field',
  createdDateFormat: 'Created date format',
  createdDateTimezone: 'Created date time zone',
};

/** The OAuth URL call names its parameters after Cloud Elements; its errors go beside the fields that feed them. */
function oauthErrorPaths(element: ElementDescription, errors: FieldError[]): FieldError[] {
  if (element.authentication.type !== 'oauth2') return errors;
  const a = element.authentication;
  const map: Record<string, string> = {
    apiKey: configurationPath(a.apiKeyField),
    apiSecret: configurationPath(a.apiSecretField),
    callbackUrl: configurationPath(a.callbackUrlField),
  };
  return errors.map((e) => {
    const [head, ...rest] = e.path.split('.');
    const mapped = head && Object.hasOwn(map, head) ? map[head] : undefined;
    return mapped ? { ...e, path: [mapped, ...rest].join('.') } : e;
  });
}

export function CreateInstance() {
  const { elements, error: elementsError } = useElements();
  const [draft] = useState(() => takeStored<Draft>(DRAFT_KEY));
  const [form, setForm] = useState<CreateForm>(() => draft?.form ?? newForm(undefined));
  const [placed, setPlaced] = useState<PlacedErrors>({ byPath: {}, unplaced: [] });
  const [message, setMessage] = useState<string | undefined>(draft?.message);
  const [busy, setBusy] = useState(false);
  const [idempotencyKey] = useState(randomState);
  const summary = useRef<HTMLDivElement>(null);
  const element = elements?.find((e) => e.key === form.elementKey);

  // A draft brought back from the OAuth return page shows its errors once the element is known.
  useEffect(() => {
    if (draft?.errors && element) setPlaced(placeErrors(draft.errors, createFieldPaths(element)));
  }, [element?.key]);

  const update = (change: Partial<CreateForm>) => setForm((f) => ({ ...f, ...change }));
  const setConfig = (name: string, value: string | boolean) => setForm((f) => ({ ...f, config: { ...f.config, [name]: value } }));
  const setResource = (name: string, change: Partial<ResourceChoice>) =>
    setForm((f) => ({ ...f, resources: { ...f.resources, [name]: { ...f.resources[name]!, ...change } } }));
  const errorsAt = (path: string) => placed.byPath[path];

  const chooseElement = (key: string) => {
    const chosen = elements?.find((e) => e.key === key);
    const next = newForm(chosen, form);
    const callbackField = chosen?.authentication.type === 'oauth2' ? chosen.authentication.callbackUrlField : undefined;
    if (callbackField) next.config[callbackField] = oauthReturnUrl();
    setForm(next);
    setPlaced({ byPath: {}, unplaced: [] });
    setMessage(undefined);
  };

  const showErrors = (text: string, errors: FieldError[]) => {
    setMessage(text);
    setPlaced(placeErrors(errors, createFieldPaths(element)));
    // The summary is an alert (read out at once); focus goes there so the keyboard starts from it.
    requestAnimationFrame(() => summary.current?.focus());
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    if (busy) return;
    if (!element) {
      showErrors('Choose an element first.', [{ path: PATHS.element, message: 'choose one' }]);
      return;
    }
    const problems = clientProblems(form, element);
    if (problems.length) {
      showErrors('Some fields need attention.', problems);
      return;
    }
    setBusy(true);
    try {
      if (element.authentication.type === 'oauth2') await connect(element);
      else await create(element);
    } catch (err) {
      const errors = err instanceof ApiError ? oauthErrorPaths(element, err.errors) : [];
      showErrors(messageOf(err), errors);
      setBusy(false);
    }
  };

  async function create(element: ElementDescription) {
    const { body } = await call<Instance & { token: string }>('POST', '/instances', {
      json: createBody(form, element),
      headers: { 'Idempotency-Key': idempotencyKey },
    });
    setFlash({ created: body });
    navigate(`/instances/${body.id}`);
  }

  /** Asks the API for the provider's consent page, keeps the form under a fresh `state`, and goes there. */
  async function connect(element: ElementDescription) {
    if (element.authentication.type !== 'oauth2') return;
    const auth = element.authentication;
    const state = randomState();
    const callbackUrl = oauthReturnUrl();
    const { body } = await call<{ oauthUrl: string }>('GET', auth.oauthUrl, {
      query: {
        apiKey: String(form.config[auth.apiKeyField] ?? ''),
        // The client secret stays out of the URL: the consent page needs only the client id.
        callbackUrl,
        state,
      },
    });
    const pending: PendingConnection = {
      form: { ...form, config: { ...form.config, [auth.callbackUrlField]: callbackUrl } },
      idempotencyKey,
    };
    store(pendingKey(state), pending);
    location.assign(body.oauthUrl);
  }

  const configField = (field: ConfigurationField, element: ElementDescription) => {
    const path = configurationPath(field.name);
    const value = form.config[field.name];
    if (field.type === 'boolean')
      return (
        <Checkbox
          key={field.name}
          path={path}
          label={field.label}
          checked={value === true}
          onChange={(v) => setConfig(field.name, v)}
          hint={field.description}
          errors={errorsAt(path)}
        />
      );
    const oauthCallback = element.authentication.type === 'oauth2' && element.authentication.callbackUrlField === field.name;
    return (
      <TextField
        key={field.name}
        path={path}
        label={field.label}
        type={
          field.secret || field.type === 'password'
            ? 'password'
            : field.type === 'number'
              ? 'number'
              : field.type === 'url'
                ? 'url'
                : 'text'
        }
        required={field.required}
        readOnly={oauthCallback}
        value={typeof value === 'string' ? value : ''}
        onInput={(v) => setConfig(field.name, v)}
        hint={
          oauthCallback ? (
            <>
              This console's return page: register it as a redirect URI of your {element.name} app. {field.description}
            </>
          ) : (
            field.description
          )
        }
        errors={errorsAt(path)}
      />
    );
  };

  const oauth = element?.authentication.type === 'oauth2';

  return (
    <Page title="New instance">
      {elementsError ? <Notice kind="error">The elements could not be loaded: {elementsError}</Notice> : null}
      <form class="create" onSubmit={(e) => void submit(e)} noValidate aria-busy={busy}>
        <div ref={summary} tabIndex={-1} class="summary-anchor">
          <ErrorSummary message={message} errors={placed.unplaced} />
        </div>
        <div class={`field${errorsAt(PATHS.element) ? ' invalid' : ''}`}>
          <label for="field-element-key">Element</label>
          <select
            id="field-element-key"
            value={form.elementKey}
            onChange={(e) => chooseElement(e.currentTarget.value)}
            aria-describedby={errorsAt(PATHS.element) ? 'field-element-key-error' : undefined}
            aria-invalid={errorsAt(PATHS.element) ? true : undefined}
          >
            <option value="">{elements ? 'Choose an element…' : 'Loading elements…'}</option>
            {elements?.map((e) => (
              <option key={e.key} value={e.key}>
                {e.name}
              </option>
            ))}
          </select>
          {errorsAt(PATHS.element) ? (
            <p id="field-element-key-error" class="field-error">
              {errorsAt(PATHS.element)!.join('; ')}
            </p>
          ) : null}
          {element ? <p class="hint">{element.description}</p> : null}
        </div>

        {element ? (
          <>
            <fieldset>
              <legend>Instance</legend>
              <TextField
                path={PATHS.name}
                label="Name"
                required
                value={form.name}
                onInput={(v) => update({ name: v })}
                errors={errorsAt(PATHS.name)}
              />
              <TextField
                path={PATHS.tags}
                label="Tags"
                value={form.tags}
                onInput={(v) => update({ tags: v })}
                hint="Optional, comma separated."
                errors={errorsAt(PATHS.tags)}
              />
            </fieldset>

            <fieldset>
              <legend>{element.name} account</legend>
              {element.configuration.map((f) => configField(f, element))}
            </fieldset>

            <fieldset>
              <legend>Events</legend>
              <Checkbox
                path={PATHS.enabled}
                label="Events enabled"
                checked={form.eventsEnabled}
                onChange={(v) => update({ eventsEnabled: v })}
                errors={errorsAt(PATHS.enabled)}
              />
              <TextField
                path={PATHS.callbackUrl}
                label="Callback URL"
                type="url"
                required={form.eventsEnabled}
                value={form.callbackUrl}
                onInput={(v) => update({ callbackUrl: v })}
                hint="Where each notification is POSTed."
                errors={errorsAt(PATHS.callbackUrl)}
              />
              <TextField
                path={PATHS.signatureKey}
                label="Signature key"
                type="password"
                value={form.signatureKey}
                onInput={(v) => update({ signatureKey: v })}
                hint="Optional: signs every notification (Elements-Webhook-Signature)."
                errors={errorsAt(PATHS.signatureKey)}
              />
              <TextField
                path={PATHS.webhookSecret}
                label="Standard Webhooks secret"
                type="password"
                value={form.webhookSecret}
                onInput={(v) => update({ webhookSecret: v })}
                hint="Optional: a whsec_… secret; notifications then also carry webhook-id, webhook-timestamp and webhook-signature."
                errors={errorsAt(PATHS.webhookSecret)}
              />
              {isPolling(element) ? (
                <TextField
                  path={PATHS.refreshInterval}
                  label="Refresh interval (minutes)"
                  type="number"
                  step="any"
                  min="0"
                  value={form.refreshInterval}
                  onInput={(v) => update({ refreshInterval: v })}
                  hint="How often each resource is polled."
                  errors={errorsAt(PATHS.refreshInterval)}
                />
              ) : null}
            </fieldset>

            {element.events.polling ? (
              <CheckboxGroup
                path={PATHS.resources}
                legend="Resources to poll"
                hint="The element's defaults are checked. Open a resource's advanced settings to change its URL, ID field or dates."
                errors={errorsAt(PATHS.resources)}
              >
                {Object.keys(element.events.polling.resources).map((name) => (
                  <ResourceEditor
                    key={name}
                    name={name}
                    choice={form.resources[name]!}
                    onChange={(c) => setResource(name, c)}
                    errors={errorsAt(resourcePath(name))}
                  />
                ))}
              </CheckboxGroup>
            ) : null}

            {element.events.webhooks ? (
              <CheckboxGroup
                path={PATHS.objects}
                legend="Objects to watch"
                hint={`Each checked object is watched for ${element.events.webhooks.actions.join(', ')}.`}
                errors={errorsAt(PATHS.objects)}
              >
                <div class="checkbox-grid">
                  {element.events.webhooks.objects.map((o) => (
                    <Checkbox
                      key={o}
                      path={`${PATHS.objects}.${o}`}
                      label={o}
                      checked={form.objects[o] === true}
                      onChange={(v) => update({ objects: { ...form.objects, [o]: v } })}
                    />
                  ))}
                </div>
              </CheckboxGroup>
            ) : null}

            <div class="form-actions">
              <button type="submit" class="primary" aria-disabled={busy}>
                {oauth ? `Connect ${element.name}` : 'Create instance'}
              </button>
              {oauth ? <p class="hint">You will be sent to {element.name} to allow access, then brought back here to finish.</p> : null}
            </div>
          </>
        ) : null}
      </form>
    </Page>
  );
}

function ResourceEditor({
  name,
  choice,
  onChange,
  errors,
}: {
  name: string;
  choice: ResourceChoice;
  onChange: (c: Partial<ResourceChoice>) => void;
  errors?: string[];
}) {
  const path = resourcePath(name);
  return (
    <div class="resource">
      <Checkbox path={path} label={name} checked={choice.checked} onChange={(checked) => onChange({ checked })} errors={errors} />
      <details>
        <summary>Advanced: {name}</summary>
        <TextField path={`${path}.url`} label={`${name} URL`} value={choice.url} onInput={(url) => onChange({ url })} />
        <TextField
          path={`${path}.idField`}
          label={`${name} ID field`}
          value={choice.idField}
          onInput={(idField) => onChange({ idField })}
        />
        {DATE_KEYS.map((k) => (
          <TextField
            key={k}
            path={`${path}.datesConfiguration.${k}`}
            label={`${name} ${DATE_LABELS[k].toLowerCase()}`}
            value={choice.dates[k]}
            onInput={(v) => onChange({ dates: { ...choice.dates, [k]: v } })}
          />
        ))}
      </details>
    </div>
  );
}
