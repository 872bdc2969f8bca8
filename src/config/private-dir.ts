import * as fs from 'node:fs/promises';
import * as path from 'node:path';

/** The data folder's mode: this user's alone (run as root with the embedded PostgreSQL, 0710 with the postgres group). */
export const PRIVATE_DIR_MODE = 0o700;

/**
 * Makes `dir` if it is missing, mode 0700 (its missing parents as mkdir makes them: they are not the engine's); an
 * existing folder keeps its mode. Where the data folder and the key files live (SYNQ_DATA_DIR, the keypairs' folders).
 */
export async function ensurePrivateDir(dir: string): Promise<{ created: boolean }> {
  await fs.mkdir(path.dirname(dir), { recursive: true });
  try {
    await fs.mkdir(dir, { mode: PRIVATE_DIR_MODE });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { created: false };
    throw error;
  }
  // Whatever the umask.
  await fs.chmod(dir, PRIVATE_DIR_MODE);
  return { created: true };
}
