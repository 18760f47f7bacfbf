import { elements as registry } from '../../elements';
import type { Element } from '../../elements/element';
import { redactConfiguration } from '../../instances/secret-keys';

/**
 * The README's examples, as the OpenAPI document shows them (the create bodies come from the elements'
 * folders): test/integration/openapi.test.ts checks each request is one the API accepts and each answer
 * matches its schema, so they cannot drift from the code unnoticed.
 */

export interface Example {
  summary: string;
  value: unknown;
}

const INSTANCE_ID = 388708081;

/** `POST /instances` bodies, by element key: each element's folder declares its own. */
export function createInstanceExamples(elements: ReadonlyMap<string, Element>): Record<string, Example> {
  return Object.fromEntries(
    [...elements.values()].map((e) => [
      e.key,
      {
        summary: e.example.summary,
        value: {
          element: { key: e.key },
          ...(e.example.providerData && { providerData: e.example.providerData }),
          configuration: e.example.configuration,
          tags: ['Docs'],
          name: e.example.name,
        },
      },
    ]),
  );
}

/** The answers show an instance of the first polling element, as created by its example. */
const shown = [...registry.values()].find((e) => e.polling) ?? [...registry.values()][0]!;
const shownResources = Object.keys((shown.example.configuration['event.poller.configuration'] as object | undefined) ?? {});

const instanceView = {
  id: INSTANCE_ID,
  name: shown.example.name,
  tags: ['Docs'],
  element: { key: shown.key },
  createdDate: '2026-11-23T09:00:00.000Z',
  eventsEnabled: true,
  configuration: redactConfiguration(shown, shown.example.configuration),
};

export const createdInstanceExample: Example = {
  summary: `The ${shown.name} instance, with its token`,
  value: { ...instanceView, token: 'q1d7Yk2c0bZ8mKfT3xw9Vn5pLh4sJr6uAe0gCi2oWy8' },
};

export const instanceListExample: Example = { summary: 'One page of instances', value: [instanceView] };

export const instanceWithStatusExample: Example = {
  summary: 'A polling instance',
  value: {
    ...instanceView,
    status: {
      polls: 42,
      nextPollAt: '2026-11-23T09:30:00.000Z',
      resources: Object.fromEntries(
        shownResources
          .slice(0, 2)
          .map((name, i) => [name, { watermark: '2026-11-23T09:14:59.000Z', lastPollAt: '2026-11-23T09:15:00.000Z', lastEvents: 1 - i }]),
      ),
    },
  },
};

export const patchInstanceExamples: Record<string, Example> = {
  eventsOff: { summary: 'Turn events off (the README example)', value: { configuration: { 'event.notification.enabled': false } } },
  interval: {
    summary: 'Poll every 5 minutes, contacts only, and drop the signature key',
    value: {
      configuration: {
        'event.poller.refresh_interval': 5,
        'event.poller.configuration': { contacts: {} },
        'event.notification.signature.key': null,
      },
    },
  },
  rename: { summary: 'Rename and retag', value: { name: 'CRM contacts', tags: ['crm', 'prod'] } },
};

export const tokenExample: Example = {
  summary: 'A new token',
  value: { id: INSTANCE_ID, token: 'Zp3Nw8rT1yVb6cQe0dLk4mXs9hGj2fUa7oIn5EtWq1R' },
};

export const deletedExample: Example = { summary: 'Deleted', value: { id: INSTANCE_ID, deleted: true } };

const EVENT_ID = '5f0c3a8e-1d2b-8c4e-9a71-3e5b2c7d9f10';

export const deliveryListExample: Example = {
  summary: 'Failed notifications, newest first',
  value: {
    events: [{ eventId: EVENT_ID, status: 'failed', events: 1, createdDate: '2026-11-23T09:15:00.000Z' }],
    nextPage: 'CiQ5ZjFmYjY0Ny0wYjJhLTRkYTgtOWM1Mi0xYjQ0ZGYxYzQzZWI',
  },
};

export const deliveryRecordExample: Example = {
  summary: 'A notification that was retried, then delivered',
  value: {
    eventId: EVENT_ID,
    instanceId: INSTANCE_ID,
    status: 'delivered',
    events: 1,
    createdDate: '2026-11-23T09:15:00.000Z',
    deliveredDate: '2026-11-23T09:15:04.210Z',
    attempts: [
      {
        attempt: 1,
        at: '2026-11-23T09:15:00.120Z',
        durationMs: 30002,
        url: 'https://mycoolapp.com/events',
        error: 'callback unreachable: timeout',
      },
      { attempt: 2, at: '2026-11-23T09:15:04.150Z', durationMs: 60, url: 'https://mycoolapp.com/events', status: 200 },
    ],
  },
};

export const bulkRedeliveryExample: Example = {
  summary: 'Two failed notifications sent again',
  value: { redelivered: 2, eventIds: [EVENT_ID, '0b7e2d4c-93aa-8f10-b6d2-7c1e5a9f3b20'] },
};

export const healthExample: Example = { summary: 'All up', value: { status: 'ok', api: true, temporal: true, worker: true } };

export const errorExample: Example = {
  summary: 'A validation error',
  value: {
    message: 'Invalid configuration: configuration.event.notification.callback.url is required when event.notification.enabled is true',
    requestId: '6d1f0b2e-7c3a-4e59-9a8b-2f4c1d0e7b36',
    errors: [{ path: 'configuration.event.notification.callback.url', message: 'is required when event.notification.enabled is true' }],
  },
};
