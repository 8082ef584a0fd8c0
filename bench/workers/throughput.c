/* The C floor of the "throughput" suite: N children of `/bin/echo hi`, K in
 * flight, each one's stdout captured through a pipe and read to EOF in one
 * poll(2) loop, each reaped (waitpid) once its pipe has ended. posix_spawn
 * (glibc: clone(CLONE_VM|CLONE_VFORK)), pipe2(O_CLOEXEC), /dev/null stdin.
 * A long-lived worker, like floor.c, so held memory is touched once.
 *
 *   throughput [--hold-mb N]
 *   stdin:  "posix_spawn <iterations> <K>:<N>\n" per round (one iteration = N children)
 *   stdout: "@@BENCH {\"samples\":[ns,...],\"cpuNs\":[ns,...]}\n" (or {"error":"..."}) per round;
 *           cpuNs: this process's own user+system CPU per iteration (RUSAGE_SELF: not the children's)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define MAX_K 1024

static char *const kArgv[] = {"/bin/echo", "hi", NULL};

static long long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* This process's user + system CPU time so far; its children's are not in it. */
static long long self_cpu_ns(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
         ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
}

struct slot {
  pid_t pid;
  int fd;
  size_t got;
};

/* Starts one child with stdout on a fresh pipe; -1 on failure. */
static int start(struct slot *s, int devnull) {
  int p[2];
  if (pipe2(p, O_CLOEXEC) < 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, devnull, 0);
  posix_spawn_file_actions_adddup2(&fa, p[1], 1);
  int rc = posix_spawn(&s->pid, kArgv[0], &fa, NULL, kArgv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(p[1]);
  if (rc != 0) {
    close(p[0]);
    errno = rc;
    return -1;
  }
  s->fd = p[0];
  s->got = 0;
  return 0;
}

/* Runs n children, k at a time; 0 when each wrote "hi\n" and exited 0. */
static int batch(int k, int n, int devnull) {
  struct slot slots[MAX_K];
  struct pollfd pfds[MAX_K];
  int live = 0, started = 0, failed = 0;
  while ((started < n || live > 0) && !failed) {
    while (live < k && started < n) {
      if (start(&slots[live], devnull) < 0) return -1;
      live++, started++;
    }
    for (int i = 0; i < live; i++) pfds[i] = (struct pollfd){.fd = slots[i].fd, .events = POLLIN};
    if (poll(pfds, (nfds_t)live, -1) < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    for (int i = live - 1; i >= 0; i--) {
      if (pfds[i].revents == 0) continue;
      char buf[4096];
      ssize_t r = read(slots[i].fd, buf, sizeof buf);
      if (r < 0 && errno == EINTR) continue;
      if (r > 0) {
        slots[i].got += (size_t)r;
        continue;
      }
      /* EOF (or error): reap, check, free the slot. */
      close(slots[i].fd);
      int status;
      while (waitpid(slots[i].pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
      }
      if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) || slots[i].got != 3) failed = 1;
      slots[i] = slots[--live];
    }
  }
  return failed ? -1 : 0;
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
    memset((char *)held, 0x5a, hold_mb << 20);
  }
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  printf("@@BENCH {\"ready\":true,\"rssKb\":%ld}\n", rss_kb());
  fflush(stdout);

  char line[128];
  while (fgets(line, sizeof line, stdin) != NULL) {
    char op[32];
    int iters, k = 1, n = 1;
    if (sscanf(line, "%31s %d %d:%d", op, &iters, &k, &n) < 2 || iters <= 0 || k < 1 || k > MAX_K || n < 1 ||
        strcmp(op, "posix_spawn") != 0) {
      printf("@@BENCH {\"error\":\"bad command\"}\n");
      fflush(stdout);
      continue;
    }
    long long *samples = malloc(sizeof *samples * (size_t)iters * 2);
    if (samples == NULL) {
      printf("@@BENCH {\"error\":\"malloc failed\"}\n");
      fflush(stdout);
      continue;
    }
    long long *cpu = samples + iters;
    int failed = 0;
    for (int i = 0; i < iters && !failed; i++) {
      long long c0 = self_cpu_ns();
      long long t0 = now_ns();
      failed = batch(k, n, devnull) != 0;
      samples[i] = now_ns() - t0;
      cpu[i] = self_cpu_ns() - c0;
    }
    if (failed) {
      printf("@@BENCH {\"error\":\"a child did not print hi and exit 0 (errno %d)\"}\n", errno);
    } else {
      printf("@@BENCH {\"samples\":[");
      for (int i = 0; i < iters; i++) printf(i ? ",%lld" : "%lld", samples[i]);
      printf("],\"cpuNs\":[");
      for (int i = 0; i < iters; i++) printf(i ? ",%lld" : "%lld", cpu[i]);
      printf("]}\n");
    }
    fflush(stdout);
    free(samples);
  }
  if (held != NULL) held[0] = 0;
  return 0;
}
