/* Runs one command and reports its own resource use, from a process small enough not to
 * inflate it: a child forked from the (large) Python runner inherits the runner's RSS
 * high-water mark, which Linux keeps across exec, so wait4 in the runner would report
 * at least the runner's own ~57 MB for any child.
 *
 *   spawn REPORT_FILE [-g CGROUP_PROCS_FILE]... CMD [ARGS...]
 *
 * CMD's stdin, stdout and stderr are spawn's. Each -g names a cgroup's cgroup.procs file:
 * the child writes its own pid there before exec, so CMD runs wholly inside those cgroups
 * (bench/bench.py's Lambda-size mode: a CPU quota and a memory limit). Writes to REPORT_FILE one line:
 *   <exit status> <wall ns> <user us> <sys us> <max rss KiB>
 * and exits 0 (127 if CMD could not be started). Built by bench/bench.py with cc. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int cmd = 2;
    while (cmd + 1 < argc && strcmp(argv[cmd], "-g") == 0) cmd += 2;
    if (cmd >= argc) {
        fprintf(stderr, "usage: spawn REPORT_FILE [-g CGROUP_PROCS_FILE]... CMD [ARGS...]\n");
        return 2;
    }
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 127; }
    if (pid == 0) {
        for (int i = 2; i < cmd; i += 2) {
            FILE *procs = fopen(argv[i + 1], "w");
            if (!procs || fprintf(procs, "%d\n", (int)getpid()) < 0 || fclose(procs) != 0) {
                perror(argv[i + 1]);
                _exit(127);
            }
        }
        execvp(argv[cmd], argv + cmd);
        perror("exec");
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) { perror("wait4"); return 127; }
    clock_gettime(CLOCK_MONOTONIC, &end);
    long long wall = (end.tv_sec - start.tv_sec) * 1000000000LL + (end.tv_nsec - start.tv_nsec);
    FILE *out = fopen(argv[1], "w");
    if (!out) { perror("report file"); return 127; }
    fprintf(out, "%d %lld %lld %lld %ld\n",
            WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status), wall,
            (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
            (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec, ru.ru_maxrss);
    fclose(out);
    return 0;
}
