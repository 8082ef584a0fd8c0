// The parent as a child sees it (parentProcess()): pid, name, and a
// sentinel that sees it die, the read end of the parent's liveness pipe
// (liveness.ts). multiprocessing's _ParentProcess.
import { binding } from './binding.js';
import { deadlineIn, pollUntil, readableOrDeadline } from './timing.js';
import { validateTimeout } from './validate.js';

const { POLLIN } = binding.pollConstants;

export class ParentProcess {
  readonly #name: string;
  readonly #pid: number;
  readonly #sentinel: number;

  constructor(name: string, pid: number, sentinel: number) {
    this.#name = name;
    this.#pid = pid;
    this.#sentinel = sentinel;
  }

  get name(): string {
    return this.#name;
  }

  get pid(): number {
    return this.#pid;
  }

  get ident(): number {
    return this.#pid;
  }

  get sentinel(): number {
    return this.#sentinel;
  }

  get daemon(): boolean {
    return false;
  }

  isAlive(): boolean {
    return !this.#ended(0);
  }

  joinSync(timeout?: number | null): void {
    const deadline = deadlineIn(validateTimeout(timeout));
    pollUntil(deadline, (ms) => (this.#ended(ms) ? true : null));
  }

  join(timeout?: number | null): Promise<void> {
    let seconds: number | null;
    try {
      seconds = validateTimeout(timeout);
    } catch (error) {
      return Promise.reject(error);
    }
    if (seconds === 0 || this.#ended(0)) return Promise.resolve();
    return new Promise((resolve) => {
      readableOrDeadline([this.#sentinel], deadlineIn(seconds), resolve);
    });
  }

  toString(): string {
    return `<_ParentProcess name='${this.#name}' pid=${this.#pid} parent=None ${this.isAlive() ? 'started' : 'stopped'}>`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }

  #ended(ms: number): boolean {
    const [revents] = binding.poll([{ fd: this.#sentinel, events: POLLIN }], ms);
    return revents !== 0;
  }
}
