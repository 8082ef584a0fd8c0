// The 'spawn' child's lean bootstrap (child/spawn-main.cjs): a plain target
// without Connections runs without loading the package, yet becomes the
// right currentProcess()/parentProcess() once it asks; and the payload's
// JSON encoding (child/wire.cts) carries args exactly as structured clone
// does, falling back to V8's encoding whenever JSON would change a value.
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Process } from '../dist/index.js';

const REPORT = { module: new URL('./fixtures/spawn-boot-targets.js', import.meta.url), export: 'reportSelfToFile' };

describe('35 Process, spawn bootstrap', function () {
  this.timeout(60000);

  let tmp;
  let n = 0;
  before(function () {
    tmp = mkdtempSync(join(tmpdir(), 'pp-35-'));
  });
  after(function () {
    rmSync(tmp, { recursive: true, force: true });
  });

  /** Runs a Process (first arg: a fresh file path), returns [{ name, pid }, exitCode, parsed file]. */
  async function run({ authkey, ...options }) {
    const file = join(tmp, `out-${++n}.json`);
    const p = new Process({ startMethod: 'spawn', ...options, args: [file, ...(options.args ?? [])] });
    if (authkey !== undefined) p.authkey = authkey;
    p.start();
    await p.join();
    const code = p.exitCode;
    const self = { name: p.name, pid: p.pid };
    p.close();
    return [self, code, code === 0 ? JSON.parse(readFileSync(file, 'utf8')) : null];
  }

  function expectIdentity(p, seen, { daemon, authkey }) {
    expect(seen.name).to.equal(p.name);
    expect(seen.pid).to.equal(p.pid);
    expect(seen.daemon).to.equal(daemon);
    expect(seen.authkey).to.equal(authkey.toString('hex'));
    expect(seen.parent).to.deep.equal({ pid: process.pid, name: 'MainProcess', alive: true });
    // A child's own children are named after its identity: Process-<id>:1.
    expect(seen.childName).to.equal(`${p.name}:1`);
    expect(seen.same).to.equal(true);
  }

  it('a plain source target that imports the package gets its own currentProcess() and parentProcess()', async function () {
    const authkey = Buffer.alloc(32, 0xab);
    const [p, code, seen] = await run({
      // A source target: the fixture's report, plus whether the record
      // waited in its global slot until the package's first currentProcess().
      target: async (file, fixture) => {
        const slot = Symbol.for('posix-process.spawnRecord');
        const before = Object.getOwnPropertySymbols(globalThis).includes(slot);
        const { reportSelfToFile } = await import(fixture);
        reportSelfToFile(file, () => ({ slot: [before, Object.getOwnPropertySymbols(globalThis).includes(slot)] }));
      },
      args: [REPORT.module.href],
      authkey,
    });
    expect(code).to.equal(0);
    expectIdentity(p, seen, { daemon: false, authkey });
    // The record waited in the global slot and was taken by the first currentProcess().
    expect(seen.slot).to.deep.equal([true, false]);
  });

  it('a module target without Connections (a daemon, its own authkey) gets its own currentProcess()', async function () {
    const authkey = Buffer.alloc(32, 0x5c);
    const [p, code, seen] = await run({ target: REPORT, daemon: true, authkey });
    expect(code).to.equal(0);
    expectIdentity(p, seen, { daemon: true, authkey });
  });

  describe('args through the payload', function () {
    // [label, value, check run in the child on the received value, JSON expected]
    const shared = { s: 1 };
    const cases = [
      ['JSON-exact values', { a: [1, 'x', null, true, { b: 2.5, '2': [] }], 'é\u2028': '\ud800' }, 'v.a[4].b === 2.5 && v.a[4]["2"].length === 0 && v["é\\u2028"] === "\\ud800" && Object.keys(v.a[4]).join() === "2,b"', true],
      ['a null-prototype object (an ordinary object either way)', Object.assign(Object.create(null), { a: 1 }), 'Object.getPrototypeOf(v) === Object.prototype && v.a === 1', true],
      ['-0', -0, 'Object.is(v, -0)', false],
      ['-0 inside an object', { x: -0 }, 'Object.is(v.x, -0)', false],
      ['NaN and Infinity', [NaN, Infinity], 'Number.isNaN(v[0]) && v[1] === Infinity', false],
      ['undefined in an array', [1, undefined], 'v.length === 2 && 1 in v && v[1] === undefined', false],
      ['undefined as a property', { u: undefined }, '"u" in v && v.u === undefined', false],
      ['a sparse array', [1, , 3], 'v.length === 3 && !(1 in v) && v[2] === 3', false],
      ['an array with an extra property', Object.assign([1], { foo: 'bar' }), 'v.length === 1 && v.foo === "bar"', false],
      ['a shared reference', [shared, shared], 'v[0] === v[1] && v[0].s === 1', false],
      ['a Date', new Date(5), 'v instanceof Date && +v === 5', false],
      ['a bigint', 1n, 'v === 1n', false],
      ['a large array (over the JSON budget)', Array.from({ length: 5000 }, (_, i) => i), 'v.length === 5000 && v[4999] === 4999', false],
    ];
    const target = (file, v, check) => {
      const ok = (0, eval)(`(v) => ${check}`)(v);
      const v8 = process.moduleLoadList.includes('NativeModule v8');
      process.getBuiltinModule('node:fs').writeFileSync(file, JSON.stringify({ ok, v8 }));
    };
    for (const [label, value, check, json] of cases) {
      it(`${label}: arrives as structured clone makes it (${json ? 'JSON, node:v8 not loaded' : 'V8 encoding'})`, async function () {
        const [, code, seen] = await run({ target, args: [value, check] });
        expect(code).to.equal(0);
        expect(seen).to.deep.equal({ ok: true, v8: !json });
      });
    }

    it('an accessor is read once, at start(), as structured clone reads it', async function () {
      let reads = 0;
      const value = {
        get g() {
          reads += 1;
          return 7;
        },
      };
      const [, code, seen] = await run({ target, args: [[value], 'v[0].g === 7 && Object.getOwnPropertyDescriptor(v[0], "g").value === 7'] });
      expect(code).to.equal(0);
      expect(seen.ok).to.equal(true);
      expect(reads).to.equal(1);
    });
  });
});
