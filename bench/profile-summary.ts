/**
 * node dist/bench/profile-summary.js FILE.cpuprofile: where a CPU profile of the service spent
 * its time, by package and by function (self time). Take the profile with BENCH_PROFILE=1 npm run bench.
 */
import fs from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

const file = process.argv[2];
if (!file) {
  console.error('usage: node dist/bench/profile-summary.js FILE.cpuprofile');
  process.exit(2);
}
const profile: { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] } = JSON.parse(fs.readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const selfTime = new Map<string, number>();
let total = 0;
profile.samples.forEach((id, index) => {
  const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
  const key = `${functionName || '(anonymous)'} ${url.replace(/.*node_modules\//, '~/').replace(/.*\/dist\//, 'dist/')}:${lineNumber}`;
  const delta = profile.timeDeltas[index] ?? 0;
  selfTime.set(key, (selfTime.get(key) ?? 0) + delta);
  total += delta;
});
const byPackage = new Map<string, number>();
for (const [key, time] of selfTime) {
  const name =
    /~\/((@[^/]+\/)?[^/:]+)/.exec(key)?.[1] ?? (key.includes('dist/') ? '(this project)' : key.includes('node:') ? '(node core)' : key.split(' ')[0]);
  byPackage.set(name, (byPackage.get(name) ?? 0) + time);
}
const show = (title: string, entries: Map<string, number>, count: number) => {
  console.log(`\n${title}`);
  for (const [name, time] of [...entries].sort((a, b) => b[1] - a[1]).slice(0, count))
    console.log(`${((100 * time) / total).toFixed(1).padStart(6)}%  ${name}`);
};
show('Self time by package', byPackage, 20);
show('Self time by function', selfTime, 30);
