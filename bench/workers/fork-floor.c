/* The C floor for the fork start method: fork + _exit(0) in the child +
 * waitpid, from a parent holding N MiB of touched memory (so its RSS and
 * page tables match the Node parent it is compared with). Long-lived worker.
 *
 *   fork-floor [--hold-mb N]
 *   stdin:  "fork <iterations>\n"   stdout: "@@BENCH {\"samples\":[ns,...]}\n"
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int op_fork(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid < 0) return -1;
  int status;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
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
  volatile char *held = NULL;
  if (hold_mb > 0) {
    held = malloc(hold_mb << 20);
    if (held == NULL) {
      printf("@@BENCH {\"error\":\"malloc %zu MiB failed\"}\n", hold_mb);
      return 1;
    }
    memset((char *)held, 0x5a, hold_mb << 20); /* resident, in the page tables */
  }
  printf("@@BENCH {\"ready\":true,\"rssKb\":%ld}\n", rss_kb());
  fflush(stdout);

  char line[128];
  while (fgets(line, sizeof line, stdin) != NULL) {
    char op[32];
    int iters;
    if (sscanf(line, "%31s %d", op, &iters) != 2 || iters <= 0 || strcmp(op, "fork") != 0) {
      printf("@@BENCH {\"error\":\"bad command\"}\n");
      fflush(stdout);
      continue;
    }
    long long *samples = malloc(sizeof *samples * (size_t)iters);
    int failed = 0;
    for (int i = 0; i < iters && !failed; i++) {
      long long t0 = now_ns();
      failed = op_fork() != 0;
      samples[i] = now_ns() - t0;
    }
    if (failed) {
      printf("@@BENCH {\"error\":\"fork failed (errno %d)\"}\n", errno);
    } else {
      printf("@@BENCH {\"samples\":[");
      for (int i = 0; i < iters; i++) printf(i ? ",%lld" : "%lld", samples[i]);
      printf("]}\n");
    }
    fflush(stdout);
    free(samples);
  }
  if (held != NULL) held[0] = 0;
  return 0;
}
