// Sent rows are history: a scheduled pg-boss job deletes those older than the retention.
import type postgres from 'postgres';
import type { PgBoss } from 'pg-boss';
import { purgeSentBefore } from '@relevo/db';
import type { Logger } from '@relevo/runtime';

export const RETENTION_QUEUE = 'relevo-retention';

export async function scheduleRetention(boss: PgBoss, sql: postgres.Sql, retentionHours: number, log: Logger): Promise<void> {
  if (!(await boss.getQueue(RETENTION_QUEUE))) await boss.createQueue(RETENTION_QUEUE, { policy: 'singleton' });
  await boss.schedule(RETENTION_QUEUE, '17 * * * *', null, { singletonKey: 'retention' });
  await boss.work(RETENTION_QUEUE, async () => {
    const cutoff = new Date(Date.now() - retentionHours * 3_600_000);
    const deleted = await purgeSentBefore(sql, cutoff);
    log.info({ deleted, cutoff: cutoff.toISOString() }, 'retention: purged sent outbox rows');
  });
}
