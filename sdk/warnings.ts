// Non-fatal problems (for example origin or direction differing between a case's channels, which nnU-Net only prints).
// warn() drops a message identical to the previous one and counts the rest; consumeWarnings() returns and resets them,
// so tests can assert that no warning was raised and notebooks can show them next to a result.

type Listener = (message: string) => void;

let pending: string[] = [];
let last: string | undefined;
const listeners = new Set<Listener>();

/** Records a warning (and tells listeners, e.g. the CLI's stderr printer). Repeats of the previous message are dropped. */
export function warn(message: string): void {
  if (message === last) return;
  last = message;
  pending.push(message);
  for (const listener of listeners) listener(message);
}

/** Returns the warnings raised since the last call and forgets them. */
export function consumeWarnings(): string[] {
  const out = pending;
  pending = [];
  last = undefined;
  return out;
}

/** Calls `listener` for every new warning; returns a function that removes it. */
export function onWarning(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
