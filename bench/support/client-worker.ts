/**
 * One case of the client benchmark in a thread of its own: its own V8 isolate, so its calls
 * never share fetch's inline caches with another case's (in one isolate, every case made undici's
 * call sites see several argument shapes, which slowed the cases unevenly), and its own undici
 * connection pool. The parent sends `{ total, concurrency }` and gets a {@link Rate} back.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type CaseName, caseFor } from './client-cases.ts';
import { settle, throughput } from './measure.ts';

const { name, url } = workerData as { name: CaseName; url: string };
const task = caseFor(name, url);

parentPort?.on('message', async (message: { total: number; concurrency: number }) => {
  // No garbage of its own last round left to collect in this one.
  await settle();
  parentPort?.postMessage(await throughput(task, message.total, message.concurrency));
});
