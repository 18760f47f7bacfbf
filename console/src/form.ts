import type { ConfigurationField, DatesConfiguration, ElementDescription, FieldError, PollResource } from './types';

// The create form: its state (plain JSON, so a pending OAuth connection can keep it in session
// storage), the instance body it becomes, and where the API's field errors go.

/** The API's names (`errors[].path`) for the generic event keys every element shares. */
export const PATHS = {
  name: 'name',
  tags: 'tags',
  element: 'element.key',
  enabled: 'configuration.event.notification.enabled',
  vendorType: 'configuration.event.vendor.type',
  callbackUrl: 'configuration.event.notification.callback.url',
  signatureKey: 'configuration.event.notification.signature.key',
  webhookSecret: 'configuration.event.notification.webhook.secret',
  refreshInterval: 'configuration.event.poller.refresh_interval',
  resources: 'configuration.event.poller.configuration',
  objects: 'configuration.event.objects',
  code: 'providerData.code',
} as const;

export const configurationPath = (name: string) => `configuration.${name}`;
export const resourcePath = (name: string) => `${PATHS.resources}.${name}`;

export const DATE_KEYS = [
  'updatedDateField',
  'updatedDateFormat',
  'updatedDateTimezone',
  'createdDateField',
  'createdDateFormat',
  'createdDateTimezone',
] as const satisfies readonly (keyof DatesConfiguration)[];
export type DateKey = (typeof DATE_KEYS)[number];

export interface ResourceChoice {
  checked: boolean;
  url: string;
  idField: string;
  dates: Record<DateKey, string>;
}

export interface CreateForm {
  elementKey: string;
  name: string;
  tags: string;
  /** The element's own configuration fields, by configuration key. */
  config: Record<string, string | boolean>;
  eventsEnabled: boolean;
  callbackUrl: string;
  signatureKey: string;
  webhookSecret: string;
  refreshInterval: string;
  resources: Record<string, ResourceChoice>;
  objects: Record<string, boolean>;
}

export const DEFAULT_REFRESH_INTERVAL = '15';

const datesOf = (d: DatesConfiguration | undefined): Record<DateKey, string> =>
  Object.fromEntries(DATE_KEYS.map((k) => [k, d?.[k] ?? ''])) as Record<DateKey, string>;

export function resourceChoice(resource: PollResource, checked = true): ResourceChoice {
  return { checked, url: resource.url ?? '', idField: resource.idField ?? '', dates: datesOf(resource.datesConfiguration) };
}

const initialValue = (field: ConfigurationField): string | boolean =>
  field.type === 'boolean' ? field.default === true || field.default === 'true' : field.default === undefined ? '' : String(field.default);

/** A fresh form for an element: its defaults filled in, every default resource and object checked. */
export function newForm(element: ElementDescription | undefined, keep?: Pick<CreateForm, 'name' | 'tags'>): CreateForm {
  const resources = element?.events.polling?.resources ?? {};
  const webhooks = element?.events.webhooks;
  return {
    elementKey: element?.key ?? '',
    name: keep?.name ?? '',
    tags: keep?.tags ?? '',
    config: Object.fromEntries((element?.configuration ?? []).map((f) => [f.name, initialValue(f)])),
    eventsEnabled: true,
    callbackUrl: '',
    signatureKey: '',
    webhookSecret: '',
    refreshInterval: DEFAULT_REFRESH_INTERVAL,
    resources: Object.fromEntries(Object.entries(resources).map(([name, r]) => [name, resourceChoice(r)])),
    objects: Object.fromEntries((webhooks?.objects ?? []).map((o) => [o, webhooks!.defaultObjects.includes(o)])),
  };
}

export const isPolling = (element: ElementDescription) => element.vendorTypes[0] === 'polling';

/** The field the OAuth return page's URL goes into, for elements that connect with OAuth 2. */
export const oauthCallbackField = (element: ElementDescription) =>
  element.authentication.type === 'oauth2' ? element.authentication.callbackUrlField : undefined;

/** Problems the console can tell before asking the API: required fields left empty. */
export function clientProblems(form: CreateForm, element: ElementDescription): FieldError[] {
  const problems: FieldError[] = [];
  const empty = (v: string | boolean | undefined) => typeof v !== 'boolean' && !v?.trim();
  if (!form.name.trim()) problems.push({ path: PATHS.name, message: 'is required' });
  for (const field of element.configuration) {
    if (field.required && field.type !== 'boolean' && empty(form.config[field.name]))
      problems.push({ path: configurationPath(field.name), message: 'is required' });
  }
  if (form.eventsEnabled && !form.callbackUrl.trim())
    problems.push({ path: PATHS.callbackUrl, message: 'is required when events are enabled' });
  if (isPolling(element) && !Object.values(form.resources).some((r) => r.checked))
    problems.push({ path: PATHS.resources, message: 'pick at least one resource to poll' });
  if (element.events.webhooks && !Object.values(form.objects).some(Boolean))
    problems.push({ path: PATHS.objects, message: 'pick at least one object to watch' });
  return problems;
}

function configurationValue(field: ConfigurationField, value: string | boolean | undefined): unknown {
  if (field.type === 'boolean') return value === true;
  const text = typeof value === 'string' ? value : '';
  if (!text.trim()) return undefined;
  if (field.type === 'number') return Number.isFinite(Number(text)) ? Number(text) : text;
  return field.secret || field.type === 'password' ? text : text.trim();
}

/** Only what differs from the element's defaults: `{}` takes them all, as the API documents. */
function resourceEntry(choice: ResourceChoice, defaults: PollResource | undefined): Record<string, unknown> {
  const base = defaults ? resourceChoice(defaults) : undefined;
  const entry: Record<string, unknown> = {};
  if (choice.url.trim() && choice.url.trim() !== base?.url) entry.url = choice.url.trim();
  if (choice.idField.trim() && choice.idField.trim() !== base?.idField) entry.idField = choice.idField.trim();
  const dates = Object.fromEntries(
    DATE_KEYS.filter((k) => choice.dates[k].trim() && choice.dates[k].trim() !== base?.dates[k]).map((k) => [k, choice.dates[k].trim()]),
  );
  if (Object.keys(dates).length) entry.datesConfiguration = dates;
  return entry;
}

/** The chosen polling resources as `event.poller.configuration`. */
export function pollerConfiguration(resources: Record<string, ResourceChoice>, element: ElementDescription): Record<string, unknown> {
  const defaults = element.events.polling?.resources ?? {};
  return Object.fromEntries(
    Object.entries(resources)
      .filter(([, r]) => r.checked)
      .map(([name, r]) => [name, resourceEntry(r, Object.hasOwn(defaults, name) ? defaults[name] : undefined)]),
  );
}

/** The chosen webhook objects as `event.objects`, or undefined when they are the element's defaults. */
export function eventObjects(objects: Record<string, boolean>, element: ElementDescription): string | undefined {
  const chosen = Object.entries(objects)
    .filter(([, on]) => on)
    .map(([o]) => o);
  const defaults = element.events.webhooks?.defaultObjects ?? [];
  const same = chosen.length === defaults.length && chosen.every((o) => defaults.includes(o));
  return same ? undefined : chosen.join(',');
}

/** `POST /instances`'s body, as the README's examples write it. */
export function createBody(form: CreateForm, element: ElementDescription, providerData?: Record<string, unknown>) {
  const configuration: Record<string, unknown> = {};
  for (const field of element.configuration) {
    const value = configurationValue(field, form.config[field.name]);
    if (value !== undefined) configuration[field.name] = value;
  }
  configuration['event.notification.enabled'] = form.eventsEnabled;
  configuration['event.vendor.type'] = element.vendorTypes[0];
  if (form.callbackUrl.trim()) configuration['event.notification.callback.url'] = form.callbackUrl.trim();
  if (form.signatureKey) configuration['event.notification.signature.key'] = form.signatureKey;
  if (form.webhookSecret.trim()) configuration['event.notification.webhook.secret'] = form.webhookSecret.trim();
  if (isPolling(element)) {
    if (form.refreshInterval.trim()) configuration['event.poller.refresh_interval'] = form.refreshInterval.trim();
    configuration['event.poller.configuration'] = pollerConfiguration(form.resources, element);
  }
  if (element.events.webhooks) {
    const objects = eventObjects(form.objects, element);
    if (objects !== undefined) configuration['event.objects'] = objects;
  }
  return {
    element: { key: element.key },
    ...(providerData ? { providerData } : {}),
    configuration,
    tags: form.tags
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean),
    name: form.name.trim(),
  };
}

export interface PlacedErrors {
  /** Messages by the path of the field they belong beside. */
  byPath: Record<string, string[]>;
  /** Errors no field on the page names (shown in the summary only). */
  unplaced: FieldError[];
}

/**
 * Puts each error beside the field whose path is the longest prefix of the error's path
 * (`configuration.event.poller.configuration.contacts.url` goes beside the contacts resource).
 */
export function placeErrors(errors: FieldError[], fieldPaths: string[]): PlacedErrors {
  const byPath: Record<string, string[]> = {};
  const unplaced: FieldError[] = [];
  for (const error of errors) {
    const owner = fieldPaths.filter((p) => error.path === p || error.path.startsWith(`${p}.`)).sort((a, b) => b.length - a.length)[0];
    if (owner)
      (byPath[owner] ??= []).push(owner === error.path ? error.message : `${error.path.slice(owner.length + 1)}: ${error.message}`);
    else unplaced.push(error);
  }
  return { byPath, unplaced };
}

/** Every path the create form has a field for, for an element. */
export function createFieldPaths(element: ElementDescription | undefined): string[] {
  if (!element) return [PATHS.element, PATHS.name, PATHS.tags];
  return [
    PATHS.element,
    PATHS.name,
    PATHS.tags,
    ...element.configuration.map((f) => configurationPath(f.name)),
    PATHS.enabled,
    PATHS.callbackUrl,
    PATHS.signatureKey,
    PATHS.webhookSecret,
    ...(isPolling(element)
      ? [PATHS.refreshInterval, PATHS.resources, ...Object.keys(element.events.polling?.resources ?? {}).map(resourcePath)]
      : []),
    ...(element.events.webhooks ? [PATHS.objects] : []),
  ];
}

/** A random value for OAuth's `state`: it ties the provider's redirect back to this tab's pending form. */
export function randomState(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(18));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
