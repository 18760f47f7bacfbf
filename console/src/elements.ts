import { useEffect, useState } from 'preact/hooks';
import { call, messageOf } from './api';
import type { ElementDescription } from './types';

// The elements the API describes (GET /elements): fetched once per sign-in, shared by every page.
let cached: Promise<ElementDescription[]> | undefined;

export function forgetElements(): void {
  cached = undefined;
}

function load(): Promise<ElementDescription[]> {
  cached ??= call<ElementDescription[]>('GET', '/elements').then(
    (a) => a.body,
    (err: unknown) => {
      cached = undefined;
      throw err;
    },
  );
  return cached;
}

export function useElements(): { elements?: ElementDescription[]; error?: string } {
  const [state, setState] = useState<{ elements?: ElementDescription[]; error?: string }>({});
  useEffect(() => {
    let live = true;
    load().then(
      (elements) => live && setState({ elements }),
      (err: unknown) => live && setState({ error: messageOf(err) }),
    );
    return () => {
      live = false;
    };
  }, []);
  return state;
}

/** An element's display name, or its key while the descriptions are not (or cannot be) loaded. */
export const elementName = (elements: ElementDescription[] | undefined, key: string) => elements?.find((e) => e.key === key)?.name ?? key;
