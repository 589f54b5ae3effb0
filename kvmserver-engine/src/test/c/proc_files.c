/*
 * Reads the system-wide /proc files a runtime reads for its CPU count, load and memory, for
 * LinuxBehaviourTest; prints one line of facts:
 *   processors=N  the "processor" lines of /proc/cpuinfo
 *   cpus=N        the cpuN lines of /proc/stat (and whether its "cpu " total line is there)
 *   memtotal=KB   MemTotal of /proc/meminfo
 *   uptime=1      /proc/uptime parses as seconds > 0
 *   loadavg=...   the first three fields of /proc/loadavg
 *   write=E       the errno of opening /proc/stat for writing
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int count_lines(const char *path, const char *prefix, int digit_after) {
    FILE *f = fopen(path, "r");
    if (!f) return -errno;
    char line[512];
    int n = 0;
    size_t len = strlen(prefix);
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, prefix, len) == 0 && (!digit_after || (line[len] >= '0' && line[len] <= '9'))) n++;
    }
    fclose(f);
    return n;
}

int main(void) {
    int processors = count_lines("/proc/cpuinfo", "processor", 0);
    int cpus = count_lines("/proc/stat", "cpu", 1);
    int total = count_lines("/proc/stat", "cpu ", 0);
    long memtotal = -1;
    FILE *m = fopen("/proc/meminfo", "r");
    if (m) {
        fscanf(m, "MemTotal: %ld kB", &memtotal);
        fclose(m);
    }
    double up = 0, idle = 0;
    FILE *u = fopen("/proc/uptime", "r");
    if (u) {
        fscanf(u, "%lf %lf", &up, &idle);
        fclose(u);
    }
    char load[64] = "none";
    FILE *l = fopen("/proc/loadavg", "r");
    if (l) {
        char a[16], b[16], c[16];
        if (fscanf(l, "%15s %15s %15s", a, b, c) == 3) snprintf(load, sizeof load, "%s,%s,%s", a, b, c);
        fclose(l);
    }
    int w = open("/proc/stat", O_WRONLY);
    printf("processors=%d cpus=%d total=%d memtotal=%ld uptime=%d loadavg=%s write=%d\n", processors, cpus, total,
           memtotal, up > 0, load, w < 0 ? errno : 0);
    return 0;
}
