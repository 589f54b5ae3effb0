/*
 * An epoll HTTP server whose requests misbehave, for the hostile serving and soak tests. One
 * request per connection. Paths:
 *   /normal/N      answers "ok N" (the soak test checks every one)
 *   /slow/MS       sleeps MS milliseconds, then answers "slept"
 *   /crash /loop   fault; spin forever
 *   /fuzz/SEED/MS  runs the syscall fuzzer (hostile_fuzz.c) for MS ms, then answers "fuzzed N"
 *   /leave         leaves state behind: memory, heap, brk, a fixed mapping, fds, an epoll
 *                  registration, a signal handler and mask, umask, cwd, an rlimit, the offset and
 *                  flags of a template fd, FS (see close_with_bogus_fs) and GS base, x87 control
 *                  word, MXCSR, xmm15, ymm15, a thread that spins forever, a POSIX timer and an
 *                  interval timer still armed, and a pending (blocked) signal
 *   /check         answers what of that state it sees (all "pristine" after an ephemeral reset)
 * Usage: hostile_server PORT STATE_FILE
 */
#define _GNU_SOURCE
#define FUZZ_NO_MAIN
#include "hostile_fuzz.c"

#include <arpa/inet.h>
#include <asm/prctl.h>
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <pthread.h>
#include <time.h>

#include "http_request.h"

static long marker = 1;
static long *heap_marker;
static int ep, ls, template_file;
static char state_dir[256] = "/";
static unsigned long fs0, gs0;
static void *brk0;
static char cwd0[256];
static struct rlimit nofile0;
static int has_avx;
/* Registers as found when the VM wakes for a connection, before any library code runs. */
static unsigned short seen_fcw;
static unsigned seen_mxcsr;
static unsigned long seen_xmm15[2];
static unsigned long seen_ymm15_high[2];

static volatile long spins;

static void *spin_forever(void *arg) {
    (void) arg;
    for (;;) spins++;
    return NULL;
}

static void on_usr1(int sig) {
    (void) sig;
}

static void capture_registers(void) {
    __asm__ volatile("fnstcw %0" : "=m"(seen_fcw));
    __asm__ volatile("stmxcsr %0" : "=m"(seen_mxcsr));
    __asm__ volatile("movdqu %%xmm15, %0" : "=m"(seen_xmm15));
    if (has_avx) {
        unsigned long full[4];
        __asm__ volatile("vmovdqu %%ymm15, %0" : "=m"(full));
        seen_ymm15_high[0] = full[2];
        seen_ymm15_high[1] = full[3];
    }
}

static void leave_registers(void) {
    unsigned short fcw = 0x0c7f;        /* round toward zero */
    unsigned mxcsr = 0xff80;            /* all masked, round toward zero, flush to zero */
    unsigned long pattern[4] = {0x1111111111111111, 0x2222222222222222, 0x3333333333333333, 0x4444444444444444};
    __asm__ volatile("fldcw %0" ::"m"(fcw));
    __asm__ volatile("ldmxcsr %0" ::"m"(mxcsr));
    if (has_avx) {
        __asm__ volatile("vmovdqu %0, %%ymm15" ::"m"(pattern));
    } else {
        __asm__ volatile("movdqu %0, %%xmm15" ::"m"(pattern));
    }
}

static void respond(int fd, const char *body) {
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     strlen(body), body);
    write(fd, buf, n);
}

static int open_fds(void) {
    int n = 0;
    for (int fd = 0; fd < 1024; fd++) n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static void leave(void) {
    marker = 666;
    *heap_marker = 666;
    sbrk(1 << 20);
    mmap((void *) 0x2000000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    int p[2];
    pipe(p);
    open("/dev/null", O_RDONLY);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = 0xbad};
    epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev);
    struct sigaction sa = {.sa_handler = on_usr1};
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    umask(0);
    chdir(state_dir);
    struct rlimit low = {64, 64};
    setrlimit(RLIMIT_NOFILE, &low);
    lseek(template_file, 3, SEEK_SET);
    fcntl(template_file, F_SETFL, O_NONBLOCK);
    fcntl(template_file, F_SETFD, FD_CLOEXEC); /* a per-fd flag: the reset reuses the fd table */
    syscall(SYS_arch_prctl, ARCH_SET_GS, 0x12345000UL);
    pthread_t spinner;
    pthread_create(&spinner, NULL, spin_forever, NULL);
    struct sigevent tick = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGUSR2};
    timer_t timer;
    timer_create(CLOCK_MONOTONIC, &tick, &timer);
    struct itimerspec every_ms = {{0, 1000000}, {0, 1000000}};
    timer_settime(timer, 0, &every_ms, NULL);
    struct itimerval minute = {{0, 0}, {60, 0}};
    setitimer(ITIMER_REAL, &minute, NULL);
    raise(SIGUSR2);
}

/*
 * Ends a /leave request with a bogus FS base: sets it, closes the connection (where an ephemeral
 * VM stops and is reset), and only then puts the real one back, all without library code (which
 * reads through FS). A reset that kept the bogus FS base would crash the next request.
 */
static void close_with_bogus_fs(int fd) {
    __asm__ volatile(
        "mov $158, %%eax; mov $0x1002, %%edi; mov $0x7e57000, %%rsi; syscall\n"
        "mov $3, %%eax; mov %0, %%edi; syscall\n"
        "mov $158, %%eax; mov $0x1002, %%edi; mov fs0(%%rip), %%rsi; syscall\n"
        ::"r"(fd) : "rax", "rdi", "rsi", "rcx", "r11", "memory");
}

static void check(char *body, size_t size) {
    unsigned long gs;
    syscall(SYS_arch_prctl, ARCH_GET_GS, &gs);
    struct sigaction old;
    sigaction(SIGUSR1, NULL, &old);
    sigset_t mask;
    sigprocmask(SIG_BLOCK, NULL, &mask);
    mode_t um = umask(022);
    umask(um);
    char cwd[256];
    getcwd(cwd, sizeof cwd);
    struct rlimit nofile;
    getrlimit(RLIMIT_NOFILE, &nofile);
    void *fixed = mmap((void *) 0x2000000, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    int mapped = fixed == MAP_FAILED && errno == EEXIST;
    if (fixed != MAP_FAILED) munmap(fixed, 4096);
    struct epoll_event events[8];
    int ready = epoll_wait(ep, events, 8, 0);
    int registered = 0;
    for (int i = 0; i < ready; i++) registered += events[i].data.u64 == 0xbad;
    int fds = open_fds();
    long offset = lseek(template_file, 0, SEEK_CUR);
    int flags = fcntl(template_file, F_GETFL) & O_NONBLOCK;
    int cloexec = fcntl(template_file, F_GETFD) & FD_CLOEXEC;
    sigset_t pending;
    sigpending(&pending);
    struct itimerspec timer;
    int timer_armed = timer_gettime((timer_t) 0, &timer) == 0;
    struct itimerval itimer;
    getitimer(ITIMER_REAL, &itimer);
    long spins_before = spins;
    struct timespec pause_20ms = {0, 20000000};
    nanosleep(&pause_20ms, NULL);
    int len = snprintf(body, size,
             "marker=%ld heap=%ld brk=%s mapping=%s fds=%d epoll=%d handler=%s mask=%s umask=%03o cwd=%s nofile=%s "
             "offset=%ld nonblock=%d gs=%s fcw=%04x mxcsr=%04x xmm15=%lx ymm15=%lx",
             marker, *heap_marker, sbrk(0) == brk0 ? "same" : "moved", mapped ? "leaked" : "none", fds, registered,
             old.sa_handler == SIG_DFL ? "default" : "set", sigismember(&mask, SIGUSR2) ? "blocked" : "clear", um,
             strcmp(cwd, cwd0) ? "changed" : "same", nofile.rlim_cur == nofile0.rlim_cur ? "same" : "changed",
             offset, flags != 0, gs == gs0 ? "same" : "changed", seen_fcw,
             seen_mxcsr, seen_xmm15[0], seen_ymm15_high[0]);
    snprintf(body + len, size - len, " pending=%s timer=%s itimer=%s spinner=%s cloexec=%d",
             sigismember(&pending, SIGUSR2) ? "set" : "clear", timer_armed ? "armed" : "none",
             itimer.it_value.tv_sec || itimer.it_value.tv_usec ? "armed" : "off", spins != spins_before ? "moving" : "still",
             cloexec);
}

static void handle(int fd) {
    char path[256];
    read_request_path(fd, path, sizeof path);
    char body[768];
    if (!strncmp(path, "/normal/", 8)) {
        snprintf(body, sizeof body, "ok %s", path + 8);
    } else if (!strncmp(path, "/slow/", 6)) {
        long ms = atol(path + 6);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
        nanosleep(&ts, NULL);
        snprintf(body, sizeof body, "slept");
    } else if (!strcmp(path, "/crash")) {
        *(volatile int *) (long) atoi("16") = 1;
    } else if (!strcmp(path, "/doorbell-read")) {
        /* the engine's system call page: an MMIO read KVM completes at the vCPU's next run */
        snprintf(body, sizeof body, "read %d", *(volatile int *) 0xa008);
    } else if (!strcmp(path, "/doorbell-write")) {
        *(volatile long *) 0xa000 = 0x23;
    } else if (!strcmp(path, "/loop")) {
        for (volatile long i = 0;; i++) {
        }
    } else if (!strncmp(path, "/fuzz/", 6)) {
        uint64_t seed = strtoull(path + 6, NULL, 10);
        char *slash = strchr(path + 6, '/');
        long ms = slash ? atol(slash + 1) : 1000;
        int keep = dup2(fd, FUZZ_SAFE_FD + 1);
        long calls = fuzz(ms, seed, keep);
        snprintf(body, sizeof body, "fuzzed %ld", calls);
        respond(keep, body);
        return;
    } else if (!strcmp(path, "/leave")) {
        leave();
        snprintf(body, sizeof body, "left");
        respond(fd, body);
        leave_registers();
        close_with_bogus_fs(fd);
        return;
    } else if (!strcmp(path, "/check")) {
        check(body, sizeof body);
    } else {
        snprintf(body, sizeof body, "hello");
    }
    respond(fd, body);
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 8000;
    template_file = open(argc > 2 ? argv[2] : "/proc/self/exe", O_RDONLY);
    if (argc > 2 && strrchr(argv[2], '/')) {
        snprintf(state_dir, sizeof state_dir, "%.*s", (int) (strrchr(argv[2], '/') - argv[2]), argv[2]);
    }
    unsigned a, b, c, d;
    has_avx = __get_cpuid(1, &a, &b, &c, &d) && (c & bit_AVX) && (c & bit_OSXSAVE);
    heap_marker = calloc(1, sizeof *heap_marker);
    *heap_marker = 1;
    brk0 = sbrk(0);
    getcwd(cwd0, sizeof cwd0);
    getrlimit(RLIMIT_NOFILE, &nofile0);
    syscall(SYS_arch_prctl, ARCH_GET_FS, &fs0);
    syscall(SYS_arch_prctl, ARCH_GET_GS, &gs0);
    ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(ls, (struct sockaddr *) &addr, sizeof addr) < 0 || listen(ls, 128) < 0) {
        perror("bind/listen");
        return 1;
    }
    ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls};
    epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
    for (;;) {
        struct epoll_event events[16];
        int n = epoll_wait(ep, events, 16, -1);
        capture_registers();
        if (n < 0 && errno == EINTR) continue;
        for (int i = 0; i < n; i++) {
            if (events[i].data.u64 == (uint64_t) ls) {
                int conn;
                while ((conn = accept4(ls, NULL, NULL, 0)) >= 0) {
                    handle(conn);
                    close(conn); /* EBADF after /leave, which closed it already */
                }
            }
        }
    }
}
