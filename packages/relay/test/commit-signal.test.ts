// The linger wake-up's logic, without I/O: commits for a shard wake its waiting run, a
// commit that came before the wait is not missed, and close() ends every wait.
import { describe, expect, it } from 'vitest';
import { parseCommitPayload, shardRange } from '@relevo/db/sql';
import { CommitSignal } from '../src/commit-signal.ts';

const keyIn = (shard: number, shards = 4) => shardRange(shard, shards).from;

describe('CommitSignal', () => {
  it('wakes the waiting run of the committed shard only', async () => {
    const s = new CommitSignal(4);
    const w1 = s.wait(1, s.generation(1), 5_000);
    const w2 = s.wait(2, s.generation(2), 50);
    s.notify([keyIn(1)]);
    expect(await w1).toBe(true);
    expect(await w2).toBe(false);
  });

  it('returns at once for a commit that arrived after the run read the generation', async () => {
    const s = new CommitSignal(4);
    const seen = s.generation(3);
    s.notify([keyIn(3)]);
    expect(await s.wait(3, seen, 5_000)).toBe(true);
  });

  it('ends waits on close, and refuses new ones', async () => {
    const s = new CommitSignal(4);
    const waiting = s.wait(0, s.generation(0), 5_000);
    s.close();
    expect(await waiting).toBe(false);
    expect(await s.wait(0, s.generation(0), 5_000)).toBe(false);
  });

  it('parses only payloads announceCommit sends', () => {
    expect(parseCommitPayload('12,2147483647')).toEqual([12, 2147483647]);
    for (const bad of ['', 'x', '1,,2', '1;drop', '-1']) expect(parseCommitPayload(bad)).toBeNull();
  });
});
