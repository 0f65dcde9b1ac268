// The event contract's recovery replay: re-publish already-sent events as new messages marked
// as replays, with the topic's registered Avro schema like the originals (a consumer reading
// with the topic's schema decodes them alike, and a namespace that enforces schemas takes
// them). Sent rows are read in id order and the last one published is printed, so an
// interrupted replay resumes with --after.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { countSentForReplay, listSentForReplay, type ReplaySelection } from '@relevo/db/sql';
import { encodeEvent, topicSchema, type IntegrationEvent } from '@relevo/events';
import { createClient, type Producer } from '@relevo/pulsar';
import { messageProperties, topicUrl } from '@relevo/relay';
import { env, parseEnv, pulsarTokenEnv, refuseInsecureToken } from '@relevo/runtime';
import { CliError } from '../errors.ts';
import { parse, parseId, parsePositive, parseTime, parseUuid } from '../args.ts';
import { printable, progress, toJson } from '../format.ts';
import type { Context } from './context.ts';

const brokerEnv = z.object({
  BROKER_URL: z.string().regex(/^pulsar(\+ssl)?:\/\//, 'expected pulsar:// or pulsar+ssl://').default('pulsar://localhost:6650'),
  ...pulsarTokenEnv,
  PULSAR_TLS_CA_FILE: z.string().min(1).optional(),
  PULSAR_NAMESPACE: z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'expected tenant/namespace').default('public/default'),
}).superRefine(refuseInsecureToken(['BROKER_URL']));

const PAGE = 500;

export async function replay(ctx: Context, args: string[]): Promise<number> {
  const { values } = parse(args, {
    'from-id': { type: 'string' }, 'to-id': { type: 'string' }, after: { type: 'string' },
    since: { type: 'string' }, until: { type: 'string' }, aggregate: { type: 'string' }, type: { type: 'string' },
    topic: { type: 'string' }, rate: { type: 'string' }, 'dry-run': { type: 'boolean' }, all: { type: 'boolean' },
  });
  const selection: ReplaySelection = {
    ...(values['from-id'] ? { fromId: parseId(values['from-id']) } : {}),
    ...(values['to-id'] ? { toId: parseId(values['to-id']) } : {}),
    ...(values.since ? { since: parseTime('since', values.since) } : {}),
    ...(values.until ? { until: parseTime('until', values.until) } : {}),
    ...(values.aggregate ? { aggregateId: parseUuid('aggregate', values.aggregate) } : {}),
    ...(values.type ? { eventType: values.type } : {}),
    ...(values.topic ? { topic: values.topic } : {}),
  };
  if (Object.keys(selection).length === 0 && !values.all) {
    throw new CliError('USAGE', 'say what to replay: --from-id/--to-id, --since/--until, --aggregate, --type, --topic, or --all');
  }
  if (selection.fromId !== undefined && selection.toId !== undefined && selection.fromId > selection.toId) {
    throw new CliError('USAGE', '--from-id must not be after --to-id');
  }
  if (selection.since && selection.until && selection.since >= selection.until) throw new CliError('USAGE', '--since must be before --until');
  const rate = values.rate ? parsePositive('rate', values.rate, 0) : 0;
  let after = values.after ? parseId(values.after) : 0n;

  const total = await countSentForReplay(ctx.sql, selection, after);
  if (values['dry-run']) {
    const preview = await listSentForReplay(ctx.sql, selection, after, 20);
    process.stdout.write(values.json
      ? toJson({ would_replay: total, first: preview.map((r) => ({ id: r.id, event_id: r.event_id, type: r.event_type, topic: r.topic })) })
      : `would replay ${total} event(s); first ${preview.length}:\n${preview.map((r) => `  ${r.id} ${printable(r.event_type)} → ${printable(r.topic)} (${r.aggregate_id} v${r.aggregate_version})`).join('\n')}\n`);
    return 0;
  }

  const broker = parseEnv(brokerEnv);
  const client = createClient({
    serviceUrl: broker.BROKER_URL,
    ...(broker.PULSAR_TOKEN ? { token: broker.PULSAR_TOKEN, allowInsecureToken: broker.PULSAR_ALLOW_INSECURE_TOKEN } : {}),
    ...(broker.PULSAR_TLS_CA_FILE ? { tls: { ca: readFileSync(broker.PULSAR_TLS_CA_FILE) } } : {}),
  });
  const producers = new Map<string, Promise<Producer>>();
  const producerFor = (topic: string) => {
    let p = producers.get(topic);
    if (!p) {
      // No producer name and no sequence ids: replays must never touch the relay's dedup state.
      p = client.createProducer({
        topic: topicUrl(broker.PULSAR_NAMESPACE, topic),
        schema: { type: 'AVRO', schema: topicSchema(topic).json, name: topic },
        batching: { maxMessages: 500, maxDelayMs: 5 },
      });
      producers.set(topic, p);
    }
    return p;
  };
  let interrupted = false;
  const onSignal = () => { interrupted = true; };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const bar = progress('replay', total);
  const started = Date.now();
  let done = 0;
  try {
    while (!interrupted) {
      const rows = await listSentForReplay(ctx.sql, selection, after, PAGE);
      if (rows.length === 0) break;
      const receipts: Promise<unknown>[] = [];
      for (const row of rows) {
        const event = row.payload as unknown as IntegrationEvent;
        const producer = await producerFor(row.topic);
        receipts.push(producer.send({
          payload: encodeEvent(row.topic, event),
          partitionKey: row.aggregate_id,
          eventTime: row.occurred_at.getTime(),
          properties: {
            ...messageProperties(row, event), relevo_replay: 'true',
            // The original's id, when the broker's receipt named one (a duplicate's receipt does not).
            ...(row.broker_message_id ? { relevo_replay_of: row.broker_message_id } : {}),
          },
        }));
        if (rate > 0) {
          const due = started + ((done + receipts.length) / rate) * 1000;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
        if (interrupted) break;
      }
      await Promise.all(receipts);
      done += receipts.length;
      after = rows[receipts.length - 1]!.id;
      bar.update(done);
    }
  } finally {
    bar.done();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await client.close();
  }
  const resume = interrupted ? ` interrupted; resume with --after ${after}` : '';
  process.stdout.write(values.json
    ? toJson({ replayed: done, last_id: after.toString(), interrupted })
    : `replayed ${done} event(s) as new messages marked relevo_replay=true; last id ${after}.${resume}\n`);
  return interrupted ? 130 : 0;
}
