// Human output: aligned tables, colour only on a terminal, times relative and absolute.
const tty = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: number) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
export const color = { red: paint(31), green: paint(32), yellow: paint(33), dim: paint(2), bold: paint(1) };

export function relative(d: Date | null | undefined, now = Date.now()): string {
  if (!d) return '-';
  const s = Math.round((now - d.getTime()) / 1000);
  const abs = Math.abs(s);
  const text = abs < 60 ? `${abs}s` : abs < 3600 ? `${Math.round(abs / 60)}m` : abs < 86400 ? `${(abs / 3600).toFixed(1)}h` : `${(abs / 86400).toFixed(1)}d`;
  return s >= 0 ? `${text} ago` : `in ${text}`;
}

export function when(d: Date | null | undefined): string {
  return d ? `${d.toISOString()} (${relative(d)})` : '-';
}

const visible = (s: string) => s.replace(/\x1b\[\d+m/g, '').length;

export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: string[]) => cells.map((c, i) => c + ' '.repeat(widths[i]! - visible(c))).join('  ').trimEnd();
  return [color.bold(line(headers)), ...rows.map(line)].join('\n') + '\n';
}

export function stateColor(state: string): string {
  if (state === 'sent') return color.green(state);
  if (state === 'parked') return color.red(state);
  if (state === 'backoff') return color.yellow(state);
  return state;
}

/** JSON that survives bigint ids. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2) + '\n';
}

/** A one-line progress bar with rate and ETA on stderr (only on a terminal). */
export function progress(label: string, total: number) {
  const start = Date.now();
  const show = process.stderr.isTTY === true;
  return {
    update(done: number) {
      if (!show) return;
      const secs = (Date.now() - start) / 1000;
      const rate = done / Math.max(secs, 0.001);
      const pct = total > 0 ? Math.min(1, done / total) : 1;
      const bar = '#'.repeat(Math.round(pct * 30)).padEnd(30, '.');
      const eta = rate > 0 && total > done ? `${Math.ceil((total - done) / rate)}s` : '0s';
      process.stderr.write(`\r${label} [${bar}] ${done}/${total} ${Math.round(rate)}/s ETA ${eta}   `);
    },
    done() {
      if (show) process.stderr.write('\n');
    },
  };
}
