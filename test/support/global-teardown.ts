import { rmSync } from 'node:fs';
import type { EmbeddedDatabase } from '../../src/database/embedded-postgres';

export default async function globalTeardown(): Promise<void> {
  const embedded = (globalThis as { synqEmbedded?: { db: EmbeddedDatabase; dataDir: string } }).synqEmbedded;
  if (!embedded) return;
  await embedded.db.stop();
  rmSync(embedded.dataDir, { recursive: true, force: true });
}
