// Preloaded into a child process by hand (NODE_OPTIONS="--import ./bench/mem-probe.ts"):
// logs the memory split every 500 ms to stderr, so a high RSS can be attributed
// (V8 heap, external, array buffers, the rest = code, wasm, malloc).
const mib = (n: number) => Math.round(n / 2 ** 20);
setInterval(() => {
  const m = process.memoryUsage();
  process.stderr.write(`MEMPROBE ${JSON.stringify({ rss: mib(m.rss), heapTotal: mib(m.heapTotal), heapUsed: mib(m.heapUsed), external: mib(m.external), arrayBuffers: mib(m.arrayBuffers) })}\n`);
}, 500).unref();
