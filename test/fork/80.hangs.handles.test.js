// Fork children never hang, whatever I/O the parent has in flight: every
// kind of libuv handle busy with data (TCP server and client sockets, UDP,
// pipes to and from a child process, fs.watch, a Unix socket), and forks
// started from three places: after an await (the join before resumes from
// an I/O callback, so libuv is midway through the parent's event batch),
// synchronously inside a handle's callback (libuv is midway through a read
// loop), and from a microtask queued there (it runs as that callback
// returns). 200 children per scenario, each joined on a deadline; the
// parent's handles go on working throughout, and none of their callbacks
// ever runs in a child. (docs/design.md, "Fork children that never hang".)
import { spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, rmSync, watch } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { expect } from 'chai';
import { zombieChildren } from '../helpers.js';
import { childCallbackSpy, expectAllClean, forkSequence, startInside } from './hanghelpers.js';

const COUNT = 200;
const stdinFixture = fileURLToPath(new URL('../fixtures/fork-stdin-reading.js', import.meta.url));

// Child i starts after an await (i % 3 == 0), inside `event` of `emitter`
// (1), or in a microtask queued there (2).
function mixedStart(emitter, event, when) {
  return (p, i) => {
    if (i % 3 === 0) p.start();
    else return startInside(emitter, event, p, { when, microtask: i % 3 === 2 });
  };
}

describe('80 fork children never hang: the parent\'s handles with data in flight', function () {
  this.timeout(240000);
  after(() => {
    expect(zombieChildren()).to.deep.equal([]);
  });

  it('HTTP keep-alive: a server and its in-process clients busy on TCP sockets', async () => {
    const spy = childCallbackSpy();
    let served = 0;
    const server = http.createServer(
      spy.wrap('request', (request, response) => {
        served++;
        response.end('x');
      }),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
    let stop = false;
    let answered = 0;
    const failures = [];
    const client = async () => {
      while (!stop) {
        await new Promise((resolve) => {
          http
            .get(
              { host: '127.0.0.1', port: server.address().port, agent },
              spy.wrap('response', (response) => {
                response.resume();
                response.on('end', () => {
                  answered++;
                  resolve();
                });
              }),
            )
            .on(
              'error',
              spy.wrap('client error', (error) => {
                failures.push(error.code);
                resolve();
              }),
            );
        });
      }
    };
    const clients = [client(), client(), client(), client()];
    await once(server, 'request');
    const stats = await forkSequence(COUNT, { name: 'http keep-alive', start: mixedStart(server, 'request') });
    const answeredAtEnd = answered;
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    await Promise.all(clients);
    agent.destroy();
    server.close();
    expectAllClean(stats, COUNT);
    expect(failures).to.deep.equal([]);
    expect(answered, 'the clients were still answered after the forks').to.be.above(answeredAtEnd);
    expect(served).to.equal(answered);
    expect(spy.ranInChildren()).to.deep.equal([]);
  });

  it('UDP: a socket receiving a stream of datagrams', async () => {
    const spy = childCallbackSpy();
    const receiver = dgram.createSocket('udp4');
    const errors = [];
    receiver.on('error', spy.wrap('receiver error', (error) => errors.push(error.code)));
    let received = 0;
    receiver.on('message', spy.wrap('message', () => received++));
    receiver.bind(0, '127.0.0.1');
    await once(receiver, 'listening');
    const sender = dgram.createSocket('udp4');
    sender.on('error', spy.wrap('sender error', (error) => errors.push(error.code)));
    let stop = false;
    const payload = Buffer.alloc(512, 'u');
    const blast = () => {
      if (!stop) sender.send(payload, receiver.address().port, '127.0.0.1', spy.wrap('sent', () => setImmediate(blast)));
    };
    for (let k = 0; k < 4; k++) blast();
    await once(receiver, 'message');
    const stats = await forkSequence(COUNT, { name: 'udp', start: mixedStart(receiver, 'message') });
    const receivedAtEnd = received;
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    sender.close();
    receiver.close();
    expectAllClean(stats, COUNT);
    expect(errors).to.deep.equal([]);
    expect(received, 'datagrams still arrived after the forks').to.be.above(receivedAtEnd);
    expect(spy.ranInChildren()).to.deep.equal([]);
  });

  it("pipes: a child process's stdout streaming in, and another's stdin backed up with queued writes", async () => {
    const spy = childCallbackSpy();
    const yes = spawn('yes', [], { stdio: ['ignore', 'pipe', 'ignore'] });
    let yesBytes = 0;
    yes.stdout.on(
      'data',
      spy.wrap('yes data', (data) => {
        yesBytes += data.length;
      }),
    );
    const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunk = Buffer.alloc(1 << 20, 'c');
    let fed = 0;
    let echoed = 0;
    let stop = false;
    const feed = () => {
      // Until the pipe refuses: the rest stays queued in libuv and Node.
      while (!stop) {
        fed += chunk.length;
        if (!cat.stdin.write(chunk)) break;
      }
    };
    cat.stdin.on('drain', spy.wrap('drain', feed));
    cat.stdout.on(
      'data',
      spy.wrap('cat data', (data) => {
        echoed += data.length;
      }),
    );
    feed();
    await once(yes.stdout, 'data');
    // Inside a read that filled libuv's whole 64 KiB buffer, libuv would
    // read again as soon as the callback returns.
    let seen = 0;
    const full = (data) => data.length === 65536 || ++seen % 64 === 0;
    const stats = await forkSequence(COUNT, {
      name: 'pipes',
      start: (p, i) => (i % 2 === 0 ? mixedStart(yes.stdout, 'data', full)(p, i) : mixedStart(cat.stdout, 'data')(p, i)),
    });
    const atEnd = { yesBytes, echoed };
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    yes.kill();
    cat.stdin.destroy();
    cat.kill();
    await Promise.all([once(yes, 'close'), once(cat, 'close')]);
    expectAllClean(stats, COUNT);
    expect(yesBytes, 'yes still streamed after the forks').to.be.above(atEnd.yesBytes);
    expect(echoed, 'cat still echoed after the forks').to.be.above(atEnd.echoed);
    expect(fed).to.be.at.least(echoed);
    expect(spy.ranInChildren()).to.deep.equal([]);
  });

  it('fs.watch: a directory whose files keep changing, watched twice', async () => {
    // Two watchers of one directory share libuv's watcher list: a fork from
    // the first one's callback leaves libuv iterating that list.
    const spy = childCallbackSpy();
    const dir = mkdtempSync(join(tmpdir(), 'pp-watch-'));
    const watcher = watch(dir);
    const second = watch(dir);
    let changes = 0;
    watcher.on('change', spy.wrap('change', () => changes++));
    second.on('change', spy.wrap('second change', () => {}));
    const errors = [];
    watcher.on('error', spy.wrap('watch error', (error) => errors.push(error.code)));
    second.on('error', spy.wrap('watch error', (error) => errors.push(error.code)));
    const writer = spawn('sh', ['-c', 'while :; do echo x > "$0/a"; mv "$0/a" "$0/b"; done', dir], { stdio: 'ignore' });
    await once(watcher, 'change');
    const stats = await forkSequence(COUNT, { name: 'fs.watch', start: mixedStart(watcher, 'change') });
    const atEnd = changes;
    await new Promise((resolve) => setTimeout(resolve, 100));
    writer.kill();
    await once(writer, 'close');
    watcher.close();
    second.close();
    rmSync(dir, { recursive: true, force: true });
    expectAllClean(stats, COUNT);
    expect(errors).to.deep.equal([]);
    expect(changes, 'changes were still reported after the forks').to.be.above(atEnd);
    expect(spy.ranInChildren()).to.deep.equal([]);
  });

  it('a Unix socket: a server and a client echoing 64 KiB chunks both ways', async () => {
    const spy = childCallbackSpy();
    const dir = mkdtempSync(join(tmpdir(), 'pp-unix-'));
    const path = join(dir, 'echo.sock');
    const errors = [];
    let serverSide = null;
    let stop = false;
    // Errors while streaming; tearing down mid-stream may end in EPIPE.
    const onError = spy.wrap('socket error', (error) => stop || errors.push(error.code));
    const server = net.createServer((connection) => {
      serverSide = connection;
      connection.on('data', spy.wrap('server data', () => {}));
      connection.on('error', onError);
      connection.pipe(connection);
    });
    server.listen(path);
    await once(server, 'listening');
    const client = net.connect(path);
    client.on('error', onError);
    await once(client, 'connect');
    let sent = 0;
    let back = 0;
    const chunk = Buffer.alloc(65536, 's');
    const pump = () => {
      while (!stop) {
        sent += chunk.length;
        if (!client.write(chunk)) break;
      }
    };
    client.on('drain', spy.wrap('client drain', pump));
    client.on(
      'data',
      spy.wrap('client data', (data) => {
        back += data.length;
      }),
    );
    pump();
    await once(client, 'data');
    const stats = await forkSequence(COUNT, {
      name: 'unix socket',
      start: (p, i) => (i % 2 === 0 ? mixedStart(client, 'data')(p, i) : mixedStart(serverSide, 'data')(p, i)),
    });
    const atEnd = back;
    await new Promise((resolve) => setTimeout(resolve, 100));
    stop = true;
    client.destroy();
    server.close();
    await once(server, 'close');
    rmSync(dir, { recursive: true, force: true });
    expectAllClean(stats, COUNT);
    expect(errors).to.deep.equal([]);
    expect(back, 'the echo still flowed after the forks').to.be.above(atEnd);
    expect(sent).to.be.at.least(back);
    expect(spy.ranInChildren()).to.deep.equal([]);
  });

  it("stdin being read by the parent: each child sees end-of-file at once, the parent all of its input", async () => {
    const parent = spawn(process.execPath, ['--single-threaded', stdinFixture, '20'], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    parent.stdout.setEncoding('utf8');
    parent.stdout.on('data', (chunk) => {
      out += chunk;
    });
    parent.stdin.write('first line\n');
    while (!out.includes('\n')) await once(parent.stdout, 'data');
    expect(out).to.equal('forked {"0":20}\n');
    parent.stdin.end('second line\n');
    const [code] = await once(parent, 'exit');
    expect(code).to.equal(0);
    expect(out.split('\n')[1]).to.equal(JSON.stringify('first line\nsecond line\n'));
  });
});
