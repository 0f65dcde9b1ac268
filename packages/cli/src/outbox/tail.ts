// Follows events as the relay marks them sent: one line each (NDJSON with --json), with the
// commit → broker receipt latency, until Ctrl-C.
import { followSent, type OutboxRecord } from '@relevo/db/sql';
import { parse, parseUuid } from '../args.ts';
import { color, printable, toJson } from '../format.ts';
import type { Context } from './context.ts';

export async function tail(ctx: Context, args: string[]): Promise<number> {
  const { values } = parse(args, { type: { type: 'string' }, topic: { type: 'string' }, aggregate: { type: 'string' }, 'from-start': { type: 'boolean' } });
  const filter = {
    ...(values.type ? { eventType: values.type } : {}),
    ...(values.topic ? { topic: values.topic } : {}),
    ...(values.aggregate ? { aggregateId: parseUuid('aggregate', values.aggregate) } : {}),
  };
  let stop = false;
  const onSignal = () => { stop = true; };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const print = (r: OutboxRecord) => {
    const latency = r.sent_at!.getTime() - r.occurred_at.getTime();
    process.stdout.write(values.json
      ? toJson({ id: r.id.toString(), event_id: r.event_id, type: r.event_type, topic: r.topic, partner: r.aggregate_id,
        version: r.aggregate_version, occurred_at: r.occurred_at, sent_at: r.sent_at, commit_to_receipt_ms: latency, message_id: r.broker_message_id }, 0)
      : `${r.sent_at!.toISOString()} ${color.green(printable(r.event_type).padEnd(19))} ${printable(r.topic)} ${r.aggregate_id} v${r.aggregate_version} ${latency} ms ${color.dim(printable(r.broker_message_id ?? 'already on the broker'))}\n`);
  };
  try {
    await followSent(ctx.sql, filter, {
      fromStart: values['from-start'] === true,
      stopped: () => stop,
      onRow: print,
      onStart: () => process.stderr.write('tail: following events as they are marked sent (Ctrl-C to stop)\n'),
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return 0;
}
