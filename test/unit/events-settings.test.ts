import { findElement, type Element } from '../../src/elements';
import { HttpError } from '../../src/errors';
import { DEFAULT_REFRESH_INTERVAL_MINUTES, createInstanceSchema, parseEventsSettings, parseOrThrow } from '../../src/instances/request';
import { redactConfiguration } from '../../src/instances/secret-keys';

const insightly = findElement('insightly') as Element;
const defaults = insightly.polling!.defaultResources;
const CALLBACK = 'http://mycoolapp.com/events';

/** Runs fn, expecting an HttpError; returns it so the caller can look at status, message, errors. */
function httpErrorOf(fn: () => unknown): HttpError {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(HttpError);
  return thrown as HttpError;
}

const paths = (err: HttpError) => err.errors.map((e) => e.path);

describe('parseEventsSettings (insightly)', () => {
  test('the element is registered and polls contacts, accounts, leads and opportunities by default', () => {
    expect(insightly.key).toBe('insightly');
    expect(Object.keys(defaults).sort()).toEqual(['accounts', 'contacts', 'leads', 'opportunities']);
  });

  test('no events keys at all: disabled, polling, default interval, every default resource', () => {
    const s = parseEventsSettings(insightly, {}, 1);
    expect(s.enabled).toBe(false);
    expect(s.vendorType).toBe('polling');
    expect(s.refreshIntervalMinutes).toBe(DEFAULT_REFRESH_INTERVAL_MINUTES);
    expect(s.callbackUrl).toBeUndefined();
    expect(s.signatureKey).toBeUndefined();
    expect(s.webhookEvents).toEqual([]);
    expect(s.resources).toEqual(defaults);
  });

  test('an empty event.poller.configuration {} takes every default resource', () => {
    const s = parseEventsSettings(insightly, { 'event.poller.configuration': {} }, 1);
    expect(s.resources).toEqual(defaults);
  });

  test("{} for one resource takes that resource's defaults, and only that resource", () => {
    const s = parseEventsSettings(insightly, { 'event.poller.configuration': { leads: {}, opportunities: {} } }, 1);
    expect(Object.keys(s.resources).sort()).toEqual(['leads', 'opportunities']);
    expect(s.resources.leads).toEqual(defaults.leads);
    expect(s.resources.opportunities).toEqual(defaults.opportunities);
    expect(s.resources.leads!.idField).toBe('LEAD_ID');
  });

  test('pollOverlap: 60 s for every Insightly resource that sets none (its own ones too), 0 to 3,600 when given', () => {
    const own = { url: defaults.contacts!.url.replace('contacts', 'leads'), idField: 'LEAD_ID' };
    const s = parseEventsSettings(insightly, { 'event.poller.configuration': { contacts: {}, mine: own, leads: { pollOverlap: '0' } } }, 1);
    expect(s.resources.contacts!.pollOverlap).toBe(60);
    expect(s.resources.mine!.pollOverlap).toBe(60);
    expect(s.resources.leads!.pollOverlap).toBe(0);
    for (const bad of [-1, 3601, 'soon']) {
      const err = httpErrorOf(() =>
        parseEventsSettings(insightly, { 'event.poller.configuration': { contacts: { pollOverlap: bad } } }, 1),
      );
      expect(paths(err)).toEqual(['configuration.event.poller.configuration.contacts.pollOverlap']);
    }
  });

  test('a partial resource is merged over the defaults, datesConfiguration key by key', () => {
    const s = parseEventsSettings(
      insightly,
      {
        'event.poller.configuration': {
          contacts: { pageSize: '100', pollDelay: 5, datesConfiguration: { updatedDateTimezone: 'UTC' } },
        },
      },
      1,
    );
    const c = s.resources.contacts!;
    expect(c.url).toBe(defaults.contacts!.url);
    expect(c.idField).toBe('CONTACT_ID');
    expect(c.pageSize).toBe(100);
    expect(c.pollDelay).toBe(5);
    expect(c.datesConfiguration).toEqual({ ...defaults.contacts!.datesConfiguration, updatedDateTimezone: 'UTC' });
    // the defaults themselves are not changed by the merge
    expect(defaults.contacts!.datesConfiguration!.updatedDateTimezone).toBe('GMT');
    expect(defaults.contacts!.pageSize).toBeUndefined();
  });

  test("the seed's full poller configuration is accepted as given", () => {
    const seed = {
      contacts: {
        url: "/hubs/crm/contacts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}'",
        idField: 'CONTACT_ID',
        datesConfiguration: defaults.contacts!.datesConfiguration,
      },
      accounts: {
        url: "/hubs/crm/accounts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}'",
        idField: 'ORGANISATION_ID',
        datesConfiguration: defaults.accounts!.datesConfiguration,
      },
      leads: {},
      opportunities: {},
    };
    const s = parseEventsSettings(
      insightly,
      {
        'event.notification.enabled': true,
        'event.vendor.type': 'polling',
        'event.poller.refresh_interval': '15',
        'event.notification.callback.url': 'http://mycoolapp.com',
        'event.poller.configuration': seed,
      },
      1,
    );
    expect(s.enabled).toBe(true);
    expect(s.refreshIntervalMinutes).toBe(15);
    expect(s.callbackUrl).toBe('http://mycoolapp.com');
    expect(s.resources).toEqual(defaults);
  });

  test('event.poller.configuration given as a JSON string is parsed like the object', () => {
    const asObject = { contacts: { pageSize: 50 }, leads: {} };
    const fromString = parseEventsSettings(insightly, { 'event.poller.configuration': JSON.stringify(asObject) }, 1);
    const fromObject = parseEventsSettings(insightly, { 'event.poller.configuration': asObject }, 1);
    expect(fromString.resources).toEqual(fromObject.resources);
    expect(Object.keys(fromString.resources).sort()).toEqual(['contacts', 'leads']);
    expect(fromString.resources.contacts!.pageSize).toBe(50);
  });

  test('an invalid JSON string is a 400 that names event.poller.configuration and says it is not JSON', () => {
    const err = httpErrorOf(() => parseEventsSettings(insightly, { 'event.poller.configuration': '{"contacts": {"pageSize": 10,}' }, 1));
    expect(err.status).toBe(400);
    expect(paths(err)).toEqual(['configuration.event.poller.configuration']);
    expect(err.errors[0]!.message).toMatch(/not valid JSON/);
    expect(err.message).toContain('event.poller.configuration');
  });

  test('a resource that is not a known Insightly resource and has no url is refused naming it', () => {
    const err = httpErrorOf(() => parseEventsSettings(insightly, { 'event.poller.configuration': { tasks: {} } }, 1));
    expect(err.status).toBe(400);
    expect(paths(err)).toEqual(['configuration.event.poller.configuration.tasks']);
  });

  test('an untranslatable url is refused at creation with the where problem', () => {
    const err = httpErrorOf(() =>
      parseEventsSettings(insightly, { 'event.poller.configuration': { contacts: { url: "/hubs/crm/contacts?where=EMAIL='x'" } } }, 1),
    );
    expect(err.status).toBe(400);
    expect(paths(err)).toEqual(['configuration.event.poller.configuration.contacts']);
    expect(err.errors[0]!.message).toContain('EMAIL');
  });

  test('a bad date pattern or zone in datesConfiguration is refused', () => {
    const err = httpErrorOf(() =>
      parseEventsSettings(
        insightly,
        { 'event.poller.configuration': { contacts: { datesConfiguration: { updatedDateTimezone: 'Mars/Olympus' } } } },
        1,
      ),
    );
    expect(err.status).toBe(400);
    expect(err.errors[0]!.message).toContain('Mars/Olympus');
  });

  test('event.objects narrows the resources (comma list, spaces tolerated)', () => {
    const s = parseEventsSettings(insightly, { 'event.objects': 'contacts, leads' }, 1);
    expect(Object.keys(s.resources).sort()).toEqual(['contacts', 'leads']);
    expect(s.resources.contacts).toEqual(defaults.contacts);
  });

  test('event.objects naming an unconfigured object is a 400 on configuration.event.objects', () => {
    const err = httpErrorOf(() => parseEventsSettings(insightly, { 'event.objects': 'contacts,widgets' }, 1));
    expect(err.status).toBe(400);
    expect(paths(err)).toEqual(['configuration.event.objects']);
    expect(err.errors[0]!.message).toContain('widgets');

    // an object that has defaults but was left out of the poller configuration is not configured either
    const err2 = httpErrorOf(() =>
      parseEventsSettings(insightly, { 'event.poller.configuration': { contacts: {} }, 'event.objects': 'leads' }, 1),
    );
    expect(paths(err2)).toEqual(['configuration.event.objects']);
  });

  test.each([
    ['true', true],
    ['false', false],
    [true, true],
    [false, false],
  ])('event.notification.enabled %j reads as %s', (given, expected) => {
    const s = parseEventsSettings(insightly, { 'event.notification.enabled': given, 'event.notification.callback.url': CALLBACK }, 1);
    expect(s.enabled).toBe(expected);
  });

  test.each([['yes'], ['TRUE'], [1]])('event.notification.enabled %j is a 400', (given) => {
    const err = httpErrorOf(() =>
      parseEventsSettings(insightly, { 'event.notification.enabled': given, 'event.notification.callback.url': CALLBACK }, 1),
    );
    expect(err.status).toBe(400);
    expect(paths(err)).toEqual(['configuration.event.notification.enabled']);
  });

  test('filterByUpdatedDate accepts "false"', () => {
    const s = parseEventsSettings(insightly, { 'event.poller.configuration': { contacts: { filterByUpdatedDate: 'false' } } }, 1);
    expect(s.resources.contacts!.filterByUpdatedDate).toBe(false);
  });

  describe('event.poller.refresh_interval', () => {
    test.each([
      ['5', 5],
      [' 30 ', 30],
      [2, 2],
      ['1.5', 1.5],
    ])('%j minutes is accepted as %d', (given, expected) => {
      expect(parseEventsSettings(insightly, { 'event.poller.refresh_interval': given }, 1).refreshIntervalMinutes).toBe(expected);
    });

    test('fractions of a minute are accepted when the minimum allows them', () => {
      expect(parseEventsSettings(insightly, { 'event.poller.refresh_interval': '0.05' }, 0.01).refreshIntervalMinutes).toBe(0.05);
    });

    test('below the minimum is a 400 that states the minimum', () => {
      const err = httpErrorOf(() => parseEventsSettings(insightly, { 'event.poller.refresh_interval': '3' }, 5));
      expect(err.status).toBe(400);
      expect(paths(err)).toEqual(['configuration.event.poller.refresh_interval']);
      expect(err.errors[0]!.message).toContain('5');
    });

    test.each([[0], ['0'], [-1], ['-10'], ['abc'], [''], [Number.NaN]])('%j is a 400 on the refresh interval', (given) => {
      const err = httpErrorOf(() => parseEventsSettings(insightly, { 'event.poller.refresh_interval': given }, 0.01));
      expect(err.status).toBe(400);
      expect(paths(err)).toEqual(['configuration.event.poller.refresh_interval']);
    });
  });

  test.each([['webhook'], ['webhooks']])('event.vendor.type %j is refused for insightly (polling only)', (type) => {
    const err = httpErrorOf(() => parseEventsSettings(insightly, { 'event.vendor.type': type }, 1));
    expect(err.status).toBe(400);
    expect(paths(err)).toEqual(['configuration.event.vendor.type']);
    expect(err.errors[0]!.message).toMatch(/polling/);
  });

  test('an unknown vendor type is a 400', () => {
    const err = httpErrorOf(() => parseEventsSettings(insightly, { 'event.vendor.type': 'push' }, 1));
    expect(err.status).toBe(400);
    expect(paths(err)).toEqual(['configuration.event.vendor.type']);
  });

  test('the callback URL is required when notifications are enabled', () => {
    const err = httpErrorOf(() => parseEventsSettings(insightly, { 'event.notification.enabled': true }, 1));
    expect(err.status).toBe(400);
    expect(paths(err)).toEqual(['configuration.event.notification.callback.url']);
  });

  test('the callback URL is not required when notifications are disabled', () => {
    expect(parseEventsSettings(insightly, { 'event.notification.enabled': 'false' }, 1).enabled).toBe(false);
    expect(parseEventsSettings(insightly, {}, 1).callbackUrl).toBeUndefined();
  });

  test.each([['not a url'], ['ftp://example.com/x'], ['/relative']])('callback URL %j is a 400', (url) => {
    const err = httpErrorOf(() =>
      parseEventsSettings(insightly, { 'event.notification.enabled': true, 'event.notification.callback.url': url }, 1),
    );
    expect(err.status).toBe(400);
    expect(paths(err)).toContain('configuration.event.notification.callback.url');
  });

  test('several problems are reported together', () => {
    const err = httpErrorOf(() =>
      parseEventsSettings(insightly, { 'event.notification.enabled': true, 'event.poller.refresh_interval': '0.5' }, 1),
    );
    expect(paths(err).sort()).toEqual(['configuration.event.notification.callback.url', 'configuration.event.poller.refresh_interval']);
  });

  test('the signature key is kept', () => {
    expect(parseEventsSettings(insightly, { 'event.notification.signature.key': 'k3y' }, 1).signatureKey).toBe('k3y');
  });
});

describe('redactConfiguration', () => {
  const configuration = {
    username: 'me@example.com',
    password: 'API-KEY-123456',
    'event.notification.signature.key': 'SIGNING-KEY-987',
    'event.notification.callback.url': CALLBACK,
    'event.poller.refresh_interval': 5,
  };

  test('masks the password and the signature key, keeps everything else', () => {
    const redacted = redactConfiguration(insightly, configuration);
    expect(redacted.password).not.toBe(configuration.password);
    expect(redacted['event.notification.signature.key']).not.toBe(configuration['event.notification.signature.key']);
    expect(typeof redacted.password).toBe('string');
    expect(redacted.username).toBe('me@example.com');
    expect(redacted['event.notification.callback.url']).toBe(CALLBACK);
    expect(redacted['event.poller.refresh_interval']).toBe(5);
    expect(Object.keys(redacted).sort()).toEqual(Object.keys(configuration).sort());
    const text = JSON.stringify(redacted);
    expect(text).not.toContain('API-KEY-123456');
    expect(text).not.toContain('SIGNING-KEY-987');
  });

  test('does not change its input', () => {
    const copy = { ...configuration };
    redactConfiguration(insightly, configuration);
    expect(configuration).toEqual(copy);
  });

  test('the signature key is masked even without an element', () => {
    const redacted = redactConfiguration(undefined, configuration);
    expect(JSON.stringify(redacted)).not.toContain('SIGNING-KEY-987');
  });
});

describe('createInstanceSchema via parseOrThrow', () => {
  test('a valid body is parsed with defaults for configuration and tags', () => {
    const parsed = parseOrThrow(createInstanceSchema, { element: { key: 'insightly' }, name: '  My instance ' }, 'instance');
    expect(parsed).toEqual({ element: { key: 'insightly' }, name: 'My instance', configuration: {}, tags: [] });
  });

  test('errors carry the paths of the bad fields', () => {
    const err = httpErrorOf(() => parseOrThrow(createInstanceSchema, { element: {}, name: '   ', tags: 'Docs' }, 'instance'));
    expect(err.status).toBe(400);
    expect(paths(err).sort()).toEqual(['element.key', 'name', 'tags']);
    expect(err.message).toMatch(/^Invalid instance/);
  });

  test('an empty element.key is named', () => {
    const err = httpErrorOf(() => parseOrThrow(createInstanceSchema, { element: { key: '' }, name: 'x' }, 'instance'));
    expect(err.errors).toEqual([{ path: 'element.key', message: 'element.key is required' }]);
  });

  test('a prefix is put in front of each path; a body that is not an object is (body)', () => {
    const err = httpErrorOf(() => parseOrThrow(createInstanceSchema, { element: { key: 'x' } }, 'instance', ['body']));
    expect(paths(err)).toEqual(['body.name']);
    const err2 = httpErrorOf(() => parseOrThrow(createInstanceSchema, 'nope', 'instance'));
    expect(paths(err2)).toEqual(['(body)']);
  });
});

describe('messages that name the problem', () => {
  const insightlyElement = findElement('insightly')!;
  const base = { 'event.notification.enabled': true, 'event.notification.callback.url': 'https://example.com/cb' };
  const fail = (configuration: Record<string, unknown>) => {
    try {
      parseEventsSettings(insightlyElement, configuration, 1);
    } catch (err) {
      return err as HttpError;
    }
    throw new Error('expected a refusal');
  };

  test('a refresh interval that is not numeric says it must be a number', () => {
    expect(fail({ ...base, 'event.poller.refresh_interval': 'abc' }).errors).toEqual([
      { path: 'configuration.event.poller.refresh_interval', message: 'must be a number' },
    ]);
  });

  test('enabled "yes" says it must be true or false', () => {
    expect(fail({ ...base, 'event.notification.enabled': 'yes' }).errors[0]).toEqual({
      path: 'configuration.event.notification.enabled',
      message: 'must be true or false',
    });
  });

  test('an empty event.objects is refused rather than watching nothing', () => {
    expect(fail({ ...base, 'event.objects': ' ' }).errors[0]!.path).toBe('configuration.event.objects');
  });
});
