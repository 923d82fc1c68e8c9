/*
 * The benchmark's stopwatch (doc/benchmarks.md): runs one command and
 * prints what it cost, as measured by the kernel for that child alone.
 *
 *   runner TIMEOUT_S LOGFILE CMD ARG...
 *
 * The child's stdout and stderr go to LOGFILE. On its own stdout the runner
 * prints one line:
 *
 *   wall_us user_us sys_us maxrss_kb status
 *
 * wall: CLOCK_MONOTONIC from just before fork to the moment the child exits
 * (so it includes the exec, as `time` does: what a build waits for).
 * user, sys, maxrss: the rusage of the child and of every process it left
 * behind: the runner is a child subreaper, so a linker that forks and lets
 * the parent exit early (mold does, to unmap in the background) is still
 * charged for all its CPU time; maxrss is the largest of them.
 * status: the exit status, or 128 + the signal. After TIMEOUT_S seconds the
 * child's process group is killed (status 137).
 * Built by bench/bench.mjs with `cc -O2`; Linux only, no dependencies beyond libc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

static long long tv_us(struct timeval tv) {
  return (long long)tv.tv_sec * 1000000LL + tv.tv_usec;
}

static volatile pid_t child = 0;

static void on_alarm(int sig) {
  (void)sig;
  if (child > 0) kill(-child, SIGKILL);
}

int main(int argc, char **argv) {
  if (argc < 4) {
    fprintf(stderr, "usage: runner TIMEOUT_S LOGFILE CMD ARG...\n");
    return 2;
  }
  unsigned timeout = (unsigned)strtoul(argv[1], 0, 10);
  int log = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log < 0) {
    perror(argv[2]);
    return 2;
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, 0);
  long long t0 = now_us();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(log, 1);
    dup2(log, 2);
    execvp(argv[3], argv + 3);
    dprintf(2, "runner: cannot run %s: %s\n", argv[3], strerror(errno));
    _exit(127);
  }
  child = pid;
  setpgid(pid, pid);
  if (timeout) alarm(timeout);
  int status = 0;
  for (;;) {
    pid_t w = waitpid(pid, &status, 0);
    if (w == pid) break;
    if (w < 0 && errno != EINTR) {
      perror("waitpid");
      return 2;
    }
  }
  long long wall = now_us() - t0;
  /* Reap whatever the child left behind, so that RUSAGE_CHILDREN covers it too. */
  for (;;) {
    pid_t w = wait(0);
    if (w < 0 && errno == ECHILD) break;
  }
  alarm(0);
  struct rusage ru;
  memset(&ru, 0, sizeof ru);
  getrusage(RUSAGE_CHILDREN, &ru);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  printf("%lld %lld %lld %ld %d\n", wall, tv_us(ru.ru_utime), tv_us(ru.ru_stime), ru.ru_maxrss, code);
  return 0;
}
