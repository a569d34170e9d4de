/**
 * The sidecar `<journal>.corrupt`, where the file journal keeps every byte it removes from its log:
 * a torn tail cut at open, corrupt lines dropped by compaction. Nothing a crash or a hand edit left
 * is lost without trace. Each chunk follows a line `# <ISO time> <why> (<n> bytes)`; a chunk
 * without a final newline (a torn tail) gets one, so the next `#` line starts a line. Journal lines
 * start with 8 hex digits, never `#`.
 */
import { Buffer } from 'node:buffer';
import { type FileHandle, open } from 'node:fs/promises';
import { syncDirectory, writeAll } from './file-io.ts';

/** Bytes about to leave the journal, and why. */
export interface SetAside {
  bytes: Uint8Array;
  /** Such as `torn tail at byte 1234`, `corrupt line 7 at byte 1234: checksum mismatch`. */
  why: string;
}

/** The sidecar of the journal file `file` (the resolved path, not a symlink to it). */
export const corruptPathOf = (file: string): string => `${file}.corrupt`;

/**
 * Appends `chunks` to the sidecar and syncs it and its directory, before the caller truncates or
 * replaces the journal. @returns the fsyncs made.
 */
export async function setAside(file: string, chunks: SetAside[], at: number): Promise<number> {
  const stamp = new Date(at).toISOString();
  const parts: Uint8Array[] = [];
  for (const { bytes, why } of chunks) {
    parts.push(Buffer.from(`# ${stamp} ${why} (${bytes.length} bytes)\n`), bytes);
    if (bytes.at(-1) !== 0x0a) parts.push(Buffer.from('\n'));
  }
  const path = corruptPathOf(file);
  // It holds what the journal held: request bodies and inputs. Readable by the owner only.
  let handle: FileHandle | undefined = await open(path, 'a', 0o600);
  try {
    await writeAll(handle, Buffer.concat(parts));
    await handle.sync();
    await handle.close();
    handle = undefined;
  } finally {
    await handle?.close().catch(() => {});
  }
  // The file may have just been created.
  await syncDirectory(path);
  return 2;
}
