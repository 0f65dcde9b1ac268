// Connections are shared per (logical broker, physical address): through a proxy several logical
// brokers share one physical address but still need their own CONNECT with proxy_to_broker_url.
import { Connection, type ConnectionConfig } from './connection.ts';
import type { BrokerAddress } from './topic.ts';

interface Entry {
  promise: Promise<Connection>;
  conn?: Connection;
}

export class ConnectionPool {
  private readonly cfg: ConnectionConfig;
  private readonly entries = new Map<string, Entry>();
  private closed = false;

  constructor(cfg: ConnectionConfig) {
    this.cfg = cfg;
  }

  get(logical: BrokerAddress, physical: BrokerAddress): Promise<Connection> {
    const key = `${logical.url}|${physical.url}`;
    const existing = this.entries.get(key);
    if (existing && !existing.conn?.closed) return existing.promise;
    const entry: Entry = {
      promise: Connection.open(logical, physical, this.cfg).then(
        (conn) => {
          entry.conn = conn;
          if (this.closed) conn.close();
          conn.onClose(() => {
            if (this.entries.get(key) === entry) this.entries.delete(key);
          });
          return conn;
        },
        (err: unknown) => {
          if (this.entries.get(key) === entry) this.entries.delete(key);
          throw err;
        },
      ),
    };
    this.entries.set(key, entry);
    return entry.promise;
  }

  closeAll(): void {
    this.closed = true;
    for (const e of this.entries.values()) e.conn?.close();
    this.entries.clear();
  }
}
