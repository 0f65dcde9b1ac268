// History is kept for a while, then deleted by a scheduled pg-boss job: sent outbox rows,
// and the stored first responses of idempotent POSTs (a retry after that is a new request).
import type postgres from 'postgres';
import type { PgBoss } from 'pg-boss';
import { purgeIdempotencyKeysBefore, purgeSentBefore } from '@relevo/db/sql';
import type { Logger } from '@relevo/runtime';

export const RETENTION_QUEUE = 'relevo-retention';

export interface Retention {
  sentRowsHours: number;
  idempotencyKeysHours: number;
}

const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000);

export async function scheduleRetention(boss: PgBoss, sql: postgres.Sql, retention: Retention, log: Logger): Promise<void> {
  if (!(await boss.getQueue(RETENTION_QUEUE))) await boss.createQueue(RETENTION_QUEUE, { policy: 'singleton' });
  await boss.schedule(RETENTION_QUEUE, '17 * * * *', null, { singletonKey: 'retention' });
  await boss.work(RETENTION_QUEUE, async () => {
    const sentCutoff = hoursAgo(retention.sentRowsHours);
    const deleted = await purgeSentBefore(sql, sentCutoff);
    log.info({ deleted, cutoff: sentCutoff.toISOString() }, 'retention: purged sent outbox rows');
    const keysCutoff = hoursAgo(retention.idempotencyKeysHours);
    const keys = await purgeIdempotencyKeysBefore(sql, keysCutoff);
    log.info({ deleted: keys, cutoff: keysCutoff.toISOString() }, 'retention: purged idempotency records');
  });
}
