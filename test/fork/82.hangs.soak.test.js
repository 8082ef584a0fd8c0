// The fork soak: 1000 fork children from a parent under load, with every
// kind of handle busy at once (an HTTP server hammered by a load generator
// in another process, UDP, pipes to and from child processes, fs.watch, a
// Unix socket) and its heap churning, forked from everywhere (after an
// await, inside each handle's callback, in a microtask queued there). The
// children mix trivial targets, explicit and natural full GCs, JIT and
// wasm work, and HTTP requests of their own to the parent. No child may
// hang or exit non-zero, and the parent must answer every request it
// receives. (docs/design.md, "Fork children that never hang".)
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync, rmSync, watch } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import { zombieChildren } from '../helpers.js';
import { childCallbackSpy, expectAllClean, forkSequence, startInside } from './hanghelpers.js';

const COUNT = 1000;
const loadGenerator = fileURLToPath(new URL('../fixtures/http-load.js', import.meta.url));

v8.setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
v8.setFlagsFromString('--no-expose-gc');

function churn(objects) {
  const out = [];
  for (let k = 0; k < objects; k++) out.push({ k, s: `x${k}`, a: [k] });
  return out;
}

// wasm: (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
const ADD_WASM = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 7, 1, 96, 2, 127, 127, 1, 127, 3, 2, 1, 0, 7, 7, 1, 3, 97, 100, 100, 0, 0, 10, 9, 1, 7,
  0, 32, 0, 32, 1, 106, 11,
]);

function hot(n) {
  let acc = 0;
  for (let i = 0; i < n; i++) acc = (acc + ((i * 2654435761) % 1000003)) % 1000000007;
  return acc;
}
const HOT = hot(300000);

// The children: each returns normally or exits with a code saying what
// went wrong (1 stands for an exception, as in any Node process).
const WRONG_RESULT = 3;
const kinds = [
  function trivial() {},
  function explicitGc() {
    let garbage = churn(20000);
    garbage = null;
    gc();
    return garbage;
  },
  function naturalGc() {
    v8.setFlagsFromString('--stress-incremental-marking');
    const profiler = new v8.GCProfiler();
    profiler.start();
    const kept = [];
    let majors = 0;
    for (let round = 1; majors === 0 && round <= 4000; round++) {
      kept.push(churn(1000));
      if (round % 20 === 0) {
        majors += profiler.stop().statistics.filter((gcEvent) => gcEvent.gcType === 'MarkSweepCompact').length;
        profiler.start();
      }
    }
    profiler.stop();
    if (majors === 0) process.exit(WRONG_RESULT);
  },
  function jit() {
    if (hot(300000) !== HOT) process.exit(WRONG_RESULT);
  },
  function wasm() {
    const { add } = new WebAssembly.Instance(new WebAssembly.Module(ADD_WASM)).exports;
    let n = 0;
    for (let i = 0; i < 100000; i++) n = add(n, 1);
    if (n !== 100000) process.exit(WRONG_RESULT);
  },
];

describe('82 fork soak: 1000 children from a parent with everything in flight', function () {
  this.timeout(600000);
  after(() => {
    expect(zombieChildren()).to.deep.equal([]);
  });

  it('no hang, no non-zero exit, every request answered', async () => {
    const spy = childCallbackSpy();
    const errors = [];
    const onError = (label) => spy.wrap(label, (error) => errors.push(`${label}: ${error.code}`));
    let stopping = false;

    // HTTP: the load generator's requests and the children's own.
    let received = 0;
    let answered = 0;
    const server = http.createServer(
      spy.wrap('request', (request, response) => {
        received++;
        response.on('finish', () => answered++);
        response.end('ok');
      }),
    );
    server.on('clientError', onError('clientError'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = server.address().port;
    const load = spawn(process.execPath, [loadGenerator, String(port), '4'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let loadReport = '';
    load.stdout.on('data', (data) => {
      loadReport += data;
    });
    await once(server, 'request');
    // A child's own request to the parent, on a connection of its own.
    const childRequest = () =>
      new Promise((resolve) => {
        http
          .get({ host: '127.0.0.1', port, path: '/child', agent: false }, (response) => {
            response.resume();
            response.on('end', () => resolve(response.statusCode === 200 ? undefined : process.exit(WRONG_RESULT)));
          })
          .on('error', () => process.exit(WRONG_RESULT));
      });

    // UDP.
    const receiver = dgram.createSocket('udp4');
    receiver.on('error', onError('udp receiver'));
    receiver.on('message', spy.wrap('udp message', () => {}));
    receiver.bind(0, '127.0.0.1');
    await once(receiver, 'listening');
    const sender = dgram.createSocket('udp4');
    sender.on('error', onError('udp sender'));
    const datagram = Buffer.alloc(512, 'u');
    const blast = () => {
      if (!stopping) sender.send(datagram, receiver.address().port, '127.0.0.1', () => setImmediate(blast));
    };
    blast();
    blast();

    // Pipes: yes streaming in; cat echoing what backs up in its stdin.
    const yes = spawn('yes', [], { stdio: ['ignore', 'pipe', 'ignore'] });
    yes.stdout.on('data', spy.wrap('yes data', () => {}));
    const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    const megabyte = Buffer.alloc(1 << 20, 'c');
    const feed = () => {
      while (!stopping && cat.stdin.write(megabyte));
    };
    cat.stdin.on('drain', spy.wrap('cat drain', feed));
    cat.stdin.on('error', (error) => stopping || errors.push(`cat stdin: ${error.code}`));
    cat.stdout.on('data', spy.wrap('cat data', () => {}));
    feed();

    // fs.watch.
    const dir = mkdtempSync(join(tmpdir(), 'pp-soak-'));
    const watcher = watch(dir);
    watcher.on('change', spy.wrap('change', () => {}));
    watcher.on('error', onError('watch'));
    const writer = spawn('sh', ['-c', 'while :; do echo x > "$0/a"; mv "$0/a" "$0/b"; done', dir], { stdio: 'ignore' });

    // A Unix socket echoing 64 KiB chunks.
    const unixServer = net.createServer((connection) => {
      connection.on('error', (error) => stopping || errors.push(`unix server: ${error.code}`));
      connection.pipe(connection);
    });
    unixServer.listen(join(dir, 'echo.sock'));
    await once(unixServer, 'listening');
    const unixClient = net.connect(join(dir, 'echo.sock'));
    unixClient.on('error', (error) => stopping || errors.push(`unix client: ${error.code}`));
    await once(unixClient, 'connect');
    const chunk = Buffer.alloc(65536, 's');
    const pump = () => {
      while (!stopping && unixClient.write(chunk));
    };
    unixClient.on('drain', spy.wrap('unix drain', pump));
    unixClient.on('data', spy.wrap('unix data', () => {}));
    pump();

    // Where each child is started from.
    const startPoints = [
      null,
      [server, 'request'],
      [yes.stdout, 'data'],
      [receiver, 'message'],
      [unixClient, 'data'],
      [watcher, 'change'],
      [cat.stdout, 'data'],
    ];
    let kept = [];
    const kindCounts = {};
    const stats = await forkSequence(COUNT, {
      name: 'soak',
      target: (i) => {
        const kind = kinds[i % kinds.length];
        return i % 7 === 3 ? childRequest() : kind();
      },
      start: (p, i) => {
        const name = i % 7 === 3 ? 'request' : kinds[i % kinds.length].name;
        kindCounts[name] = (kindCounts[name] ?? 0) + 1;
        // The parent's heap keeps changing between forks.
        kept.push(churn(2000));
        if (kept.length > 100) kept = kept.slice(50);
        const point = startPoints[i % startPoints.length];
        if (point === null) return p.start();
        return startInside(point[0], point[1], p, { microtask: i % 2 === 1 });
      },
    });

    stopping = true;
    load.stdin.end();
    await once(load, 'close');
    yes.kill();
    writer.kill();
    cat.stdin.destroy();
    cat.kill();
    unixClient.destroy();
    sender.close();
    receiver.close();
    watcher.close();
    await Promise.all([once(yes, 'close'), once(writer, 'close'), once(cat, 'close')]);
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => unixServer.close(resolve));
    rmSync(dir, { recursive: true, force: true });

    const generated = JSON.parse(loadReport);
    if (process.env.FORK_HANG_REPORT) console.log(`      soak: kinds ${JSON.stringify(kindCounts)}, load ${JSON.stringify(generated)}, parent received ${received}, answered ${answered}`);
    expectAllClean(stats, COUNT);
    expect(errors).to.deep.equal([]);
    expect(generated.errors).to.deep.equal([]);
    expect(generated.failed).to.equal(0);
    expect(generated.ok).to.equal(generated.sent);
    expect(generated.ok).to.be.above(COUNT);
    // Every request that reached the parent was answered: the generator's
    // and the children's own.
    expect(answered).to.equal(received);
    expect(received).to.equal(generated.ok + kindCounts.request);
    expect(spy.ranInChildren()).to.deep.equal([]);
  });
});
