import { blockingRow, findOutboxRows, type OutboxRecord } from '@relevo/db/sql';
import { decodeEvent, encodeEvent, type IntegrationEvent } from '@relevo/events';
import { messageProperties } from '@relevo/relay';
import { CliError } from '../errors.ts';
import { parse, parseId } from '../args.ts';
import { color, printable, stateColor, toJson, when } from '../format.ts';
import type { Context } from './context.ts';

/** Why an unsent row has not gone out yet, in the order the relay would check. */
async function whyUnsent(ctx: Context, row: OutboxRecord): Promise<string | null> {
  if (row.state === 'sent' || row.state === 'skipped') return null;
  if (row.state === 'parked') return `parked ${when(row.parked_at)} after ${row.attempts} attempts: ${row.last_error ?? ''}; retry or skip it`;
  if (row.state === 'backoff') return `backing off until ${when(row.next_attempt_at)} after ${row.attempts} attempts: ${row.last_error ?? ''}`;
  const blocker = await blockingRow(ctx.sql, row);
  if (blocker) return `waiting behind outbox row ${blocker.id} (${blocker.event_type} v${blocker.aggregate_version}, ${blocker.state}) of the same partner`;
  if (row.claimed_by) {
    const [relay, run] = row.claimed_by.split('#');
    return `claimed by relay ${relay}${run ? ` (run ${run})` : ''} ${when(row.claimed_at)} with sequence ${row.publish_sequence}: being published`;
  }
  return 'waiting for the relay to claim it (is a relay running?)';
}

/** How the broker confirmed a sent row: its message id, or its answer that it already had the message. */
function sentAs(row: OutboxRecord): string {
  if (!row.sent_at) return '';
  return row.broker_message_id ? ` as ${row.broker_message_id}` : ' (the broker already had it: its answer to a re-send names no message id)';
}

function wire(row: OutboxRecord) {
  const event = row.payload as unknown as IntegrationEvent;
  try {
    const bytes = encodeEvent(row.topic, event);
    return { avro_bytes: bytes.length, avro_hex: bytes.toString('hex'), decoded: decodeEvent(row.topic, bytes), properties: messageProperties(row, event), error: null };
  } catch (err) {
    return { avro_bytes: 0, avro_hex: null, decoded: null, properties: messageProperties(row, event), error: (err as Error).message };
  }
}

export async function show(ctx: Context, args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {});
  const ref = positionals[0];
  if (!ref || positionals.length > 1) throw new CliError('USAGE', 'usage: relevo outbox show <outbox id | event id> [--json]');
  if (!/^\d+$/.test(ref) && !/^[0-9a-f-]{36}$/i.test(ref)) throw new CliError('USAGE', `"${ref}" is neither an outbox id nor an event id (UUID)`);
  if (/^\d+$/.test(ref)) parseId(ref);
  const rows = await findOutboxRows(ctx.sql, ref);
  if (rows.length === 0) throw new CliError('NOT_FOUND', `no outbox row with ${/^\d+$/.test(ref) ? 'id' : 'event id'} ${ref}`);
  const views = await Promise.all(rows.map(async (row) => ({ row, wire: wire(row), why_unsent: await whyUnsent(ctx, row) })));
  if (values.json) {
    process.stdout.write(toJson(views));
    return 0;
  }
  // Every stored value goes through printable (p) before it reaches the terminal.
  const p = (v: unknown) => printable(typeof v === 'string' ? v : JSON.stringify(v) ?? '');
  for (const { row, wire: w, why_unsent } of views) {
    const out = process.stdout;
    out.write(`${color.bold(`outbox row ${row.id}`)}  ${stateColor(row.state)}\n`);
    out.write(`event      ${row.event_id} ${p(row.event_type)} → ${p(row.topic)}\n`);
    out.write(`partner    ${row.aggregate_id} version ${row.aggregate_version}\n`);
    out.write(`occurred   ${when(row.occurred_at)}\n`);
    out.write(`attempts   ${row.attempts}${row.last_error ? `, last error: ${p(row.last_error)}` : ''}\n`);
    if (row.retried_at) out.write(`retried    ${when(row.retried_at)} by ${p(row.retried_by ?? 'unknown')}\n`);
    out.write(`sequence   ${row.publish_sequence ?? '-'} (shard ${row.publish_shard ?? '-'})\n`);
    out.write(`sent       ${when(row.sent_at)}${p(sentAs(row))}\n`);
    if (row.skipped_at) out.write(`skipped    ${when(row.skipped_at)} by ${p(row.skipped_by ?? 'unknown')}: ${p(row.skip_reason ?? '')}\n`);
    if (why_unsent) out.write(`${color.yellow('why unsent')} ${p(why_unsent)}\n`);
    out.write(`payload    ${p(row.payload)}\n`);
    out.write(`properties ${p(w.properties)}\n`);
    out.write(w.error
      ? `${color.red('avro')}       cannot encode: ${p(w.error)}\n`
      : `avro       ${w.avro_bytes} bytes ${w.avro_hex}\ndecoded    ${p(w.decoded)}\n`);
    out.write('\n');
  }
  return 0;
}
