// How commit announcements become drains, without I/O: commits for a shard wake its
// waiting run, or ask for a drain job when no run of it is here; a commit that came before
// the wait or after a run's last claim is not missed; close() ends every wait.
import { describe, expect, it } from 'vitest';
import { parseCommitPayload, shardRange } from '@relevo/db/sql';
import { CommitSignal, coalescedWakes } from '../src/commit-signal.ts';

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

  it('asks for a drain of a committed shard that has no run here, and not of one that has', () => {
    const woken: number[] = [];
    const s = new CommitSignal(4, (shard) => woken.push(shard));
    s.runStarted(1);
    s.notify([keyIn(1), keyIn(2), keyIn(2)]);
    expect(woken).toEqual([2]);
  });

  it('asks for a drain when a commit came after the ended run\'s last claim, not before', () => {
    const woken: number[] = [];
    const s = new CommitSignal(4, (shard) => woken.push(shard));
    s.runStarted(0);
    s.notify([keyIn(0)]);
    const seen = s.generation(0);
    s.runEnded(0, seen);
    expect(woken).toEqual([]);
    s.runStarted(0);
    const seenBefore = s.generation(0);
    s.notify([keyIn(0)]);
    s.runEnded(0, seenBefore);
    expect(woken).toEqual([0]);
    // A run that ended otherwise (budget, error) has its own way back: no drain asked here.
    s.runStarted(0);
    s.notify([keyIn(0)]);
    s.runEnded(0, undefined);
    expect(woken).toEqual([0]);
  });

  it('after lost announcements, wakes waiting runs and asks for drains of every other shard', async () => {
    const woken: number[] = [];
    const s = new CommitSignal(3, (shard) => woken.push(shard));
    s.runStarted(1);
    const waiting = s.wait(1, s.generation(1), 5_000);
    s.notifyAll();
    expect(await waiting).toBe(true);
    expect(woken).toEqual([0, 2]);
  });

  it('asks for no drain once closed', () => {
    const woken: number[] = [];
    const s = new CommitSignal(4, (shard) => woken.push(shard));
    s.close();
    s.notify([keyIn(3)]);
    expect(woken).toEqual([]);
  });

  it('parses only payloads the commit announcer sends', () => {
    expect(parseCommitPayload('12,2147483647')).toEqual([12, 2147483647]);
    for (const bad of ['', 'x', '1,,2', '1;drop', '-1']) expect(parseCommitPayload(bad)).toBeNull();
  });
});

describe('coalescedWakes', () => {
  it('keeps one send per shard in flight and sends once more for wakes asked meanwhile', async () => {
    const sent: number[] = [];
    const inFlight: (() => void)[] = [];
    const wake = coalescedWakes((shard) => {
      sent.push(shard);
      return new Promise<void>((resolve) => inFlight.push(resolve));
    }, () => undefined);
    wake(0);
    wake(0);
    wake(0);
    wake(1);
    expect(sent).toEqual([0, 1]);
    inFlight.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([0, 1, 0]);
    inFlight.shift()!();
    inFlight.shift()!();
    await new Promise((r) => setImmediate(r));
    expect(sent).toEqual([0, 1, 0]);
  });

  it('reports a failed send with its shard', async () => {
    const failures: [number, unknown][] = [];
    const boom = new Error('database down');
    coalescedWakes(() => Promise.reject(boom), (shard, err) => failures.push([shard, err]))(2);
    await new Promise((r) => setImmediate(r));
    expect(failures).toEqual([[2, boom]]);
  });
});
