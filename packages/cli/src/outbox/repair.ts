import { countSentBefore, findOutboxRows, purgeSentBefore, retryParked, runQuery, shardOf, skipParked } from '@relevo/db/sql';
import { CliError } from '../errors.ts';
import { actorOf, parse, parseId, parseStoredText, parseTime, parseUuid, parsePositive } from '../args.ts';
import { progress, toJson } from '../format.ts';
import type { Context } from './context.ts';

export async function retry(ctx: Context, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { parked: { type: 'boolean' }, aggregate: { type: 'string' }, by: { type: 'string' } });
  if (positionals.length > 0 && values.parked) throw new CliError('USAGE', 'give outbox ids or --parked, not both');
  if (positionals.length === 0 && !values.parked) throw new CliError('USAGE', 'usage: relevo outbox retry <ids…> | --parked [--aggregate <partner id>]');
  if (values.aggregate && !values.parked) throw new CliError('USAGE', '--aggregate goes with --parked');
  const ids = positionals.map(parseId);
  const actor = actorOf(values.by);
  const aggregateId = values.aggregate ? parseUuid('aggregate', values.aggregate) : undefined;
  if (ids.length > 0) {
    for (const id of ids) {
      const [row] = await findOutboxRows(ctx.sql, id.toString());
      if (!row) throw new CliError('NOT_FOUND', `no outbox row with id ${id}`);
      if (row.state !== 'parked') throw new CliError('CONFLICT', `outbox row ${id} is ${row.state}, not parked: nothing to retry`);
    }
  }
  const count = await retryParked(ctx.sql, { ...(ids.length ? { ids } : {}), ...(aggregateId ? { aggregateId } : {}) }, actor);
  await ctx.wake(Array.from({ length: await ctx.shards() }, (_, s) => s)).catch(() => undefined);
  process.stdout.write(values.json ? toJson({ retried: count, retried_by: actor }) : `re-queued ${count} parked row(s) as ${actor}; relay woken\n`);
  return 0;
}

/** As the API's SkipBody allows. */
const SKIP_REASON_MAX = 500;

export async function skip(ctx: Context, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { reason: { type: 'string' }, by: { type: 'string' } });
  if (positionals.length !== 1) throw new CliError('USAGE', 'usage: relevo outbox skip <id> --reason "…" [--by <name>]');
  if (!values.reason?.trim()) throw new CliError('USAGE', '--reason is required: say why this event will never be published');
  const reason = parseStoredText('reason', values.reason, SKIP_REASON_MAX);
  const actor = actorOf(values.by);
  const id = parseId(positionals[0]!);
  const [row] = await findOutboxRows(ctx.sql, id.toString());
  if (!row) throw new CliError('NOT_FOUND', `no outbox row with id ${id}`);
  if (row.state !== 'parked') throw new CliError('CONFLICT', `outbox row ${id} is ${row.state}: only parked rows can be skipped`);
  await skipParked(ctx.sql, id, reason, actor);
  await ctx.wake([shardOf(row.aggregate_id, await ctx.shards())]).catch(() => undefined);
  process.stdout.write(values.json
    ? toJson({ skipped: id, partner: row.aggregate_id, skipped_by: actor })
    : `skipped outbox row ${id} as ${actor}; partner ${row.aggregate_id} released\n`);
  return 0;
}

export async function purge(ctx: Context, args: string[]): Promise<number> {
  const { values } = parse(args, { 'sent-before': { type: 'string' }, batch: { type: 'string' } });
  if (!values['sent-before']) throw new CliError('USAGE', 'usage: relevo outbox purge --sent-before <time> [--batch N]');
  const cutoff = parseTime('sent-before', values['sent-before']);
  const batch = parsePositive('batch', values.batch, 5000);
  const [{ total } = { total: 0 }] = await runQuery(ctx.sql, countSentBefore({ cutoff }));
  const bar = progress('purge', total);
  const deleted = await purgeSentBefore(ctx.sql, cutoff, { batchSize: batch, onProgress: (n) => bar.update(n) });
  bar.done();
  process.stdout.write(values.json ? toJson({ deleted, sent_before: cutoff }) : `deleted ${deleted} sent row(s) sent before ${cutoff.toISOString()}\n`);
  return 0;
}
