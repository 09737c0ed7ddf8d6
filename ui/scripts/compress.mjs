// After `vite build`: writes a gzip copy of every text file in dist/ (the gateway sends it to
// clients that accept gzip) and enforces the budget: the JS that index.html loads at start
// must stay at or under 60 KB gzipped.
import { readFileSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';

const dist = new URL('../dist/', import.meta.url).pathname;
const BUDGET = 60 * 1024;

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const sizes = new Map();
for (const file of walk(dist)) {
  if (!/\.(js|css|html|svg|json)$/.test(file)) continue;
  const gz = gzipSync(readFileSync(file), { level: 9 });
  writeFileSync(`${file}.gz`, gz);
  sizes.set(relative(dist, file), gz.length);
}

// Initial JS: the entry script and the chunks it preloads (modulepreload links).
const html = readFileSync(join(dist, 'index.html'), 'utf8');
const initial = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+\.js)"/g)].map((m) => m[1]);
const total = initial.reduce((sum, f) => sum + (sizes.get(f) ?? 0), 0);
console.error(`initial JS: ${initial.join(', ')} = ${(total / 1024).toFixed(1)} KB gzip (budget 60 KB)`);
if (initial.length === 0) {
  console.error('error: found no script in dist/index.html');
  process.exit(1);
}
if (total > BUDGET) {
  console.error('error: the initial JS is over budget; lazy-load what the first page does not need');
  process.exit(1);
}
