// `posix-process watch PID...`: waits until every given process has exited,
// whoever its parent is. Each pid gets a pidfd (pidfd_open), which becomes
// readable when that process exits (a zombie counts as exited), watched on
// the event loop: no polling, and a recycled pid can never be mistaken for
// the original process once its pidfd is open.
//
// Choices, documented in --help:
// - A pid with no process (ESRCH) counts as already exited, like
//   `tail --pid`: the process may well have ended between the caller
//   reading its pid and this command starting, and "gone" is what was asked.
// - Without pidfds (old kernels, or POSIX_PROCESS_NO_PIDFD=1) there is no
//   exact way to see a non-child exit, so this refuses with exit 125 instead
//   of polling kill(pid, 0), which could also hit a recycled pid.
import * as posix from '../posix.js';
import { whenReadable, type Subscription } from '../watch.js';
import { deadlineIn, timerUntil, type Timer } from '../timing.js';
import { EXIT_CANCELED, EXIT_TIMEDOUT } from './exitcodes.js';

export async function watch(pids: number[], timeoutSec: number): Promise<number> {
  if (!posix.pidfdSupported()) {
    process.stderr.write(
      'posix-process: watch needs pidfd_open(2) (Linux 5.3 or later) to wait for processes that are not its children' +
        (process.env.POSIX_PROCESS_NO_PIDFD ? '; it is switched off by POSIX_PROCESS_NO_PIDFD' : '') +
        '\n',
    );
    return EXIT_CANCELED;
  }

  const fds: number[] = [];
  for (const pid of new Set(pids)) {
    try {
      fds.push(posix.pidfdOpen(pid));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') continue;
      for (const fd of fds) posix.close(fd);
      process.stderr.write(`posix-process: cannot watch process ${pid}: ${(err as Error).message}\n`);
      return EXIT_CANCELED;
    }
  }
  if (fds.length === 0) return 0;

  return new Promise<number>((resolve) => {
    const open = new Map<number, Subscription>();
    let timer: Timer | null = null;
    const finish = (code: number): void => {
      timer?.cancel();
      for (const [fd, subscription] of open) {
        subscription.cancel();
        posix.close(fd);
      }
      open.clear();
      resolve(code);
    };
    for (const fd of fds) {
      open.set(
        fd,
        whenReadable(fd, () => {
          open.delete(fd);
          posix.close(fd);
          if (open.size === 0) finish(0);
        }),
      );
    }
    if (timeoutSec > 0) timer = timerUntil(deadlineIn(timeoutSec) as number, () => finish(EXIT_TIMEDOUT));
  });
}
