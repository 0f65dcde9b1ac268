export { createClient } from './client.ts';
export { createAdmin, type AdminMessage, type AdminOptions, type AdminSchema, type CursorState, type PulsarAdmin } from './admin.ts';
export { loadNativeClient } from './adapters/native.ts';
export { PulsarError, ProtocolError, TimeoutError, isPlaintextUrl, isRetriable, messageTooBig, type PulsarErrorCode } from './errors.ts';
export { formatMessageId, parseMessageId } from './message-id.ts';
export { javaStringHash, partitionForKey } from './routing.ts';
export { parseAdminUrls } from './hosts.ts';
export { parseServiceUrl } from './topic.ts';
export type {
  ClientOptions, Consumer, Logger, Message, MessageId, OutgoingMessage, Producer, ProducerOptions, PulsarClient,
  SchemaInfo, SendReceipt, SubscribeOptions, SubscriptionType,
} from './types.ts';
