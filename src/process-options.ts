// What `new Process(options)` accepts, checked and shaped once, and how a
// target travels to a 'spawn' child: a function by its source, a module
// reference as an absolute specifier, a subclass by `static module`.
// (docs/api.md, "Process"; docs/design.md, "Layers".)
import { pathToFileURL } from 'node:url';
import type { TargetSpec } from './child/wire.cjs';
import { validateStartMethod, type StartMethod } from './context.js';
import { invalidArgType, invalidArgValue, ProcessError } from './errors.js';
import { validateStdio, type StdioEntry, type StdioOption } from './popen-stdio.js';
import { toSignalNumber, validateArray, validateBoolean, validateEnv, validateObject, validateString } from './validate.js';

/** A target carried by reference: a module (path, URL or package) and an export. */
export interface TargetRef {
  module: string | URL;
  /** Defaults to 'default'. */
  export?: string;
}

// Targets are called with any arguments and may return anything.
export type Target = (...args: never[]) => unknown;

export interface ProcessOptions {
  target?: Target | TargetRef | null;
  args?: unknown[];
  kwargs?: Record<string, unknown> | null;
  name?: string | null;
  daemon?: boolean | null;
  startMethod?: StartMethod;
  executable?: string;
  env?: Record<string, string>;
  cwd?: string;
  stdio?: StdioOption;
  /**
   * The child gets this signal when this process dies, even by SIGKILL
   * (Linux's PR_SET_PDEATHSIG). Only from the main thread: Linux sends it
   * when the creating *thread* exits.
   */
  parentDeathSignal?: string | number;
}

/** A program target: execve of `executable` instead of a JS child. */
export interface ProgramTarget {
  executable: string;
  env: Record<string, string> | null;
  cwd: string | null;
}

/** ProcessOptions, checked: every field present, copies of what the caller may change later. */
export interface CheckedOptions {
  target: Target | TargetRef | null;
  args: unknown[];
  kwargs: Record<string, unknown> | null;
  name: string | null;
  daemon: boolean | null;
  startMethod: StartMethod | null;
  program: ProgramTarget | null;
  env: Record<string, string> | null;
  cwd: string | null;
  stdio: StdioEntry[] | null;
  /** 0: none. */
  parentDeathSignal: number;
}

function validateTarget(value: unknown): Target | TargetRef | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'function') return value as Target;
  if (typeof value === 'object') {
    const ref = value as { module?: unknown; export?: unknown };
    if (typeof ref.module !== 'string' && !(ref.module instanceof URL)) {
      throw invalidArgType('options.target.module', 'of type string or an instance of URL', ref.module);
    }
    if (ref.module === '') throw invalidArgValue('options.target.module', ref.module, 'must not be empty');
    if (ref.export === undefined) return { module: ref.module };
    return { module: ref.module, export: validateString(ref.export, 'options.target.export') };
  }
  throw invalidArgType('options.target', 'of type function or an object { module, export }', value);
}

export function checkProcessOptions(options: ProcessOptions): CheckedOptions {
  validateObject(options, 'options');
  const target = validateTarget(options.target);
  const args = validateArray(options.args ?? [], 'options.args');
  const kwargs = options.kwargs ?? null;
  if (kwargs !== null) validateObject(kwargs, 'options.kwargs');
  const name = options.name ?? null;
  if (name !== null) validateString(name, 'options.name');
  const daemon = options.daemon ?? null;
  if (daemon !== null) validateBoolean(daemon, 'options.daemon');
  const startMethod = options.startMethod === undefined ? null : validateStartMethod(options.startMethod, 'options.startMethod');
  const env = options.env === undefined ? null : validateEnv(options.env, 'options.env');
  const cwd = options.cwd === undefined ? null : validateString(options.cwd, 'options.cwd');
  const stdio = validateStdio(options.stdio, 'options.stdio');
  const parentDeathSignal =
    options.parentDeathSignal === undefined ? 0 : toSignalNumber(options.parentDeathSignal, 'options.parentDeathSignal', false);
  let program: ProgramTarget | null = null;
  if (options.executable !== undefined) {
    validateString(options.executable, 'options.executable');
    if (options.executable === '') throw invalidArgValue('options.executable', options.executable, 'must not be empty');
    if (target !== null) throw invalidArgValue('options', 'target and executable', 'must not have both target and executable');
    if (kwargs !== null) throw invalidArgValue('options.kwargs', kwargs, 'is not allowed with executable');
    args.forEach((arg: unknown, i) => validateString(arg, `options.args[${i}]`));
    program = { executable: options.executable, env, cwd };
  }
  return {
    target,
    args: [...args],
    kwargs: kwargs === null ? null : { ...kwargs },
    name,
    daemon,
    startMethod,
    program,
    env,
    cwd,
    stdio,
    parentDeathSignal,
  };
}

/** A module reference as an absolute specifier the child can import. */
export function moduleSpecifier(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (module.startsWith('/')) return pathToFileURL(module).href;
  if (module.startsWith('./') || module.startsWith('../')) {
    // Relative paths are relative to the working directory, like `node file`.
    return pathToFileURL(`${process.cwd()}/${module}`).href;
  }
  return module; // a URL (file:, data:, node:) or a package name
}

function functionSource(fn: Target): string {
  const source = Function.prototype.toString.call(fn);
  const problem = /\{\s*\[native code\]\s*\}\s*$/.test(source)
    ? 'it is a native or bound function'
    : /^class[\s{]/.test(source)
      ? 'it is a class'
      : null;
  if (problem === null) {
    try {
      // Parse only (never run) as the child will evaluate it: `(${source})`.
      new Function(`return (${source}\n);`);
      return source;
    } catch {
      // a method shorthand (`run() {}`) and the like
    }
  }
  throw new ProcessError(
    'ERR_TARGET_NOT_TRANSFERABLE',
    `target ${fn.name ? `'${fn.name}' ` : ''}cannot be carried to a 'spawn' child by its source ` +
      `(${problem ?? 'its source is not a function expression'}); ` +
      `pass { module, export } to import it in the child, or use the 'fork' start method`,
  );
}

/** The target as the spawn payload carries it. */
export function targetSpec(target: Target | TargetRef | null): TargetSpec {
  if (target === null) return { kind: 'none' };
  if (typeof target === 'function') return { kind: 'source', source: functionSource(target) };
  return { kind: 'module', module: moduleSpecifier(target.module), export: target.export ?? 'default' };
}

/**
 * A Process subclass travels to a 'spawn' child by reference: `static module
 * = import.meta.url` (and optionally `static export = 'Name'`, default the
 * class name).
 */
export function classRef(cls: Function & { module?: unknown; export?: unknown }): { module: string; export: string } {
  const module = Object.hasOwn(cls, 'module') ? cls.module : undefined;
  if (typeof module !== 'string' && !(module instanceof URL)) {
    throw new ProcessError(
      'ERR_TARGET_NOT_TRANSFERABLE',
      `Process subclass '${cls.name}' cannot be carried to a 'spawn' child: give it ` +
        `\`static module = import.meta.url\` and export it from that module, or use the 'fork' start method`,
    );
  }
  const name = Object.hasOwn(cls, 'export') ? cls.export : cls.name;
  if (typeof name !== 'string' || name === '') {
    throw new ProcessError('ERR_TARGET_NOT_TRANSFERABLE', `Process subclass has no export name: set \`static export = '<name>'\``);
  }
  return { module: moduleSpecifier(module), export: name };
}
