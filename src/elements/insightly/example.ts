import type { ElementExample } from '../element';

/** The README's (and the seed's) Insightly instance, `password` being the Insightly API key. */
export const example: ElementExample = {
  summary: 'Insightly, polling (the README example)',
  name: 'API Instance with Polling',
  providerData: { code: 'unused-by-insightly' },
  configuration: {
    username: 'me@example.com',
    password: 'xxxxxxxxxxxxxxxxxxxxxxxx',
    'event.notification.enabled': true,
    'event.vendor.type': 'polling',
    'event.notification.callback.url': 'http://127.0.0.1:4011/callback',
    'event.notification.signature.key': 'my-signing-key',
    'event.poller.refresh_interval': '15',
    'event.poller.configuration': {
      contacts: {
        url: "/hubs/crm/contacts?where=updated_after_utc='${gmtDate:yyyy-MM-dd HH:mm:ss}'",
        idField: 'CONTACT_ID',
        datesConfiguration: {
          updatedDateField: 'DATE_UPDATED_UTC',
          updatedDateFormat: 'yyyy-MM-dd HH:mm:ss',
          updatedDateTimezone: 'GMT',
          createdDateField: 'DATE_CREATED_UTC',
          createdDateFormat: 'yyyy-MM-dd HH:mm:ss',
          createdDateTimezone: 'GMT',
        },
      },
      accounts: {},
      leads: {},
      opportunities: {},
    },
  },
};
