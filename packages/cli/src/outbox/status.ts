import { outboxStatus, stateTotals } from '@relevo/db/sql';
import type { Context } from './context.ts';
import { parse } from '../args.ts';
import { color, printable, relative, table, toJson } from '../format.ts';

export async function status(ctx: Context, args: string[]): Promise<number> {
  const { values } = parse(args, {});
  const s = await outboxStatus(ctx.sql, await ctx.shards());
  const { totals } = stateTotals(s.groups);
  const lagSeconds = s.oldestUnsent ? (Date.now() - s.oldestUnsent.getTime()) / 1000 : 0;
  if (values.json) {
    process.stdout.write(toJson({ totals, oldest_unsent: s.oldestUnsent, publish_lag_seconds: lagSeconds, groups: s.groups,
      parked_partners: s.parkedPartners, active_drains: s.activeDrains, sent_window_seconds: s.sentWindowSeconds }));
    return 0;
  }
  const out = process.stdout;
  out.write(`${color.bold('outbox')}  pending ${totals.pending}  backoff ${color.yellow(String(totals.backoff))}  parked ${color.red(String(totals.parked))}  sent in the last ${s.sentWindowSeconds / 60} min ${color.green(String(totals.sent))}  skipped ${totals.skipped}\n`);
  out.write(`oldest unsent: ${s.oldestUnsent ? `${s.oldestUnsent.toISOString()} (${relative(s.oldestUnsent)}), publish lag ${lagSeconds.toFixed(1)} s` : 'none'}\n`);
  out.write(`relays draining now: ${s.activeDrains.length ? s.activeDrains.map((d) => `shard ${d.shard} since ${relative(d.started_on)}`).join(', ') : 'none'}\n\n`);
  const unsentGroups = s.groups.filter((g) => g.state !== 'sent' && g.state !== 'skipped');
  out.write(unsentGroups.length
    ? table(['shard', 'topic', 'event type', 'state', 'rows'], unsentGroups.map((g) => [String(g.shard), printable(g.topic), printable(g.event_type), g.state, String(g.count)]))
    : 'nothing unsent\n');
  if (s.parkedPartners.length) {
    out.write(`\n${color.red('parked partners')}\n`);
    out.write(table(['partner', 'parked', 'first error'], s.parkedPartners.map((p) => [p.aggregate_id, String(p.parked), printable((p.first_error ?? '').slice(0, 80))])));
  }
  return 0;
}
