// The fork start method through Process: closures, subclasses, arguments
// that could never be cloned, exit codes, names and parents, recursion, and
// Pipes across the fork.
import { expect } from 'chai';
import { Pipe, Process, currentProcess, parentProcess } from '../../dist/index.js';
import { fdCount, zombieChildren } from '../helpers.js';

const fork = (options) => new Process({ startMethod: 'fork', ...options });

async function run(options) {
  const p = fork(options);
  p.start();
  await p.join(10);
  return p;
}

describe('50 Process with startMethod fork', function () {
  this.timeout(60000);

  it('runs a closure over the parent\'s live state and reports through a Pipe', async () => {
    const [r, w] = Pipe(false);
    const secret = { n: 41, when: new Date(0) };
    const p = await run({ target: (x) => w.send({ n: secret.n + x, when: secret.when.toISOString() }), args: [1] });
    expect(p.exitCode).to.equal(0);
    expect(await r.recv()).to.deep.equal({ n: 42, when: '1970-01-01T00:00:00.000Z' });
    r.close();
    w.close();
  });

  it('takes arguments no structured clone could carry: functions, class instances, symbols', async () => {
    const [r, w] = Pipe(false);
    class Counter {
      #n = 10;
      inc() {
        return ++this.#n;
      }
    }
    const sym = Symbol('tag');
    const p = await run({
      target: (fn, counter, s, { kw }) => w.send([fn(2), counter.inc(), s.description, kw()]),
      args: [(x) => x * 21, new Counter(), sym],
      kwargs: { kw: () => 'kw-fn' },
    });
    expect(p.exitCode).to.equal(0);
    expect(await r.recv()).to.deep.equal([42, 11, 'tag', 'kw-fn']);
    r.close();
    w.close();
  });

  it('runs a subclass run() with its own fields', async () => {
    const [r, w] = Pipe(false);
    class Worker extends Process {
      constructor(value) {
        super({ startMethod: 'fork' });
        this.value = value;
      }

      run() {
        w.send(`${this.constructor.name} ${this.value} ${currentProcess().name}`);
      }
    }
    const p = new Worker('payload');
    p.start();
    await p.join(10);
    expect(p.exitCode).to.equal(0);
    expect(await r.recv()).to.equal(`Worker payload ${p.name}`);
    r.close();
    w.close();
  });

  it('gives the child its name, daemon flag and parent', async () => {
    const [r, w] = Pipe(false);
    const p = await run({
      name: 'forked-one',
      target: () => {
        const parent = parentProcess();
        w.send({ name: currentProcess().name, parentPid: parent.pid, parentName: parent.name, alive: parent.isAlive() });
      },
    });
    expect(p.exitCode).to.equal(0);
    expect(await r.recv()).to.deep.equal({ name: 'forked-one', parentPid: process.pid, parentName: currentProcess().name, alive: true });
    r.close();
    w.close();
  });

  it('exit codes: return, process.exit(n), process.exitCode, throw, rejection, signal', async () => {
    expect((await run({ target: () => 'ignored' })).exitCode).to.equal(0);
    expect((await run({ target: () => process.exit(7) })).exitCode).to.equal(7);
    expect((await run({ target: () => process.exit(256 + 9) })).exitCode).to.equal(9);
    expect((await run({ target: () => { process.exitCode = 5; } })).exitCode).to.equal(5);
    expect((await run({ target: () => { throw new Error('target failed'); } })).exitCode).to.equal(1);
    expect((await run({ target: async () => { throw new Error('async target failed'); } })).exitCode).to.equal(1);
    const p = fork({ target: () => new Promise(() => setTimeout(() => {}, 60000)) });
    p.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    p.terminate();
    await p.join(10);
    expect(p.exitCode).to.equal(-15);
  });

  it('an async target: the child ends when its promise settles', async () => {
    const [r, w] = Pipe(false);
    const p = await run({
      target: async () => {
        await new Promise((resolve) => setTimeout(resolve, 50));
        w.send('after await');
      },
    });
    expect(p.exitCode).to.equal(0);
    expect(await r.recv()).to.equal('after await');
    r.close();
    w.close();
  });

  it('recursion: children fork children three levels deep', async () => {
    const [r, w] = Pipe(false);
    const level = async (depth) => {
      if (depth === 3) {
        w.send(currentProcess().name);
        return;
      }
      const child = fork({ target: level, args: [depth + 1] });
      child.start();
      await child.join();
      if (child.exitCode !== 0) process.exit(10 + depth);
    };
    const p = await run({ target: level, args: [0] });
    expect(p.exitCode).to.equal(0);
    expect(await r.recv()).to.match(/^Process-\d+:1:1:1$/);
    r.close();
    w.close();
  });

  it('Pipes both ways across the fork: the child echoes until the parent closes', async () => {
    const [parentEnd, childEnd] = Pipe();
    const p = fork({
      target: async () => {
        parentEnd.close();
        for (;;) {
          let msg;
          try {
            msg = await childEnd.recv();
          } catch {
            return; // EOF: the parent closed its end
          }
          childEnd.send({ echo: msg });
        }
      },
    });
    p.start();
    childEnd.close();
    for (let i = 0; i < 20; i++) {
      parentEnd.send(i);
      expect(await parentEnd.recv()).to.deep.equal({ echo: i });
    }
    parentEnd.close();
    await p.join(10);
    expect(p.exitCode).to.equal(0);
  });

  it('leaves no fd and no zombie behind after 50 fork children', async () => {
    const before = fdCount();
    for (let i = 0; i < 50; i++) {
      const p = await run({ target: () => {} });
      expect(p.exitCode).to.equal(0);
      p.close();
    }
    expect(zombieChildren()).to.deep.equal([]);
    expect(fdCount()).to.equal(before);
  });
});
