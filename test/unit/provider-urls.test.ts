import { loadConfig } from '../../src/config';
import { elements } from '../../src/elements';
import { providerUrlsFrom } from '../../src/elements/urls';

describe('provider URLs are settings the elements declare', () => {
  test('defaults, overrides, and an empty variable counting as unset', () => {
    const { urls, problems } = providerUrlsFrom(
      { FRESHBOOKS_AUTH_URL: 'http://127.0.0.1:9/fb', INSIGHTLY_API_URL: ' ' },
      elements.values(),
    );
    expect(problems).toEqual([]);
    expect(urls).toEqual({
      INSIGHTLY_API_URL: 'https://api.na1.insightly.com/v3.1',
      FRESHBOOKS_API_URL: 'https://api.freshbooks.com',
      FRESHBOOKS_AUTH_URL: 'http://127.0.0.1:9/fb',
    });
  });

  test('a value that is no http(s) URL stops the configuration, named', () => {
    expect(() => loadConfig({ FRESHBOOKS_API_URL: 'ftp://files.example', PORT: 'x' })).toThrow(
      /PORT: .*\n {2}FRESHBOOKS_API_URL: must be an absolute http\(s\) URL/,
    );
    expect(loadConfig({ INSIGHTLY_API_URL: 'http://127.0.0.1:8080' }).providerUrls.INSIGHTLY_API_URL).toBe('http://127.0.0.1:8080');
  });
});
