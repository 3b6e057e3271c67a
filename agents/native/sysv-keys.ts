/**
 * Keys for System V objects (message queues, semaphore sets). A key is derived from the run, the
 * case and which object it is, so two runs on one host do not collide; another program may hold
 * a key, so a few are tried in turn.
 */
import { NativeError, lastErrno } from './libc.js';

/** Keys tried before giving up. */
const KEY_ATTEMPTS = 8;
const EEXIST = 17;

/**
 * Creates a System V object with a key derived from `seed` (run id, case, which object):
 * `create(key)` calls msgget or semget with IPC_CREAT | IPC_EXCL and returns the id or -1.
 */
export function createWithRunKey(seed: string, call: string, create: (key: number) => number): number {
  let h = 0x811c9dc5;
  for (const ch of seed) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193);
  for (let attempt = 0; attempt < KEY_ATTEMPTS; attempt++) {
    const key = ((h >>> 3) + attempt) * 2 + 1; // positive, odd (never IPC_PRIVATE), distinct per attempt
    const id = create(key);
    if (id >= 0) return id;
    if (lastErrno() !== EEXIST) throw new NativeError(call, lastErrno(), `key ${key}`);
  }
  throw new Error(`${call}: ${KEY_ATTEMPTS} keys in a row are taken by other objects`);
}
