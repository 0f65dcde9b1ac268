// Summarises a V8 .cpuprofile: self time per function and per package/module group, so the
// JSON result says where the relay's CPU went without opening DevTools.
import { readFileSync } from 'node:fs';

interface CpuNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface ProfileSummary {
  file: string;
  total_ms: number;
  idle_pct: number;
  gc_pct: number;
  by_group: { group: string; pct: number }[];
  top_functions: { fn: string; where: string; pct: number }[];
}

function groupOf(url: string, fn: string): string {
  if (fn === '(garbage collector)') return 'gc';
  if (fn === '(idle)') return 'idle';
  if (fn === '(program)') return 'program (native, unattributed)';
  if (!url) return 'native/builtin';
  const m = /node_modules\/(?:\.pnpm\/)?(@[^/]+\/[^/@]+|[^/@]+)/.exec(url);
  if (m) return `npm:${m[1]}`;
  const pkg = /packages\/([^/]+)\/src\/(.+)$/.exec(url);
  if (pkg) return `relevo/${pkg[1]}/${pkg[2]}`;
  if (url.startsWith('node:')) return url;
  return url.replace(/^file:\/\/.*\/(?=[^/]+\/[^/]+$)/, '');
}

export function summarizeProfile(file: string, top = 25): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: CpuNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
  }
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const groups = new Map<string, number>();
  const fns = new Map<string, number>();
  let idle = 0;
  let gc = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    const { functionName, url, lineNumber } = n.callFrame;
    const g = groupOf(url, functionName);
    if (g === 'idle') idle += us;
    if (g === 'gc') gc += us;
    groups.set(g, (groups.get(g) ?? 0) + us);
    const key = `${functionName || '(anonymous)'}\t${g}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
  }
  const pct = (us: number) => Math.round((us / total) * 1000) / 10;
  return {
    file,
    total_ms: Math.round(total / 1000),
    idle_pct: pct(idle),
    gc_pct: pct(gc),
    by_group: [...groups].sort((a, b) => b[1] - a[1]).slice(0, top).map(([group, us]) => ({ group, pct: pct(us) })),
    top_functions: [...fns].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => {
      const [fn, where] = k.split('\t');
      return { fn: fn!, where: where!, pct: pct(us) };
    }),
  };
}

if (import.meta.main) {
  console.log(JSON.stringify(summarizeProfile(process.argv[2]!, Number(process.argv[3] ?? 30)), null, 2));
}
