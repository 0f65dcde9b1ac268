// Human output: aligned tables, colour only on a terminal, times relative and absolute, and
// stored text made inert before it reaches the terminal.
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

/**
 * Characters that act on a terminal or reorder what it shows: C0 and C1 controls (ESC and
 * CSI start escape sequences), DEL, and the bidirectional overrides and isolates.
 */
const INERT = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const escaped = (ch: string) => {
  const code = ch.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

/**
 * Stored text (an error, a skip reason, a payload) as it may be printed: each such
 * character is shown as its escape (`\x1b`), so a reason holding `\x1b]0;…` or a clear-screen
 * sequence prints as text instead of acting on the operator's terminal. test/cli-outbox.test.ts.
 */
export function printable(text: string): string {
  return text.replace(INERT, escaped);
}

/**
 * JSON that survives bigint ids, indented (0: one line, for NDJSON). JSON.stringify escapes C0 controls but not C1 ones or
 * the bidirectional marks: those are written as \u escapes too, which parse back the same.
 */
export function toJson(value: unknown, indent = 2): string {
  const json = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), indent) + '\n';
  return json.replace(INERT, (ch) => (ch === '\n' ? ch : `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`));
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
