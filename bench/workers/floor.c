/* The C floors, timed per iteration: spawn+reap of a program by
 * vfork+execve+waitpid and by posix_spawn+waitpid, and fork+_exit+waitpid.
 * A long-lived worker, so the (optional) held memory is touched once, not
 * once per round.
 *
 *   floor [--hold-mb N]
 *   stdin:  "<vfork|posix_spawn|fork> <iterations> [program]\n" per round
 *           (program defaults to /bin/true; it is run with no arguments)
 *   stdout: "@@BENCH {\"samples\":[ns,...]}\n" (or {"error":"..."}) per round
 */
#define _GNU_SOURCE
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char program[4096] = "/bin/true";
static char *const kArgv[] = {program, NULL};

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Reaps `pid`; 0 when /bin/true exited 0. */
static int reap(pid_t pid) {
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int op_vfork(void) {
  pid_t pid = vfork();
  if (pid == 0) {
    execve(kArgv[0], kArgv, environ);
    _exit(127);
  }
  return pid < 0 ? -1 : reap(pid);
}

static int op_posix_spawn(void) {
  pid_t pid;
  if (posix_spawn(&pid, kArgv[0], NULL, NULL, kArgv, environ) != 0) return -1;
  return reap(pid);
}

/* The fork start method's floor: a copy of this process that exits at once. */
static int op_fork(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  return pid < 0 ? -1 : reap(pid);
}

static long rss_kb(void) {
  long pages = 0, resident = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  if (f == NULL) return -1;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = -1;
  fclose(f);
  return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv) {
  size_t hold_mb = 0;
  for (int i = 1; i + 1 < argc; i++) {
    if (strcmp(argv[i], "--hold-mb") == 0) hold_mb = strtoul(argv[i + 1], NULL, 10);
  }
  /* Held memory, touched so every page is resident (and in the page tables):
   * spawn cost must not depend on it, fork cost does. */
  volatile char *held = NULL;
  if (hold_mb > 0) {
    held = malloc(hold_mb << 20);
    if (held == NULL) {
      printf("@@BENCH {\"error\":\"malloc %zu MiB failed\"}\n", hold_mb);
      return 1;
    }
    memset((char *)held, 0x5a, hold_mb << 20);
  }
  printf("@@BENCH {\"ready\":true,\"rssKb\":%ld}\n", rss_kb());
  fflush(stdout);

  char line[128];
  while (fgets(line, sizeof line, stdin) != NULL) {
    char op[32];
    int iters;
    strcpy(program, "/bin/true");
    if (sscanf(line, "%31s %d %4095s", op, &iters, program) < 2 || iters <= 0) {
      printf("@@BENCH {\"error\":\"bad command\"}\n");
      fflush(stdout);
      continue;
    }
    int (*fn)(void) = strcmp(op, "vfork") == 0         ? op_vfork
                      : strcmp(op, "posix_spawn") == 0 ? op_posix_spawn
                      : strcmp(op, "fork") == 0        ? op_fork
                                                       : NULL;
    if (fn == NULL) {
      printf("@@BENCH {\"error\":\"unknown op %s\"}\n", op);
      fflush(stdout);
      continue;
    }
    long long *samples = malloc(sizeof *samples * (size_t)iters);
    int failed = 0;
    for (int i = 0; i < iters && !failed; i++) {
      long long t0 = now_ns();
      failed = fn() != 0;
      samples[i] = now_ns() - t0;
    }
    if (failed) {
      printf("@@BENCH {\"error\":\"%s: the child did not start and exit 0 (errno %d)\"}\n", op, errno);
    } else {
      printf("@@BENCH {\"samples\":[");
      for (int i = 0; i < iters; i++) printf(i ? ",%lld" : "%lld", samples[i]);
      printf("]}\n");
    }
    fflush(stdout);
    free(samples);
  }
  if (held != NULL) held[0] = 0; /* keep it alive to the end */
  return 0;
}
