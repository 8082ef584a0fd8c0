// A child's environment as execve(2) takes it, and the PATH a bare program
// name is searched in (like execvp and child_process): shared by
// posix.spawn() and Process's program targets.

/** `KEY=value` strings of an environment validateEnv() accepted. */
export function envStrings(env: Readonly<Record<string, string>>): string[] {
  return Object.entries(env).map(([key, value]) => `${key}=${value}`);
}

/** The directories searched for a bare name: PATH of the child's env if given, else ours. */
export function searchDirs(env: Readonly<Record<string, string>> | null | undefined): string[] {
  const path = env ? env.PATH : process.env.PATH;
  return (path ?? '/usr/local/bin:/usr/bin:/bin').split(':');
}
