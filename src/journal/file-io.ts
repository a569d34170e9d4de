/** The few file operations the file journal and its sidecar share. */
import type { Buffer } from 'node:buffer';
import { type FileHandle, open } from 'node:fs/promises';
import { dirname } from 'node:path';

export async function writeAll(file: FileHandle, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) {
    const { bytesWritten } = await file.write(data, offset, data.length - offset);
    offset += bytesWritten;
  }
}

/** A created or renamed file is durable only once its directory entry is: fsync the directory. */
export async function syncDirectory(path: string): Promise<void> {
  const directory = await open(dirname(path), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
