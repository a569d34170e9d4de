import { randomUUID } from 'node:crypto';

// One random UUID per process, then a counter: unique across processes and requests, which is all
// an owner token needs (stores compare it; nobody outside the server ever sees it), at a fraction
// of a randomUUID() per claim on the hot path.
const PROCESS = randomUUID();
let sequence = 0;

/** A token no other claim, in this process or another, has been or will be given. */
export function ownerToken(): string {
  sequence += 1;
  return `${PROCESS}.${sequence.toString(36)}`;
}
