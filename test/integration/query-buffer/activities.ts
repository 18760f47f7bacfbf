/** The local activity of `heldTask`: it returns once the test calls `release`. */
let started: () => void = () => undefined;
let release: () => void = () => undefined;
export let holding = new Promise<void>((resolve) => (started = resolve));

export function letGo(): void {
  release();
  holding = new Promise<void>((resolve) => (started = resolve));
}

export async function holdTask(): Promise<void> {
  started();
  await new Promise<void>((resolve) => (release = resolve));
}
