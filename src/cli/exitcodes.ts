// The command's own exit statuses, GNU timeout(1)'s: anything else is the
// child's status, or 128+N when it died of signal N.
export const EXIT_TIMEDOUT = 124;
/** Bad usage or a failure of posix-process itself. */
export const EXIT_CANCELED = 125;
/** The command was found but could not be executed (EACCES, ENOEXEC...). */
export const EXIT_CANNOT_INVOKE = 126;
export const EXIT_ENOENT = 127;
