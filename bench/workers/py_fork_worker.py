"""Python's multiprocessing with the 'fork' (or 'forkserver') context, timed
per start+join, as the yardstick for the "fork" and "forkserver" suites. A
long-lived worker like the others.

    python3 py_fork_worker.py [--hold-mb N]
    stdin:  "fork <iterations>\n" or "forkserver <iterations>\n"
    stdout: '@@BENCH {"samples":[ns,...]}\n'
The forkserver's own start (first use) happens at the "ready" reply, so
every sample is a start+join through a running server.
"""
import json
import multiprocessing
import sys
import time


def target():
    pass


def rss_kb():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4


def hold(mb):
    """About `mb` MiB of live Python objects (small strings in lists)."""
    held = []
    i = 0
    while rss_kb() < mb * 1024:
        held.append([f'item-{j}' for j in range(i, i + 100_000)])
        i += 100_000
    return held


def reply(obj):
    sys.stdout.write('@@BENCH ' + json.dumps(obj) + '\n')
    sys.stdout.flush()


def main():
    mb = int(sys.argv[sys.argv.index('--hold-mb') + 1]) if '--hold-mb' in sys.argv else 0
    held = hold(mb) if mb > 0 else []
    contexts = {m: multiprocessing.get_context(m) for m in ('fork', 'forkserver')}
    warm = contexts['forkserver'].Process(target=target)
    warm.start()
    warm.join()
    reply({'ready': True, 'rssKb': rss_kb()})
    while True:
        line = sys.stdin.readline()
        if not line:
            break
        parts = line.split()
        if len(parts) < 2 or parts[0] not in contexts or int(parts[1]) <= 0:
            reply({'error': f'bad command: {line.strip()}'})
            continue
        samples = []
        for _ in range(int(parts[1])):
            t0 = time.perf_counter_ns()
            p = contexts[parts[0]].Process(target=target)
            p.start()
            p.join()
            samples.append(time.perf_counter_ns() - t0)
            if p.exitcode != 0:
                reply({'error': f'child exitcode {p.exitcode}'})
                break
            p.close()
        else:
            reply({'samples': samples})
    del held


if __name__ == '__main__':
    main()
