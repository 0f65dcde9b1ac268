// The relay's shard layout, recorded in the database so that every relay drains under the
// same one, whatever its own RELAY_SHARDS says. Changing it is a request: the active layout's
// shards stop claiming, settle what they hold and close, and the last to close activates the
// requested layout (schema.ts: relayLayout). test/faults/reshard.test.ts changes it under load.
import type postgres from 'postgres';
import { query, runQuery, type Query } from './query.ts';

/** Relays listen here: a layout was requested or activated. */
export const LAYOUT_CHANNEL = 'relevo_relay_layout';

export interface LayoutRow {
  generation: number;
  shards: number;
  state: 'pending' | 'active' | 'retired';
  requested_by: string;
}

export interface Layout {
  active: LayoutRow;
  /** A requested layout the active one is closing for. */
  pending?: LayoutRow;
}

export function currentLayouts(): Query<LayoutRow> {
  return query('current-layouts', `select generation, shards, state, requested_by from relay_layout
    where state in ('active', 'pending') order by generation`);
}

/**
 * A shard of the active layout closes for the pending one: only on the session that holds
 * its lock, and only while a layout is pending. The caller has settled the shard first.
 */
export function closeLayoutShard(i: { generation: number; shard: number; lockPid: number }): Query {
  return query('close-layout-shard', `insert into relay_layout_closed (generation, shard)
    select $1, $2 where pg_backend_pid() = $3::int
       and exists (select from relay_layout where generation = $1 and state = 'active')
       and exists (select from relay_layout where state = 'pending')
    on conflict do nothing`, [i.generation, i.shard, i.lockPid]);
}

/**
 * Retires the active layout and activates the pending one once every shard of the active one
 * closed, and announces it. Run by each closer after its close committed: the last one's
 * statement sees every close. Returns the activated generation, if this call activated it.
 */
export function activatePendingLayout(i: { generation: number }): Query<{ generation: number }> {
  return query('activate-pending-layout', `with flip as (
      select a.generation as active, p.generation as pending from relay_layout a, relay_layout p
       where a.generation = $1 and a.state = 'active' and p.state = 'pending'
         and (select count(*) from relay_layout_closed c where c.generation = a.generation) >= a.shards
       for update of a, p
    )
    update relay_layout l
       set state = case when l.generation = f.active then 'retired' else 'active' end,
           retired_at = case when l.generation = f.active then now() end,
           activated_at = case when l.generation = f.pending then now() else l.activated_at end
      from flip f
     where l.generation in (f.active, f.pending)
    returning l.generation, pg_notify('${LAYOUT_CHANNEL}', l.generation::text) is null as notified`, [i.generation]);
}

/** Reads the active layout (and the pending one), or undefined before any relay recorded one. */
export async function readLayout(sql: postgres.Sql): Promise<Layout | undefined> {
  return toLayout(await runQuery(sql, currentLayouts()));
}

function toLayout(rows: readonly LayoutRow[]): Layout | undefined {
  const active = rows.find((r) => r.state === 'active');
  if (!active) return undefined;
  const pending = rows.find((r) => r.state === 'pending');
  return pending ? { active, pending } : { active };
}

/** Serialises requests: two relays starting at once must not both add a pending layout. */
const lockLayouts = () => query('lock-layouts', 'lock table relay_layout in share row exclusive mode');

function recordLayout(i: { generation: number; shards: number; state: 'active' | 'pending'; requestedBy: string }): Query {
  return query('record-layout', `insert into relay_layout (generation, shards, state, requested_by, activated_at)
    values ($1, $2, $3, $4, case when $3 = 'active' then now() end)`, [i.generation, i.shards, i.state, i.requestedBy]);
}

function replacePendingLayout(i: { generation: number; shards: number; requestedBy: string }): Query {
  return query('replace-pending-layout', `update relay_layout set shards = $2, requested_by = $3, requested_at = now()
    where generation = $1 and state = 'pending'`, [i.generation, i.shards, i.requestedBy]);
}

const announceLayout = () => query('announce-layout', `select pg_notify('${LAYOUT_CHANNEL}', 'requested')`);

/** The shards relays drained before any layout was recorded: one sequence row each. */
const shardsInUse = () => query<{ shards: number }>('shards-in-use', 'select count(*)::int as shards from relay_shards');

/**
 * A relay asks for its shard count. The first relay records it as the active layout — unless
 * relays drained shards before layouts were recorded (relay_shards has rows) under another
 * count: that count is recorded as active and the request as pending, so the old shards
 * settle what they hold and close before the new count claims anything. A request equal to
 * the newest layout (pending, else active) changes nothing; another count becomes (or
 * replaces) the pending layout. Returns the layout after the request.
 */
export async function requestLayout(sql: postgres.Sql, shards: number, requestedBy: string): Promise<Layout> {
  return sql.begin(async (tx) => {
    await runQuery(tx, lockLayouts());
    const layout = toLayout(await runQuery(tx, currentLayouts()));
    if (layout && (layout.pending ?? layout.active).shards === shards) return layout;
    if (!layout) {
      const [before] = await runQuery(tx, shardsInUse());
      const earlier = before?.shards ?? 0;
      await runQuery(tx, recordLayout({ generation: 1, shards: earlier > 0 ? earlier : shards, state: 'active', requestedBy }));
      if (earlier > 0 && earlier !== shards) await runQuery(tx, recordLayout({ generation: 2, shards, state: 'pending', requestedBy }));
    } else if (layout.pending) await runQuery(tx, replacePendingLayout({ generation: layout.pending.generation, shards, requestedBy }));
    else await runQuery(tx, recordLayout({ generation: layout.active.generation + 1, shards, state: 'pending', requestedBy }));
    await runQuery(tx, announceLayout());
    return toLayout(await runQuery(tx, currentLayouts()))!;
  }) as Promise<Layout>;
}

/** The shard count operators' views group by: the active layout's, or `fallback` before any relay ran. */
export async function activeShards(sql: postgres.Sql, fallback: number): Promise<number> {
  return (await readLayout(sql))?.active.shards ?? fallback;
}
