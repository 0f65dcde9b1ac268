// The methods a path has routes for: a known path asked with another method is answered
// 405 with `Allow` (RFC 9110 §15.5.6), not 404, so a client sees it used the wrong verb.
import type { RouterRoute } from 'hono/types';

const patterns = new Map<string, RegExp>();

/** `/v1/partners/:id` → a pattern matching one segment per parameter. */
function patternOf(route: string): RegExp {
  let pattern = patterns.get(route);
  if (!pattern) {
    const segments = route.split('/').map((s) => (s.startsWith(':') ? '[^/]+' : s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    pattern = new RegExp(`^${segments.join('/')}/?$`);
    patterns.set(route, pattern);
  }
  return pattern;
}

export function allowedMethods(routes: readonly RouterRoute[], path: string): string[] {
  const methods = new Set<string>();
  for (const r of routes) if (r.method !== 'ALL' && patternOf(r.path).test(path)) methods.add(r.method);
  // Hono answers HEAD with the GET route.
  if (methods.has('GET')) methods.add('HEAD');
  return [...methods].sort();
}
