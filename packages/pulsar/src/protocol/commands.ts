// BaseCommand encoders for what the client sends and a decoder for what it receives.
// Field numbers follow PulsarApi.proto.
import { ProtocolError } from '../errors.ts';
import { ProtoReader, type ProtoWriter } from './proto.ts';

export const CommandType = {
  CONNECT: 2, CONNECTED: 3, SUBSCRIBE: 4, PRODUCER: 5, SEND: 6, SEND_RECEIPT: 7, SEND_ERROR: 8,
  MESSAGE: 9, ACK: 10, FLOW: 11, UNSUBSCRIBE: 12, SUCCESS: 13, ERROR: 14, CLOSE_PRODUCER: 15,
  CLOSE_CONSUMER: 16, PRODUCER_SUCCESS: 17, PING: 18, PONG: 19, REDELIVER_UNACKNOWLEDGED_MESSAGES: 20,
  PARTITIONED_METADATA: 21, PARTITIONED_METADATA_RESPONSE: 22, LOOKUP: 23, LOOKUP_RESPONSE: 24,
  REACHED_END_OF_TOPIC: 27, ACTIVE_CONSUMER_CHANGE: 31, GET_SCHEMA: 34, GET_SCHEMA_RESPONSE: 35,
  AUTH_CHALLENGE: 36, AUTH_RESPONSE: 37, ACK_RESPONSE: 38,
} as const;

export const PROTOCOL_VERSION = 19;
export const CLIENT_VERSION = 'relevo';

export const SchemaType = { None: 0, String: 1, Json: 2, Protobuf: 3, Avro: 4 } as const;
export const SubType = { Exclusive: 0, Shared: 1, Failover: 2, Key_Shared: 3 } as const;
export const AckType = { Individual: 0, Cumulative: 1 } as const;
export const LookupType = { Redirect: 0, Connect: 1, Failed: 2 } as const;

export interface MessageIdData {
  ledgerId: bigint;
  entryId: bigint;
  partition: number;
  batchIndex: number;
  batchSize?: number;
}

export interface SchemaData {
  name: string;
  type: number;
  data: Uint8Array;
  properties: Record<string, string>;
}

// ---- encoders: each writes one BaseCommand into w ----

function schema(w: ProtoWriter, field: number, s: SchemaData): void {
  w.message(field, (m) => {
    m.string(1, s.name).bytes(3, s.data).uint(4, s.type);
    m.keyValues(5, s.properties);
  });
}

function messageIdData(w: ProtoWriter, field: number, id: MessageIdData): void {
  w.message(field, (m) => {
    m.uint64(1, id.ledgerId).uint64(2, id.entryId);
    if (id.partition >= 0) m.int32(3, id.partition);
    if (id.batchIndex >= 0) m.int32(4, id.batchIndex);
  });
}

export function encodeConnect(w: ProtoWriter, o: { authMethod?: string; authData?: Uint8Array; proxyToBrokerUrl?: string }): void {
  w.uint(1, CommandType.CONNECT).message(2, (c) => {
    c.string(1, CLIENT_VERSION);
    if (o.authData) c.bytes(3, o.authData);
    c.int32(4, PROTOCOL_VERSION);
    if (o.authMethod) c.string(5, o.authMethod);
    if (o.proxyToBrokerUrl) c.string(6, o.proxyToBrokerUrl);
    // FeatureFlags.supports_auth_refresh: we answer AUTH_CHALLENGE (connection.ts). Without the flag a
    // broker with authentication closes the whole connection when the token it was given expires,
    // instead of challenging for a fresh one.
    c.message(10, (f) => f.bool(1, true));
  });
}

export function encodeAuthResponse(w: ProtoWriter, authMethod: string, authData: Uint8Array): void {
  w.uint(1, CommandType.AUTH_RESPONSE).message(37, (c) => {
    c.string(1, CLIENT_VERSION);
    c.message(2, (a) => a.string(1, authMethod).bytes(2, authData));
    c.int32(3, PROTOCOL_VERSION);
  });
}

export function encodePing(w: ProtoWriter): void {
  w.uint(1, CommandType.PING).message(18, () => {});
}

export function encodePong(w: ProtoWriter): void {
  w.uint(1, CommandType.PONG).message(19, () => {});
}

export function encodePartitionedMetadata(w: ProtoWriter, requestId: number, topic: string): void {
  w.uint(1, CommandType.PARTITIONED_METADATA).message(21, (c) => c.string(1, topic).uint(2, requestId));
}

export function encodeLookup(w: ProtoWriter, requestId: number, topic: string, authoritative: boolean): void {
  w.uint(1, CommandType.LOOKUP).message(23, (c) => c.string(1, topic).uint(2, requestId).bool(3, authoritative));
}

export function encodeProducer(w: ProtoWriter, o: {
  requestId: number; producerId: number; topic: string; producerName?: string; userProvidedName: boolean;
  schema?: SchemaData; epoch: number;
}): void {
  w.uint(1, CommandType.PRODUCER).message(5, (c) => {
    c.string(1, o.topic).uint(2, o.producerId).uint(3, o.requestId);
    if (o.producerName) c.string(4, o.producerName);
    if (o.schema) schema(c, 7, o.schema);
    c.uint(8, o.epoch).bool(9, o.userProvidedName);
  });
}

export function encodeSend(w: ProtoWriter, producerId: number, sequenceId: bigint, numMessages: number, highestSequenceId: bigint): void {
  w.uint(1, CommandType.SEND).message(6, (c) => {
    c.uint(1, producerId).uint64(2, sequenceId);
    if (numMessages !== 1) c.int32(3, numMessages);
    if (highestSequenceId > sequenceId) c.uint64(6, highestSequenceId);
  });
}

export function encodeCloseProducer(w: ProtoWriter, requestId: number, producerId: number): void {
  w.uint(1, CommandType.CLOSE_PRODUCER).message(15, (c) => c.uint(1, producerId).uint(2, requestId));
}

export function encodeSubscribe(w: ProtoWriter, o: {
  requestId: number; consumerId: number; topic: string; subscription: string; subType: number;
  consumerName?: string; initialPosition: 'latest' | 'earliest'; schema?: SchemaData; epoch: number;
}): void {
  w.uint(1, CommandType.SUBSCRIBE).message(4, (c) => {
    c.string(1, o.topic).string(2, o.subscription).uint(3, o.subType).uint(4, o.consumerId).uint(5, o.requestId);
    if (o.consumerName) c.string(6, o.consumerName);
    c.bool(8, true);
    if (o.schema) schema(c, 12, o.schema);
    c.uint(13, o.initialPosition === 'earliest' ? 1 : 0);
    c.bool(15, true);
    if (o.subType === SubType.Key_Shared) c.message(17, (k) => k.uint(1, 0));
    c.uint(19, o.epoch);
  });
}

export function encodeFlow(w: ProtoWriter, consumerId: number, permits: number): void {
  w.uint(1, CommandType.FLOW).message(11, (c) => c.uint(1, consumerId).uint(2, permits));
}

export function encodeAck(w: ProtoWriter, o: { consumerId: number; ackType: number; ids: MessageIdData[]; requestId: number }): void {
  w.uint(1, CommandType.ACK).message(10, (c) => {
    c.uint(1, o.consumerId).uint(2, o.ackType);
    for (const id of o.ids) messageIdData(c, 3, id);
    c.uint(8, o.requestId);
  });
}

export function encodeRedeliver(w: ProtoWriter, consumerId: number, ids: MessageIdData[], epoch: number): void {
  w.uint(1, CommandType.REDELIVER_UNACKNOWLEDGED_MESSAGES).message(20, (c) => {
    c.uint(1, consumerId);
    for (const id of ids) messageIdData(c, 2, id);
    c.uint(3, epoch);
  });
}

export function encodeCloseConsumer(w: ProtoWriter, requestId: number, consumerId: number): void {
  w.uint(1, CommandType.CLOSE_CONSUMER).message(16, (c) => c.uint(1, consumerId).uint(2, requestId));
}

export function encodeGetSchema(w: ProtoWriter, requestId: number, topic: string, version?: Uint8Array): void {
  w.uint(1, CommandType.GET_SCHEMA).message(34, (c) => {
    c.uint(1, requestId).string(2, topic);
    if (version) c.bytes(3, version);
  });
}

// ---- decoder ----

export interface Incoming {
  type: number;
  /** Set for every response that answers a request. */
  requestId?: number;
  connected?: { serverVersion: string; protocolVersion: number; maxMessageSize?: number };
  sendReceipt?: { producerId: number; sequenceId: bigint; highestSequenceId: bigint; messageId?: MessageIdData };
  sendError?: { producerId: number; sequenceId: bigint; error: number; message: string };
  message?: { consumerId: number; messageId: MessageIdData; redeliveryCount: number; consumerEpoch?: number };
  success?: { schema?: SchemaData };
  error?: { error: number; message: string };
  closeProducer?: { producerId: number };
  closeConsumer?: { consumerId: number };
  producerSuccess?: { producerName: string; lastSequenceId: bigint; schemaVersion?: Uint8Array; producerReady: boolean };
  partitionMetadataResponse?: { partitions: number; failed: boolean; error?: number; message?: string };
  lookupTopicResponse?: {
    brokerServiceUrl?: string; brokerServiceUrlTls?: string; response: number; authoritative: boolean;
    error?: number; message?: string; proxyThroughServiceUrl: boolean;
  };
  activeConsumerChange?: { consumerId: number; isActive: boolean };
  reachedEndOfTopic?: { consumerId: number };
  getSchemaResponse?: { errorCode?: number; errorMessage?: string; schema?: SchemaData; schemaVersion?: Uint8Array };
  authChallenge?: { authMethod?: string };
  ackResponse?: { consumerId: number; error?: number; message?: string };
}

function decodeKeyValue(r: ProtoReader): [string, string] {
  let key = '';
  let value = '';
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1) key = r.string();
    else if (f === 2) value = r.string();
    else r.skip(w);
  }
  return [key, value];
}

export function decodeKeyValueInto(r: ProtoReader, into: Record<string, string>): void {
  const [k, v] = decodeKeyValue(r);
  into[k] = v;
}

export function decodeMessageIdData(r: ProtoReader): MessageIdData {
  const id: MessageIdData = { ledgerId: -1n, entryId: -1n, partition: -1, batchIndex: -1 };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      // Signed so the broker's -1:-1 receipt for a deduplicated message reads as -1n.
      case 1: id.ledgerId = r.int64(); break;
      case 2: id.entryId = r.int64(); break;
      case 3: id.partition = r.int32(); break;
      case 4: id.batchIndex = r.int32(); break;
      case 6: id.batchSize = r.int32(); break;
      default: r.skip(w);
    }
  }
  return id;
}

function decodeSchema(r: ProtoReader): SchemaData {
  const s: SchemaData = { name: '', type: 0, data: new Uint8Array(0), properties: {} };
  while (!r.done) {
    const [f, w] = r.tag();
    switch (f) {
      case 1: s.name = r.string(); break;
      case 3: s.data = r.bytes(); break;
      case 4: s.type = r.int32(); break;
      case 5: decodeKeyValueInto(r.sub(), s.properties); break;
      default: r.skip(w);
    }
  }
  return s;
}

function decodeBody(type: number, r: ProtoReader, out: Incoming): void {
  switch (type) {
    case CommandType.CONNECTED: {
      const c: NonNullable<Incoming['connected']> = { serverVersion: '', protocolVersion: 0 };
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) c.serverVersion = r.string();
        else if (f === 2) c.protocolVersion = r.int32();
        else if (f === 3) c.maxMessageSize = r.int32();
        else r.skip(w);
      }
      out.connected = c;
      return;
    }
    case CommandType.SEND_RECEIPT: {
      const c: NonNullable<Incoming['sendReceipt']> = { producerId: -1, sequenceId: -1n, highestSequenceId: 0n };
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) c.producerId = r.uint53();
        else if (f === 2) c.sequenceId = r.uint64();
        else if (f === 3) c.messageId = decodeMessageIdData(r.sub());
        else if (f === 4) c.highestSequenceId = r.uint64();
        else r.skip(w);
      }
      out.sendReceipt = c;
      return;
    }
    case CommandType.SEND_ERROR: {
      const c: NonNullable<Incoming['sendError']> = { producerId: -1, sequenceId: -1n, error: 0, message: '' };
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) c.producerId = r.uint53();
        else if (f === 2) c.sequenceId = r.uint64();
        else if (f === 3) c.error = r.int32();
        else if (f === 4) c.message = r.string();
        else r.skip(w);
      }
      out.sendError = c;
      return;
    }
    case CommandType.MESSAGE: {
      let consumerId = -1;
      let messageId: MessageIdData | undefined;
      let redeliveryCount = 0;
      let consumerEpoch: number | undefined;
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) consumerId = r.uint53();
        else if (f === 2) messageId = decodeMessageIdData(r.sub());
        else if (f === 3) redeliveryCount = r.uint32();
        else if (f === 5) consumerEpoch = r.uint53();
        else r.skip(w);
      }
      if (!messageId) throw new ProtocolError('MESSAGE without message_id');
      out.message = { consumerId, messageId, redeliveryCount, ...(consumerEpoch === undefined ? {} : { consumerEpoch }) };
      return;
    }
    case CommandType.SUCCESS: {
      const c: NonNullable<Incoming['success']> = {};
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) out.requestId = r.uint53();
        else if (f === 2) c.schema = decodeSchema(r.sub());
        else r.skip(w);
      }
      out.success = c;
      return;
    }
    case CommandType.ERROR: {
      const c = { error: 0, message: '' };
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) out.requestId = r.uint53();
        else if (f === 2) c.error = r.int32();
        else if (f === 3) c.message = r.string();
        else r.skip(w);
      }
      out.error = c;
      return;
    }
    case CommandType.CLOSE_PRODUCER: {
      let producerId = -1;
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) producerId = r.uint53();
        else r.skip(w);
      }
      out.closeProducer = { producerId };
      return;
    }
    case CommandType.CLOSE_CONSUMER: {
      let consumerId = -1;
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) consumerId = r.uint53();
        else r.skip(w);
      }
      out.closeConsumer = { consumerId };
      return;
    }
    case CommandType.PRODUCER_SUCCESS: {
      const c: NonNullable<Incoming['producerSuccess']> = { producerName: '', lastSequenceId: -1n, producerReady: true };
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) out.requestId = r.uint53();
        else if (f === 2) c.producerName = r.string();
        else if (f === 3) c.lastSequenceId = r.int64();
        else if (f === 4) c.schemaVersion = Uint8Array.from(r.bytes());
        else if (f === 6) c.producerReady = r.bool();
        else r.skip(w);
      }
      out.producerSuccess = c;
      return;
    }
    case CommandType.PARTITIONED_METADATA_RESPONSE: {
      const c: NonNullable<Incoming['partitionMetadataResponse']> = { partitions: 0, failed: false };
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) c.partitions = r.uint32();
        else if (f === 2) out.requestId = r.uint53();
        else if (f === 3) c.failed = r.int32() === 1;
        else if (f === 4) c.error = r.int32();
        else if (f === 5) c.message = r.string();
        else r.skip(w);
      }
      out.partitionMetadataResponse = c;
      return;
    }
    case CommandType.LOOKUP_RESPONSE: {
      const c: NonNullable<Incoming['lookupTopicResponse']> = { response: LookupType.Failed, authoritative: false, proxyThroughServiceUrl: false };
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) c.brokerServiceUrl = r.string();
        else if (f === 2) c.brokerServiceUrlTls = r.string();
        else if (f === 3) c.response = r.int32();
        else if (f === 4) out.requestId = r.uint53();
        else if (f === 5) c.authoritative = r.bool();
        else if (f === 6) c.error = r.int32();
        else if (f === 7) c.message = r.string();
        else if (f === 8) c.proxyThroughServiceUrl = r.bool();
        else r.skip(w);
      }
      out.lookupTopicResponse = c;
      return;
    }
    case CommandType.ACTIVE_CONSUMER_CHANGE: {
      const c = { consumerId: -1, isActive: false };
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) c.consumerId = r.uint53();
        else if (f === 2) c.isActive = r.bool();
        else r.skip(w);
      }
      out.activeConsumerChange = c;
      return;
    }
    case CommandType.REACHED_END_OF_TOPIC: {
      let consumerId = -1;
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) consumerId = r.uint53();
        else r.skip(w);
      }
      out.reachedEndOfTopic = { consumerId };
      return;
    }
    case CommandType.GET_SCHEMA_RESPONSE: {
      const c: NonNullable<Incoming['getSchemaResponse']> = {};
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) out.requestId = r.uint53();
        else if (f === 2) c.errorCode = r.int32();
        else if (f === 3) c.errorMessage = r.string();
        else if (f === 4) c.schema = decodeSchema(r.sub());
        else if (f === 5) c.schemaVersion = Uint8Array.from(r.bytes());
        else r.skip(w);
      }
      out.getSchemaResponse = c;
      return;
    }
    case CommandType.AUTH_CHALLENGE: {
      const c: NonNullable<Incoming['authChallenge']> = {};
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 2) {
          const a = r.sub();
          while (!a.done) {
            const [af, aw] = a.tag();
            if (af === 1) c.authMethod = a.string();
            else a.skip(aw);
          }
        } else r.skip(w);
      }
      out.authChallenge = c;
      return;
    }
    case CommandType.ACK_RESPONSE: {
      const c: NonNullable<Incoming['ackResponse']> = { consumerId: -1 };
      while (!r.done) {
        const [f, w] = r.tag();
        if (f === 1) c.consumerId = r.uint53();
        else if (f === 4) c.error = r.int32();
        else if (f === 5) c.message = r.string();
        else if (f === 6) out.requestId = r.uint53();
        else r.skip(w);
      }
      out.ackResponse = c;
      return;
    }
    default:
      return;
  }
}

/** Decodes a BaseCommand; throws ProtocolError on anything malformed. */
export function decodeCommand(buf: Uint8Array): Incoming {
  const r = new ProtoReader(buf);
  let type = 0;
  const out: Incoming = { type: 0 };
  while (!r.done) {
    const [f, w] = r.tag();
    if (f === 1) {
      if (w !== 0) throw new ProtocolError('BaseCommand.type has the wrong wire type');
      type = r.int32();
    } else if (w === 2 && type !== 0 && f === type) {
      decodeBody(type, r.sub(), out);
    } else {
      r.skip(w);
    }
  }
  if (type === 0) throw new ProtocolError('BaseCommand without a type');
  out.type = type;
  return out;
}
