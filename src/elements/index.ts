import type { Element } from './element';
import { freshbooks } from './freshbooks';
import { insightly } from './insightly';

// The one place an element is listed; everything else looks elements up by key.
const all: Element[] = [insightly, freshbooks];

export const elements: ReadonlyMap<string, Element> = new Map(all.map((e) => [e.key, e]));

export function findElement(key: string): Element | undefined {
  return elements.get(key);
}

export type { Element } from './element';
