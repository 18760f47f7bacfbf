import type { Instance } from './types';

// What one page hands the next when it navigates (an instance just created, with its token shown
// once): held in memory only, so a token never lands in storage or a URL.

export interface Flash {
  message?: string;
  created?: Instance & { token?: string };
}

let pending: Flash | undefined;

export function setFlash(flash: Flash): void {
  pending = flash;
}

export function takeFlash(): Flash | undefined {
  const flash = pending;
  pending = undefined;
  return flash;
}
