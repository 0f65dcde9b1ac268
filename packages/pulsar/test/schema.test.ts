// Avro schemas declared in PRODUCER land in the broker's registry (FULL compatibility here),
// incompatible ones are refused, and GET_SCHEMA resolves writer schemas by version.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PulsarError, type PulsarClient, type SchemaInfo } from '../src/index.ts';
import { admin, newClient, receiveN, uniqueTopic } from './helpers.ts';

const v1 = {
  type: 'record', name: 'PartnerEvent', namespace: 'relevo.test',
  fields: [{ name: 'id', type: 'long' }, { name: 'name', type: 'string' }],
};
const v2 = { ...v1, fields: [...v1.fields, { name: 'note', type: ['null', 'string'], default: null }] };
const incompatible = { ...v1, fields: [...v1.fields, { name: 'required', type: 'int' }] };
const avro = (s: object): SchemaInfo => ({ type: 'AVRO', schema: JSON.stringify(s), name: 'PartnerEvent' });

let client: PulsarClient;

beforeAll(() => {
  client = newClient();
});

afterAll(async () => {
  await client.close();
});

describe('schemas', () => {
  it('registers the producer schema and tags every message with its version', async () => {
    const topic = uniqueTopic('avro');
    const producer = await client.createProducer({ topic, schema: avro(v1) });
    expect(producer.schemaVersion).toBeDefined();

    const registered = await admin.getSchema(topic);
    expect(registered?.type).toBe('AVRO');
    expect(JSON.parse(registered!.schema)).toEqual(v1);

    const consumer = await client.subscribe({ topic, subscription: 's', initialPosition: 'earliest', schema: avro(v1) });
    await producer.send({ payload: Uint8Array.from([2, 6, 97, 98, 99]) });
    const [m] = await receiveN(consumer, 1);
    expect(Buffer.from(m!.schemaVersion!)).toEqual(Buffer.from(producer.schemaVersion!));

    const fetched = await client.getSchema(topic, m!.schemaVersion);
    expect(fetched?.type).toBe('AVRO');
    expect(JSON.parse(fetched!.schema)).toEqual(v1);
    await Promise.all([consumer.close(), producer.close()]);
  });

  it('evolves compatibly and resolves each writer schema by version', async () => {
    const topic = uniqueTopic('avro-evolve');
    const p1 = await client.createProducer({ topic, schema: avro(v1) });
    const p2 = await client.createProducer({ topic, schema: avro(v2) });
    expect(Buffer.from(p2.schemaVersion!)).not.toEqual(Buffer.from(p1.schemaVersion!));
    expect(JSON.parse((await client.getSchema(topic, p1.schemaVersion))!.schema)).toEqual(v1);
    expect(JSON.parse((await client.getSchema(topic, p2.schemaVersion))!.schema)).toEqual(v2);
    expect(JSON.parse((await client.getSchema(topic))!.schema)).toEqual(v2);
    await Promise.all([p1.close(), p2.close()]);
  });

  it('rejects an incompatible schema with IncompatibleSchema and the broker\'s reason', async () => {
    const topic = uniqueTopic('avro-incompat');
    const producer = await client.createProducer({ topic, schema: avro(v1) });
    const err = await client.createProducer({ topic, schema: avro(incompatible) }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(PulsarError);
    expect((err as PulsarError).code).toBe('IncompatibleSchema');
    expect((err as PulsarError).message).toMatch(/incompatible|compatib/i);
    await producer.close();
  });

  it('answers undefined for a topic without a schema and deletes schemas through admin', async () => {
    const topic = uniqueTopic('noschema');
    expect(await client.getSchema(topic)).toBeUndefined();
    const producer = await client.createProducer({ topic, schema: avro(v1) });
    await producer.close();
    expect(await admin.getSchema(topic)).toBeDefined();
    await admin.deleteSchema(topic);
    expect(await admin.getSchema(topic)).toBeUndefined();
  });
});

describe('admin', () => {
  it('reports deduplication from the broker when the namespace has no policy', async () => {
    expect(await admin.deduplicationStatus('public/default')).toBe(true);
  });
});
