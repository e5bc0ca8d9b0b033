// `mass-autoscaler simulate`: trace parsing, bad input (exit 2 with a message naming the
// problem), and a good run writing summary.json, steps.csv and chart.svg.
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runSimulate } from '../../src/sim/cli';
import { parseTrace } from '../../src/sim/trace';

const dir = mkdtempSync(join(tmpdir(), 'sim-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
function traceFile(text: string): string {
  const path = join(dir, `trace-${++files}.csv`);
  writeFileSync(path, text);
  return path;
}

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSimulate(
    argv,
    (l) => out.push(l),
    (l) => err.push(l),
  );
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const GOOD = 't,arrivals\n0,5\n60,20\n65,3\n300,0\n';

describe('parseTrace', () => {
  const cases: {
    why: string;
    text: string;
    want: { line: number; problem: RegExp } | { points: number; arrivals: number };
  }[] = [
    {
      why: 'header, rows, CRLF, blank and # lines',
      text: '# comment\r\nt,arrivals\r\n0,1\r\n\r\n10, 2\r\n',
      want: { points: 2, arrivals: 3 },
    },
    { why: 'equal times are allowed', text: 't,arrivals\n5,1\n5,2\n', want: { points: 2, arrivals: 3 } },
    { why: 'missing header', text: '0,1\n', want: { line: 1, problem: /expected the header "t,arrivals"/ } },
    { why: 'empty file', text: '', want: { line: 1, problem: /empty/ } },
    { why: 'header only', text: 't,arrivals\n', want: { line: 2, problem: /no rows/ } },
    { why: 'three fields', text: 't,arrivals\n0,1,2\n', want: { line: 2, problem: /expected 2 fields/ } },
    {
      why: 'time not a number',
      text: 't,arrivals\n0,1\nten,1\n',
      want: { line: 3, problem: /time "ten" is not a number/ },
    },
    { why: 'negative time', text: 't,arrivals\n-5,1\n', want: { line: 2, problem: /time -5 is negative/ } },
    {
      why: 'decreasing time',
      text: 't,arrivals\n0,1\n60,1\n30,1\n',
      want: { line: 4, problem: /time 30 is before the previous time 60/ },
    },
    {
      why: 'fractional arrivals',
      text: 't,arrivals\n0,1.5\n',
      want: { line: 2, problem: /arrivals "1.5" is not a whole number/ },
    },
    {
      why: 'negative arrivals',
      text: 't,arrivals\n0,-1\n',
      want: { line: 2, problem: /arrivals "-1" is not a whole number/ },
    },
  ];
  for (const c of cases) {
    test(c.why, () => {
      const r = parseTrace(c.text);
      if ('points' in c.want) {
        assert.ok(r.ok, JSON.stringify(r));
        assert.equal(r.points.length, c.want.points);
        assert.equal(
          r.points.reduce((n, p) => n + p.arrivals, 0),
          c.want.arrivals,
        );
      } else {
        assert.ok(!r.ok, 'should be rejected');
        assert.equal(r.line, c.want.line);
        assert.match(r.problem, c.want.problem);
      }
    });
  }
});

describe('simulate: bad input → exit 2 and a message naming the problem', () => {
  const cases: { why: string; argv: () => string[]; message: RegExp; usage?: boolean }[] = [
    {
      why: 'missing trace file',
      argv: () => ['--trace', join(dir, 'nope.csv')],
      message: /cannot read the trace file ".*nope\.csv": no such file/,
    },
    { why: 'no --trace at all', argv: () => [], message: /missing --trace FILE/, usage: true },
    {
      why: '--runs 0',
      argv: () => ['--trace', traceFile(GOOD), '--runs', '0'],
      message: /--runs "0" must be at least 1/,
      usage: true,
    },
    {
      why: '--jitter 1 (an analysis could take no time)',
      argv: () => ['--trace', traceFile(GOOD), '--jitter', '1'],
      message: /--jitter "1" must be at most 0\.99/,
      usage: true,
    },
    {
      why: '--notice -5',
      argv: () => ['--trace', traceFile(GOOD), '--notice', '-5'],
      message: /--notice "-5" is not a number of seconds/,
      usage: true,
    },
    {
      why: 'malformed line: the message has its line number',
      argv: () => ['--trace', traceFile('t,arrivals\n0,1\n10,x\n')],
      message: /trace-\d+\.csv line 3: arrivals "x" is not a whole number/,
    },
    {
      why: 'negative time',
      argv: () => ['--trace', traceFile('t,arrivals\n0,1\n-1,1\n')],
      message: /line 3: time -1 is negative/,
    },
    {
      why: 'decreasing time',
      argv: () => ['--trace', traceFile('t,arrivals\n0,1\n60,1\n59,1\n')],
      message: /line 4: time 59 is before the previous time 60/,
    },
    {
      why: 'unknown label, with or without the com.mass. prefix',
      argv: () => ['--trace', traceFile(GOOD), '--labels', 'max_inst=5', '--labels', 'com.mass.max_instances=5'],
      message: /--labels "com\.mass\.max_instances=5": unknown label "com\.mass\.max_instances"/,
    },
    {
      why: 'bad label value: names the label and the value',
      argv: () => ['--trace', traceFile(GOOD), '--labels', 'max_inst=many'],
      message: /com\.mass\.max_inst="many" is not a number/,
    },
    {
      why: 'labels valid alone but not together',
      argv: () => ['--trace', traceFile(GOOD), '--labels', 'min_inst=9,max_inst=4'],
      message: /min_inst must not be greater than max_inst/,
    },
    {
      why: 'a label piece without =',
      argv: () => ['--trace', traceFile(GOOD), '--labels', 'max_inst'],
      message: /"max_inst" is not name=value/,
    },
    {
      why: 'unknown option shows the usage',
      argv: () => ['--trace', traceFile(GOOD), '--speed', '2'],
      message: /unknown option "--speed"/,
      usage: true,
    },
    {
      why: 'bad option value',
      argv: () => ['--trace', traceFile(GOOD), '--service-time', '0'],
      message: /--service-time "0" must be greater than 0/,
      usage: true,
    },
    { why: 'option without its value', argv: () => ['--trace'], message: /--trace needs a value/, usage: true },
  ];
  for (const c of cases) {
    test(c.why, async () => {
      const out = join(dir, `out-bad-${++files}`);
      const r = await run([...c.argv(), '--out', out]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, c.message);
      assert.equal(r.err.includes('usage: mass-autoscaler simulate'), c.usage ?? false);
      assert.equal(existsSync(out), false, 'nothing is written on bad input');
    });
  }
});

describe('simulate: a good run', () => {
  test('prints the comparison and writes summary.json, steps.csv and chart.svg', async () => {
    const out = join(dir, 'good');
    const r = await run([
      '--trace',
      join(__dirname, '../../examples/step.csv'),
      '--labels',
      '',
      '--labels',
      'com.mass.max_inst=30,scale_down_delay=300',
      '--out',
      out,
      '--seed',
      '7',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    assert.match(r.out, /replica-seconds\s+mean wait\s+p95 wait\s+peak replicas\s+scale actions\s+aborted/);
    assert.match(r.out, /^A\s+defaults$/m);
    assert.match(r.out, /^B\s+max_inst=30, scale_down_delay=300$/m);
    for (const line of r.out.split('\n')) assert.ok(line.length <= 100, `fits 100 columns: ${line}`);

    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.model.seed, 7);
    assert.deepEqual(
      summary.labelSets.map((s: { id: string }) => s.id),
      ['A', 'B'],
    );
    assert.equal(summary.labelSets[1].policy.maxInst, 30);
    assert.equal(summary.labelSets[1].policy.scaleDownDelay, 300);
    assert.equal(summary.labelSets[0].policy.maxInst, 15, 'unset labels take the daemon defaults');
    for (const s of summary.labelSets) {
      assert.equal(s.summary.arrived, summary.trace.arrivals);
      assert.equal(s.summary.unfinished, s.summary.stuck, 'what is not done is stuck on removed replicas');
      assert.ok(s.summary.replicaSeconds > 0);
    }

    const csv = readFileSync(join(out, 'steps.csv'), 'utf8').trim().split('\n');
    assert.equal(csv[0], 'label_set,t,demand,smoothed,target,replicas,queue,action');
    const sets = new Set(csv.slice(1).map((l) => l.split(',')[0]));
    assert.deepEqual([...sets], ['A', 'B']);

    const svg = readFileSync(join(out, 'chart.svg'), 'utf8');
    assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\n$/);
    assert.match(svg, /max_inst=30, scale_down_delay=300/, 'the legend names each label set');
    assert.match(svg, /time since the start of the trace \(h:mm\)/);
    assert.match(svg, />replicas</);
  });

  test('--runs N prints mean ± spread and writes every run to summary.json', async () => {
    const out = join(dir, 'runs');
    const r = await run([
      '--trace',
      join(__dirname, '../../examples/burst.csv'),
      '--runs',
      '3',
      '--jitter',
      '0.2',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^3 runs \(seeds 1\.\.3 × scheduler phases over one interval\)/m);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    const runs = summary.labelSets[0].runs;
    assert.deepEqual(
      runs.each.map((e: { seed: number; schedulerPhase: number }) => [e.seed, e.schedulerPhase]),
      [
        [1, 0],
        [2, 10],
        [3, 20],
      ],
    );
    assert.ok(runs.figures.replicaSeconds.mean > 0 && runs.figures.replicaSeconds.sd >= 0);
  });

  test('--notice S: the requests are made S seconds ahead, said in the model line and summary.json', async () => {
    const out = join(dir, 'notice');
    const r = await run([
      '--trace',
      join(__dirname, '../../examples/burst.csv'),
      '--notice',
      '60',
      '--labels',
      'policy=work,size_ahead=off',
      '--labels',
      'policy=work,size_ahead=on',
      '--out',
      out,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out.replace(/\s+/g, ' '), /requests made 60s before they are due/);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.model.notice, 60);
    const [off, on] = summary.labelSets.map((s: { summary: { p95Wait: number } }) => s.summary.p95Wait);
    assert.ok(on < off, `p95 wait ${on}s sized ahead, ${off}s without`);
  });

  test('--help prints the usage and exits 0', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.out, /--dispatch-interval S/);
  });
});
