import { elements } from '../elements';

/** The element label: a key of the registry, or `other`, so no caller-chosen text becomes a series. */
export const elementLabel = (key: string | undefined): string => (key !== undefined && elements.has(key) ? key : 'other');

/** An attempt's answer as a status class: `2xx` … `5xx`, or `error` when there was no answer to class. */
export function statusClass(status: number | undefined): string {
  if (status === undefined || !Number.isInteger(status) || status < 100 || status > 599) return 'error';
  return `${Math.floor(status / 100)}xx`;
}
