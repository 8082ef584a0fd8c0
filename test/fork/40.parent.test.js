// The parent is undisturbed by forks (issue 4, items 3 and 5): its HTTP
// server, interval and in-flight threadpool work (pbkdf2, fs) keep working,
// no request is ever answered by a child, and each child's own timers,
// sockets, fs and crypto work while the parent's handles stay out of its way.
import { pbkdf2, pbkdf2Sync } from 'node:crypto';
import { closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { binding, forkBinding } from '../internals.js';
import { forkChild } from '../internals.js';
import { whenReadable } from '../internals.js';
import { fdCount, openFds, zombieChildren } from '../helpers.js';
import { readAll } from './forkhelpers.js';

const self = fileURLToPath(import.meta.url);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function request(port) {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** Forks a child running `fn`; resolves to { report, exitCode } without blocking the loop. */
function forkAsync(fn) {
  const [r, w] = binding.pipe();
  const started = forkChild(async () => {
    closeSync(r);
    const report = await fn();
    forkBinding().forkWriteAll(w, Buffer.from(JSON.stringify(report)));
    return 0;
  });
  closeSync(w);
  return new Promise((resolve) => {
    whenReadable(started.sentinel, () => {
      const status = binding.waitpid(started.pid);
      closeSync(started.sentinel);
      const text = readAll(r);
      closeSync(r);
      resolve({ report: JSON.parse(text), exitCode: status.exitCode });
    });
  });
}

// What each child does with its own resources.
async function childWork() {
  const t0 = Date.now();
  await sleep(50); // its own timer
  const source = await readFile(self, 'utf8'); // its own fs (threadpool)
  const key = await promisify(pbkdf2)('pw', 'salt', 1000, 16, 'sha256'); // its own crypto
  const server = createServer((req, res) => res.end(`child-server ${process.pid}`));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const body = await request(server.address().port); // its own sockets
  await new Promise((resolve) => server.close(resolve));
  await sleep(150);
  return {
    pid: process.pid,
    fsOk: source.includes('The parent is undisturbed'),
    cryptoOk: key.toString('hex') === pbkdf2Sync('pw', 'salt', 1000, 16, 'sha256').toString('hex'),
    socketOk: body === `child-server ${process.pid}`,
    ms: Date.now() - t0,
  };
}

describe('40 fork: the parent is undisturbed', function () {
  this.timeout(120000);

  before(async () => {
    // libuv keeps one fd for life per loop (loop->emfile_fd, /dev/null: its
    // reserve for accept() under EMFILE), opened at the loop's first stream
    // handle. With stdio on files no stream exists before these tests, so
    // the first server below would open it and look like a leak.
    const warm = createServer();
    await new Promise((resolve) => warm.listen(0, '127.0.0.1', resolve));
    await new Promise((resolve) => warm.close(resolve));
  });

  it('HTTP server, interval and in-flight pbkdf2/fs survive 20 forks; children use their own resources', async () => {
    const fdsBefore = fdCount();
    const server = createServer((req, res) => res.end(`parent ${process.pid}`));
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address();
    let ticks = 0;
    const interval = setInterval(() => ticks++, 5);
    // Long threadpool work in flight across every fork.
    const slowKey = promisify(pbkdf2)('secret', 'salt', 600000, 32, 'sha512');
    const slowRead = readFile(self, 'utf8');

    const children = [];
    const answers = [];
    for (let i = 0; i < 20; i++) {
      children.push(forkAsync(childWork));
      // Requests in flight while children are alive: any child that
      // accepted or read the parent's sockets would answer some of them.
      for (let k = 0; k < 3; k++) answers.push(request(port));
      await sleep(10);
    }
    const results = await Promise.all(children);
    const bodies = await Promise.all(answers);
    const ticksAfterForks = ticks;
    await sleep(100);

    expect(bodies).to.have.length(60);
    expect(bodies.every((b) => b === `parent ${process.pid}`)).to.equal(true);
    for (const { report, exitCode } of results) {
      expect(exitCode).to.equal(0);
      expect(report.pid).to.not.equal(process.pid);
      expect(report).to.include({ fsOk: true, cryptoOk: true, socketOk: true });
    }
    expect(ticks).to.be.above(ticksAfterForks); // the interval still runs
    expect((await slowKey).toString('hex')).to.equal(pbkdf2Sync('secret', 'salt', 600000, 32, 'sha512').toString('hex'));
    expect(await slowRead).to.include('The parent is undisturbed');
    expect(await request(port)).to.equal(`parent ${process.pid}`); // still serving

    clearInterval(interval);
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await sleep(50); // client sockets are destroyed a tick after 'end'
    expect(zombieChildren()).to.deep.equal([]);
    expect(fdCount(), JSON.stringify(openFds())).to.equal(fdsBefore);
  });

  it('forking inside request handlers under concurrent load: every child and every response is right', async () => {
    let wrong = 0;
    const server = createServer((req, res) => {
      // Forked from inside an I/O callback, with more connections pending
      // in the same event batch: the child must not touch any of them.
      const started = forkChild(async () => {
        await sleep(2);
        return 7;
      });
      const status = binding.waitpid(started.pid);
      closeSync(started.sentinel);
      if (status.exitCode !== 7) wrong++;
      res.end(`parent ${process.pid}`);
    });
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const bodies = await Promise.all(Array.from({ length: 150 }, () => request(server.address().port)));
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    expect(wrong).to.equal(0);
    expect(bodies.every((b) => b === `parent ${process.pid}`)).to.equal(true);
  });

  it('a child ends when its target completes, however many parent handles are alive', async () => {
    const server = createServer(() => {});
    await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
    const interval = setInterval(() => {}, 1000); // refed: would keep a normal process alive
    const t0 = Date.now();
    const { exitCode, report } = await forkAsync(async () => 'done');
    expect(exitCode).to.equal(0);
    expect(report).to.equal('done');
    expect(Date.now() - t0).to.be.below(900);
    clearInterval(interval);
    await new Promise((resolve) => server.close(resolve));
  });
});
