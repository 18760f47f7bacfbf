import { z } from 'zod';
import type { Element, ProviderUrls } from './element';

/**
 * Every provider base URL the elements declare, from the environment or each element's default. The
 * settings are named by the elements (`<PROVIDER>_API_URL`...), so adding an element adds its own.
 */
export function providerUrlsFrom(
  env: Record<string, string | undefined>,
  elements: Iterable<Element>,
): { urls: ProviderUrls; problems: string[] } {
  const urls: Record<string, string> = {};
  const problems: string[] = [];
  for (const element of elements) {
    for (const [name, fallback] of Object.entries(element.urlSettings)) {
      const given = env[name]?.trim() || undefined; // an empty variable counts as unset
      if (given !== undefined && !z.url({ protocol: /^https?$/ }).safeParse(given).success) {
        problems.push(`${name}: must be an absolute http(s) URL`);
        continue;
      }
      urls[name] = given ?? fallback;
    }
  }
  return { urls, problems };
}
