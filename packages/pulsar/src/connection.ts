// One TCP/TLS connection to a broker (or proxy): CONNECT handshake, request/response matching with
// per-request timeouts, PING/PONG keep-alive, and dispatch of producer/consumer traffic to handlers.
// Undecodable framing closes the connection with a ProtocolError that every waiter sees; a message
// whose payload section cannot be read is handed to its consumer as a poison message instead, since
// the broker would deliver it again on every new connection (frame.ts, consumer.ts).
//
// A token is only ever sent over TLS unless allowInsecureToken says otherwise: on a pulsar://
// connection it would cross the network in clear text (packages/pulsar/test/insecure-token.test.ts).
import net from 'node:net';
import tls from 'node:tls';
import { DEFAULT_MAX_MESSAGE_SIZE, PulsarError, ProtocolError, TimeoutError, serverError, toPulsarError } from './errors.ts';
import {
  CommandType, decodeCommand, encodeAuthResponse, encodeConnect, encodePing, encodePong, type Incoming,
} from './protocol/commands.ts';
import { FRAME_PADDING, FrameDecoder, MAX_ACCEPTED_MESSAGE_SIZE, simpleFrame, type Frame } from './protocol/frame.ts';
import type { BrokerAddress } from './topic.ts';
import type { ClientOptions, Logger } from './types.ts';

export interface ProducerHandler {
  handleReceipt(r: NonNullable<Incoming['sendReceipt']>): void;
  handleSendError(e: NonNullable<Incoming['sendError']>): void;
  /** The broker closed this producer (CLOSE_PRODUCER) or the connection went away. */
  handleDisconnect(err: PulsarError): void;
}

export interface ConsumerHandler {
  /** frame.payload is set; frame.metadata too unless frame.invalid says why the section is unreadable. */
  handleMessage(m: NonNullable<Incoming['message']>, frame: Frame): void;
  handleAckResponse(requestId: number, err: PulsarError | undefined): void;
  handleDisconnect(err: PulsarError): void;
}

export interface ConnectionConfig {
  token?: ClientOptions['token'];
  allowInsecureToken?: boolean;
  tls?: ClientOptions['tls'];
  connectionTimeoutMs: number;
  operationTimeoutMs: number;
  keepAliveMs: number;
  logger: Logger;
}

interface PendingRequest {
  resolve(cmd: Incoming): void;
  reject(err: PulsarError): void;
  timer: NodeJS.Timeout;
}

export class Connection {
  readonly logical: BrokerAddress;
  readonly physical: BrokerAddress;
  maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;
  readonly producers = new Map<number, ProducerHandler>();
  readonly consumers = new Map<number, ConsumerHandler>();

  private readonly cfg: ConnectionConfig;
  private readonly decoder: FrameDecoder;
  private readonly requests = new Map<number, PendingRequest>();
  private readonly closeListeners: Array<(err: PulsarError) => void> = [];
  private socket: net.Socket | undefined;
  private nextRequestId = 1;
  private closedError: PulsarError | undefined;
  private connected = false;
  private handshake: { resolve(): void; reject(err: PulsarError): void } | undefined;
  private corked = false;
  private receivedSinceTick = true;
  private pingOutstanding = false;
  private keepAlive: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;

  private constructor(logical: BrokerAddress, physical: BrokerAddress, cfg: ConnectionConfig) {
    this.logical = logical;
    this.physical = physical;
    this.cfg = cfg;
    this.decoder = new FrameDecoder((f) => this.onFrame(f));
  }

  static async open(logical: BrokerAddress, physical: BrokerAddress, cfg: ConnectionConfig): Promise<Connection> {
    const c = new Connection(logical, physical, cfg);
    await c.start();
    return c;
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  onClose(listener: (err: PulsarError) => void): void {
    if (this.closedError) listener(this.closedError);
    else this.closeListeners.push(listener);
  }

  private start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.handshake = { resolve, reject };
      const { host, port } = this.physical;
      this.connectTimer = setTimeout(
        () => this.destroy(new TimeoutError(`connecting to ${this.physical.url} timed out after ${this.cfg.connectionTimeoutMs} ms`)),
        this.cfg.connectionTimeoutMs,
      );
      const socket = this.physical.tls
        ? tls.connect({
            host, port,
            servername: net.isIP(host) ? undefined : host,
            ca: this.cfg.tls?.ca,
            rejectUnauthorized: this.cfg.tls?.rejectUnauthorized ?? true,
          })
        : net.connect({ host, port });
      this.socket = socket;
      socket.setNoDelay(true);
      socket.once(this.physical.tls ? 'secureConnect' : 'connect', () => {
        this.sendConnect().catch((e: unknown) => this.destroy(toPulsarError(e, 'AuthenticationError')));
      });
      socket.on('data', (chunk: Buffer) => this.onData(chunk));
      socket.on('error', (err: NodeJS.ErrnoException) => {
        // A certificate that does not verify will not verify on retry either.
        const code = this.physical.tls && /CERT|SIGNATURE|ERR_TLS|ERR_SSL/.test(err.code ?? '') ? 'TlsError' : 'ConnectionError';
        this.destroy(new PulsarError(code, `${this.physical.url}: ${err.message}`, { cause: err }));
      });
      socket.on('close', () => {
        this.destroy(this.decoder.hasPartialFrame
          ? new ProtocolError(`${this.physical.url} closed the connection in the middle of a frame`)
          : new PulsarError('ConnectionClosed', this.connected
            ? `connection to ${this.physical.url} closed`
            // A TLS port closes a plaintext CONNECT without a word; say so rather than just "closed".
            : `${this.physical.url} closed the connection before CONNECTED${this.physical.tls ? '' : ' (a TLS port needs pulsar+ssl://)'}`));
      });
    });
  }

  private async authData(): Promise<Buffer | undefined> {
    const t = this.cfg.token;
    if (t === undefined) return undefined;
    if (!this.physical.tls && !this.cfg.allowInsecureToken) {
      throw new PulsarError('InsecureToken', `refusing to send the token to ${this.physical.url} in clear text: use pulsar+ssl://, or allow it explicitly (allowInsecureToken)`);
    }
    return Buffer.from(typeof t === 'string' ? t : await t(), 'utf8');
  }

  private async sendConnect(): Promise<void> {
    const authData = await this.authData();
    const proxied = this.logical.url !== this.physical.url;
    this.write(simpleFrame((w) => encodeConnect(w, {
      ...(authData ? { authMethod: 'token', authData } : {}),
      ...(proxied ? { proxyToBrokerUrl: `${this.logical.host}:${this.logical.port}` } : {}),
    })));
  }

  private async answerAuthChallenge(): Promise<void> {
    const authData = await this.authData();
    if (!authData) throw new PulsarError('AuthenticationError', 'broker sent an auth challenge but no token is configured');
    this.write(simpleFrame((w) => encodeAuthResponse(w, 'token', authData)));
  }

  private onData(chunk: Buffer): void {
    this.receivedSinceTick = true;
    this.pingOutstanding = false;
    try {
      this.decoder.push(chunk);
    } catch (e) {
      this.destroy(e instanceof PulsarError ? e : new ProtocolError(`cannot process frame: ${(e as Error).message}`, { cause: e }));
    }
  }

  private onFrame(frame: Frame): void {
    if (this.closedError) return;
    const cmd = decodeCommand(frame.command);
    if (!this.connected) {
      this.onHandshakeFrame(cmd);
      return;
    }
    switch (cmd.type) {
      case CommandType.PING:
        this.write(simpleFrame(encodePong));
        return;
      case CommandType.PONG:
        return;
      case CommandType.SEND_RECEIPT:
        this.producers.get(cmd.sendReceipt!.producerId)?.handleReceipt(cmd.sendReceipt!);
        return;
      case CommandType.SEND_ERROR:
        this.producers.get(cmd.sendError!.producerId)?.handleSendError(cmd.sendError!);
        return;
      case CommandType.MESSAGE:
        if (!frame.payload) throw new ProtocolError('MESSAGE frame without a payload section');
        this.consumers.get(cmd.message!.consumerId)?.handleMessage(cmd.message!, frame);
        return;
      case CommandType.CLOSE_PRODUCER: {
        const id = cmd.closeProducer!.producerId;
        const h = this.producers.get(id);
        this.producers.delete(id);
        h?.handleDisconnect(new PulsarError('ConnectionClosed', 'broker closed the producer'));
        return;
      }
      case CommandType.CLOSE_CONSUMER: {
        const id = cmd.closeConsumer!.consumerId;
        const h = this.consumers.get(id);
        this.consumers.delete(id);
        h?.handleDisconnect(new PulsarError('ConnectionClosed', 'broker closed the consumer'));
        return;
      }
      case CommandType.ACK_RESPONSE: {
        const r = cmd.ackResponse!;
        const err = r.error !== undefined ? serverError(r.error, r.message ?? '') : undefined;
        this.consumers.get(r.consumerId)?.handleAckResponse(cmd.requestId ?? -1, err);
        return;
      }
      case CommandType.AUTH_CHALLENGE:
        this.answerAuthChallenge().catch((e: unknown) => this.destroy(toPulsarError(e, 'AuthenticationError')));
        return;
      case CommandType.ACTIVE_CONSUMER_CHANGE:
      case CommandType.REACHED_END_OF_TOPIC:
        this.cfg.logger.debug({ broker: this.logical.url, type: cmd.type }, 'pulsar: consumer notification ignored');
        return;
      default:
        if (cmd.requestId !== undefined) this.settleRequest(cmd);
        else this.cfg.logger.debug({ broker: this.logical.url, type: cmd.type }, 'pulsar: unhandled command');
    }
  }

  private onHandshakeFrame(cmd: Incoming): void {
    switch (cmd.type) {
      case CommandType.CONNECTED: {
        this.connected = true;
        clearTimeout(this.connectTimer);
        const max = cmd.connected!.maxMessageSize;
        if (max && max > 0) this.maxMessageSize = Math.min(max, MAX_ACCEPTED_MESSAGE_SIZE);
        if (max && max > MAX_ACCEPTED_MESSAGE_SIZE) {
          this.cfg.logger.warn({ broker: this.physical.url, announced: max, accepted: MAX_ACCEPTED_MESSAGE_SIZE },
            'pulsar: the broker announces a larger max message size than the client accepts; frames are limited to the smaller');
        }
        this.decoder.maxFrameSize = this.maxMessageSize + FRAME_PADDING;
        this.keepAlive = setInterval(() => this.keepAliveTick(), this.cfg.keepAliveMs);
        this.keepAlive.unref();
        this.handshake?.resolve();
        this.handshake = undefined;
        return;
      }
      case CommandType.ERROR: {
        const e = cmd.error!;
        this.destroy(serverError(e.error, e.message));
        return;
      }
      case CommandType.AUTH_CHALLENGE:
        this.answerAuthChallenge().catch((e: unknown) => this.destroy(toPulsarError(e, 'AuthenticationError')));
        return;
      case CommandType.PING:
        this.write(simpleFrame(encodePong));
        return;
      default:
        throw new ProtocolError(`unexpected command ${cmd.type} before CONNECTED`);
    }
  }

  private keepAliveTick(): void {
    if (this.receivedSinceTick) {
      this.receivedSinceTick = false;
      return;
    }
    if (this.pingOutstanding) {
      this.destroy(new TimeoutError(`${this.physical.url} did not answer PING within ${this.cfg.keepAliveMs} ms`));
      return;
    }
    this.pingOutstanding = true;
    this.write(simpleFrame(encodePing));
  }

  private settleRequest(cmd: Incoming): void {
    const pending = this.requests.get(cmd.requestId!);
    if (!pending) return;
    this.requests.delete(cmd.requestId!);
    clearTimeout(pending.timer);
    if (cmd.type === CommandType.ERROR) pending.reject(serverError(cmd.error!.error, cmd.error!.message));
    else pending.resolve(cmd);
  }

  newRequestId(): number {
    return this.nextRequestId++;
  }

  /** Sends build(requestId) and resolves with the matching response; an ERROR response rejects. */
  request(build: (requestId: number) => Buffer, timeoutMs = this.cfg.operationTimeoutMs): Promise<Incoming> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.newRequestId();
    const frame = build(id);
    return new Promise<Incoming>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.requests.delete(id);
        reject(new TimeoutError(`request ${id} to ${this.logical.url} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.requests.set(id, { resolve, reject, timer });
      this.write(frame);
    });
  }

  /** Writes within one tick are coalesced into one syscall by corking until the next tick. */
  write(buf: Buffer): boolean {
    const s = this.socket;
    if (this.closedError || !s) return false;
    if (!this.corked) {
      this.corked = true;
      s.cork();
      process.nextTick(() => {
        this.corked = false;
        s.uncork();
      });
    }
    s.write(buf);
    return true;
  }

  destroy(err: PulsarError): void {
    if (this.closedError) return;
    this.closedError = err;
    clearTimeout(this.connectTimer);
    clearInterval(this.keepAlive);
    this.socket?.destroy();
    if (this.connected && err.code !== 'ConnectionClosed') {
      this.cfg.logger.warn({ broker: this.physical.url, code: err.code, err: err.message }, 'pulsar: connection closed');
    }
    this.handshake?.reject(err);
    this.handshake = undefined;
    for (const [, p] of this.requests) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.requests.clear();
    const producers = [...this.producers.values()];
    const consumers = [...this.consumers.values()];
    this.producers.clear();
    this.consumers.clear();
    for (const h of producers) h.handleDisconnect(err);
    for (const h of consumers) h.handleDisconnect(err);
    for (const l of this.closeListeners.splice(0)) l(err);
  }

  close(): void {
    this.destroy(new PulsarError('ConnectionClosed', `connection to ${this.physical.url} closed by the client`));
  }
}
