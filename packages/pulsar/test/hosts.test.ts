// Several hosts in one service or admin URL: how they are parsed, and the order they are tried in.
// Against real brokers (the cluster, its first host dead): test/faults/pulsar-cluster.test.ts.
import { describe, expect, it } from 'vitest';
import { HostRing, parseAdminUrls } from '../src/hosts.ts';
import { PulsarError } from '../src/index.ts';
import { parseServiceUrl } from '../src/topic.ts';

const down = (host: string) => new PulsarError('ConnectionError', `${host} refused`);
const unreachable = (e: unknown) => e instanceof PulsarError && e.code === 'ConnectionError';

describe('service URLs with several hosts', () => {
  it('parses each host, with the scheme and default port of the URL', () => {
    expect(parseServiceUrl('pulsar://h1:6652,h2:6653').map((a) => a.url)).toEqual(['pulsar://h1:6652', 'pulsar://h2:6653']);
    expect(parseServiceUrl('pulsar://h1, h2:7000/').map((a) => a.url)).toEqual(['pulsar://h1:6650', 'pulsar://h2:7000']);
    expect(parseServiceUrl('pulsar+ssl://a,b:6652').map((a) => [a.url, a.tls])).toEqual([['pulsar+ssl://a:6651', true], ['pulsar+ssl://b:6652', true]]);
    expect(parseServiceUrl('pulsar://[::1]:6650,127.0.0.1').map((a) => a.url)).toEqual(['pulsar://[::1]:6650', 'pulsar://127.0.0.1:6650']);
  });

  it('refuses an empty host, another scheme or a path between hosts', () => {
    for (const bad of ['pulsar://h1:6650,', 'pulsar://,h2', 'http://h1,h2', 'pulsar://h1:66x0,h2', 'pulsar://h1/x,h2', '']) {
      expect(() => parseServiceUrl(bad), bad).toThrow(PulsarError);
    }
  });
});

describe('admin URLs with several hosts', () => {
  it('gives one base URL per host, sharing the scheme and base path', () => {
    expect(parseAdminUrls('http://127.0.0.1:8082,127.0.0.1:8083')).toEqual(['http://127.0.0.1:8082', 'http://127.0.0.1:8083']);
    expect(parseAdminUrls('https://a:8443, b:8443/pulsar/')).toEqual(['https://a:8443/pulsar', 'https://b:8443/pulsar']);
    expect(parseAdminUrls('http://localhost:8080')).toEqual(['http://localhost:8080']);
  });

  it('refuses what is not a list of hosts', () => {
    for (const bad of ['pulsar://h1:8080', 'http://h1:8080,', 'http://h1:99999', 'http://u:p@h1:8080', 'http://h1:8080?x=1', 'h1:8080']) {
      expect(() => parseAdminUrls(bad), bad).toThrow(PulsarError);
    }
  });
});

describe('hosts tried in turn', () => {
  it('starts with the first host and stays with it while it answers', async () => {
    const ring = new HostRing(['a', 'b', 'c']);
    const asked: string[] = [];
    for (let i = 0; i < 3; i++) await ring.attempt(async (h) => asked.push(h), unreachable);
    expect(asked).toEqual(['a', 'a', 'a']);
  });

  it('moves on at once past hosts that cannot be reached, and starts there next time', async () => {
    const ring = new HostRing(['a', 'b', 'c']);
    const dead = new Set(['a', 'b']);
    const asked: string[] = [];
    const ask = (h: string) => {
      asked.push(h);
      return dead.has(h) ? Promise.reject(down(h)) : Promise.resolve(h);
    };
    expect(await ring.attempt(ask, unreachable)).toBe('c');
    expect(await ring.attempt(ask, unreachable)).toBe('c');
    expect(asked).toEqual(['a', 'b', 'c', 'c']);
    // c is lost: the next call wraps around to a, which is back.
    dead.clear();
    dead.add('c');
    asked.length = 0;
    expect(await ring.attempt(ask, unreachable)).toBe('a');
    expect(asked).toEqual(['c', 'a']);
  });

  it('asks each host once per call and fails with the last error when none answers', async () => {
    const ring = new HostRing(['a', 'b']);
    const asked: string[] = [];
    const err = await ring.attempt((h) => {
      asked.push(h);
      return Promise.reject(down(h));
    }, unreachable).catch((e: unknown) => e);
    expect(asked).toEqual(['a', 'b']);
    expect((err as Error).message).toBe('b refused');
  });

  it('does not try other hosts for an error about the question itself', async () => {
    const ring = new HostRing(['a', 'b']);
    const asked: string[] = [];
    const err = await ring.attempt((h) => {
      asked.push(h);
      return Promise.reject(new PulsarError('AuthorizationError', 'no'));
    }, unreachable).catch((e: unknown) => e);
    expect(asked).toEqual(['a']);
    expect((err as PulsarError).code).toBe('AuthorizationError');
  });

  it('refuses an empty list', () => {
    expect(() => new HostRing([])).toThrow(PulsarError);
  });
});
