import { z } from 'zod';
import { activeShards, connectSql, createBoss, ensureDrainQueue, ping, runQuery, wakeShards } from '@relevo/db/sql';
import { env, parseEnv } from '@relevo/runtime';
import { CliError } from '../errors.ts';
import type { Context } from './context.ts';
import { list } from './list.ts';
import { purge, retry, skip } from './repair.ts';
import { replay } from './replay.ts';
import { show } from './show.ts';
import { status } from './status.ts';
import { tail } from './tail.ts';

export const outboxSubcommands: Record<string, { summary: string; run(ctx: Context, args: string[]): Promise<number> }> = {
  status: { summary: 'counts by state per shard, topic and type; lag; draining relays; parked partners', run: status },
  list: { summary: 'rows by --state --type --topic --aggregate --since --until, --cursor paging, --oldest|--newest', run: list },
  show: { summary: '<id | event id>: the row, its Avro bytes decoded, its properties, why it is not sent', run: show },
  retry: { summary: '<ids…> | --parked [--aggregate X]: re-queue parked rows and wake the relay', run: retry },
  skip: { summary: '<id> --reason "…": mark a parked row skipped, releasing its partner', run: skip },
  purge: { summary: '--sent-before <time>: delete sent rows in batches, with progress', run: purge },
  replay: { summary: 're-publish sent events (--from-id/--to-id, --since/--until, --aggregate, --type, --topic, --all) as replays; --dry-run, --rate, --after', run: replay },
  tail: { summary: 'follow events as they are sent (--type --topic --aggregate --from-start)', run: tail },
};

export function outboxUsage(): string {
  const w = Math.max(...Object.keys(outboxSubcommands).map((k) => k.length));
  return ['usage: relevo outbox <command> [--json]', '',
    ...Object.entries(outboxSubcommands).map(([k, v]) => `  ${k.padEnd(w)}  ${v.summary}`), ''].join('\n');
}

export async function runOutbox(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  const sub = name ? outboxSubcommands[name] : undefined;
  if (!sub) {
    process.stderr.write(outboxUsage());
    if (name === undefined || name === 'help' || name === '--help') return 0;
    throw new CliError('USAGE', `unknown outbox command "${name}"`);
  }
  const config = parseEnv(z.object({ DATABASE_URL: env.databaseUrl, RELAY_SHARDS: env.positiveInt(4) }));
  const sql = connectSql(config.DATABASE_URL, { max: 2, applicationName: 'relevo-cli' });
  let boss: ReturnType<typeof createBoss> | undefined;
  const ctx: Context = {
    sql,
    // The layout the relays drain under; RELAY_SHARDS only before any relay recorded one.
    shards: async () => activeShards(sql, config.RELAY_SHARDS),
    async wake(shards) {
      boss ??= createBoss(config.DATABASE_URL);
      await boss.start();
      await ensureDrainQueue(boss);
      await wakeShards(boss, shards);
    },
  };
  try {
    await runQuery(sql, ping()).catch((err: Error) => {
      throw new CliError('UNAVAILABLE', `cannot reach the database: ${err.message}`);
    });
    return await sub.run(ctx, rest);
  } finally {
    await boss?.stop({ graceful: false }).catch(() => undefined);
    await sql.end({ timeout: 5 });
  }
}
