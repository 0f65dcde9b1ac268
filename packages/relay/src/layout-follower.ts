// A relay process drains under the shard layout the database records. It asks for its own
// RELAY_SHARDS once, at start; then it follows: when another layout is requested it lets its
// shards close for it, and when that layout becomes active it replaces its worker with one of
// the new shard count. Changes are announced on LAYOUT_CHANNEL and also read every few
// seconds, since an announcement made while the listening connection was down is lost.
import type postgres from 'postgres';
import { LAYOUT_CHANNEL, activatePendingLayout, readLayout, requestLayout, runQuery, type LayoutRow } from '@relevo/db/sql';
import type { Logger } from '@relevo/runtime';
import type { RelayWorker } from './worker.ts';

export interface LayoutFollowerOptions {
  sql: postgres.Sql;
  log: Logger;
  relayId: string;
  /** The shard count this relay asks for. */
  requested: number;
  startWorker(layout: LayoutRow): Promise<RelayWorker>;
  /** How often the layout is read besides its announcements. */
  pollMs?: number;
}

export interface LayoutFollower {
  /** The worker of the layout in force. */
  worker(): RelayWorker;
  stop(): Promise<void>;
}

export async function followLayout(o: LayoutFollowerOptions): Promise<LayoutFollower> {
  const layout = await requestLayout(o.sql, o.requested, o.relayId);
  if (layout.pending) o.log.info({ active: layout.active.shards, pending: layout.pending.shards }, 'a shard layout change is pending');
  let worker = await o.startWorker(layout.active);
  let closing = false;
  let stopped = false;
  // One check at a time: a replacement in progress must finish before the next look.
  let checking: Promise<void> = Promise.resolve();

  const check = async () => {
    if (stopped) return;
    const now = await readLayout(o.sql);
    if (!now) return;
    if (now.active.generation !== worker.layout.generation) {
      o.log.info({ from: worker.layout.shards, to: now.active.shards, generation: now.active.generation }, 'shard layout changed: restarting the drain worker');
      await worker.stop();
      closing = false;
      if (stopped) return;
      worker = await o.startWorker(now.active);
      return;
    }
    if (now.pending && !closing) {
      closing = true;
      o.log.info({ active: now.active.shards, pending: now.pending.shards }, 'closing this layout\'s shards for the pending one');
      worker.closeForPendingLayout();
    }
    // Once every shard has closed, whoever looks activates the pending layout: the run that
    // closed the last shard may have stopped before it could.
    if (now.pending) await runQuery(o.sql, activatePendingLayout({ generation: now.active.generation }));
  };
  const schedule = () => {
    checking = checking.then(check).catch((err: unknown) => o.log.warn({ err }, 'could not read the shard layout; retrying'));
  };
  const listening = await o.sql.listen(LAYOUT_CHANNEL, schedule, schedule);
  const timer = setInterval(schedule, o.pollMs ?? 5_000).unref();
  schedule();

  return {
    worker: () => worker,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await listening.unlisten().catch(() => undefined);
      await checking;
      await worker.stop();
    },
  };
}
