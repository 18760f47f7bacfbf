import type { ElementExample } from '../element';

/** The README's (and the seed's) FreshBooks instance; the code comes from the OAuth step. */
export const example: ElementExample = {
  summary: 'FreshBooks, webhooks (the README example)',
  name: 'API Instance',
  providerData: { code: '<AUTHORIZATION_GRANT_CODE>' },
  configuration: {
    'oauth.callback.url': 'https://mycoolapp.com',
    'oauth.api.key': '<CLIENT_ID>',
    'oauth.api.secret': '<CLIENT_SECRET>',
    'business.name': 'MyBiz',
    'event.notification.enabled': true,
    'event.vendor.type': 'webhooks',
    'event.notification.callback.url': 'https://mycoolapp.com/events',
  },
};
