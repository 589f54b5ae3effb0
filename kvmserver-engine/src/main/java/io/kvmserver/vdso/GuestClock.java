package io.kvmserver.vdso;

import com.sun.jna.LastErrorException;
import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.kvmserver.kvm.Kvm;
import io.kvmserver.kvm.KvmAbi;
import io.kvmserver.kvm.KvmException;
import io.kvmserver.host.LibC;
import io.kvmserver.kvm.VcpuFd;
import io.kvmserver.kvm.VmFd;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The clocks every guest reads through its vDSO, kept by the host: one per JVM, shared by every
 * VM, publishing into each template's {@link TimePage}.
 *
 * <p>What makes one page valid in every VM: each VM's vCPU runs with TSC offset 0
 * ({@code CpuSetup.configure}), so every guest reads the host's TSC. On this nested PVM host the
 * guest's {@code rdtsc} returns the host's TSC whatever the offset (measured: the offset reads 0,
 * and setting {@code IA32_TSC} changes nothing the guest sees); on hardware VMX, offset 0 makes
 * it so. The host cannot execute {@code rdtsc} from Java, so it reads the same TSC through a
 * vCPU of its own that never runs: {@code KVM_GET_MSRS(IA32_TSC)} is that vCPU's guest TSC now
 * (~2.5 µs here), and bracketing it between two host {@code clock_gettime} calls pairs a TSC
 * value with the host's clocks to within about a microsecond.
 *
 * <p>The clocks are built as the host kernel builds them: {@code CLOCK_MONOTONIC} and
 * {@code CLOCK_MONOTONIC_RAW} are lines in the TSC ({@link Timeline}); {@code CLOCK_REALTIME} and
 * {@code CLOCK_BOOTTIME} are {@code CLOCK_MONOTONIC} plus an offset, which changes only when the
 * host's does (the clock is set; the host resumes from suspend), since NTP slews all three alike.
 * Every {@link #PERIOD_NANOS} the host pairs the TSC with its clocks again, estimates their rate
 * per tick over the last samples, and steers the two lines toward its own: monotonic, within
 * about a microsecond of the host while the host's frequency is steady. The coarse clocks are
 * their fine counterparts. The CPU-time clocks are not served from the page: the vDSO makes the
 * system call.
 *
 * <p>Without TSC offset control (Linux before 5.16), without a constant, non-stop TSC, or when
 * the clock VM cannot be made, nothing is served from the page, and the vDSO makes the system
 * call for every clock: slower, never wrong.
 */
public final class GuestClock {

    private static final Logger log = LoggerFactory.getLogger(GuestClock.class);

    /** How often the host re-reads its clocks and publishes. */
    static final long PERIOD_NANOS = 1_000_000_000L;
    /** Samples of the rate estimate: its baseline grows to this many periods. */
    private static final int RATE_SAMPLES = 16;
    /** Below this baseline, the estimate is the TSC's nominal frequency. */
    private static final long RATE_MIN_BASELINE_NANOS = 4_000_000_000L;
    /** A slowing clock meets its old line this far ahead; the host must publish before then. */
    private static final long LEAD_NANOS = 1_000_000;
    private static final int TSC_BRACKETS = 7;
    private static final int OFFSET_BRACKETS = 5;
    /**
     * A change of the host's realtime or boottime offset smaller than this is measurement noise
     * (a bracket of two JNA calls, a few hundred nanoseconds), not the clock being set.
     */
    private static final long OFFSET_STEP_NS = 5_000;

    static final int CLOCK_REALTIME = 0;
    static final int CLOCK_MONOTONIC = 1;
    static final int CLOCK_MONOTONIC_RAW = 4;
    static final int CLOCK_REALTIME_COARSE = 5;
    static final int CLOCK_MONOTONIC_COARSE = 6;
    static final int CLOCK_BOOTTIME = 7;
    private static final int MSR_IA32_TSC = 0x10;

    private static GuestClock shared;

    /** The clock vCPU's VM, open for the JVM's life: the vCPU reads the TSC every guest reads. */
    private final VmFd vm;
    private final VcpuFd vcpu;
    private final Memory tscMsr = new Memory(KvmAbi.MSRS_ENTRIES + KvmAbi.MSR_ENTRY_SIZE);
    private final Memory timespec = new Memory(16);
    private final long nominalMult;
    private final long periodTicks;
    private final long leadTicks;
    private final List<TimePage> pages = new ArrayList<>();
    private Timeline monotonic = new Timeline();
    private Timeline raw = new Timeline();
    /** {@code CLOCK_REALTIME - CLOCK_MONOTONIC}, as published. */
    private long realtimeOffset;
    /** {@code CLOCK_BOOTTIME - CLOCK_MONOTONIC}, as published: never negative, never smaller. */
    private long boottimeOffset;
    private final RateHistory monotonicRate = new RateHistory(RATE_SAMPLES);
    private final RateHistory rawRate = new RateHistory(RATE_SAMPLES);
    private final long[] clocks = new long[TimePage.CLOCKS * 3];
    private final Sample sample = new Sample();
    private long lastUpdate;
    private long updates;
    private ScheduledExecutorService updater;

    /** A TSC value, the host's clocks at that TSC, and the host's offsets from CLOCK_MONOTONIC. */
    private static final class Sample {
        long tsc;
        long monotonic;
        long raw;
        long realtimeOffset;
        long boottimeOffset;
    }

    private GuestClock(VmFd vm, VcpuFd vcpu, long tscHz) {
        this.vm = vm;
        this.vcpu = vcpu;
        this.nominalMult = tscHz == 0 ? 0 : (long) (1e9 / tscHz * 0x1p32);
        this.periodTicks = (long) (tscHz * (PERIOD_NANOS / 1e9));
        this.leadTicks = (long) (tscHz * (LEAD_NANOS / 1e9));
        tscMsr.clear();
        tscMsr.setInt(0, 1);
        tscMsr.setInt(KvmAbi.MSRS_ENTRIES, MSR_IA32_TSC);
    }

    /** The JVM's guest clock, made on first use with {@code kvm}; its VM outlives {@code kvm}. */
    public static synchronized GuestClock shared(Kvm kvm) {
        if (shared == null) {
            shared = create(kvm);
        }
        return shared;
    }

    private static GuestClock create(Kvm kvm) {
        String unusable = tscUnusable();
        if (unusable != null) {
            log.info("guest clocks are read through system calls: {}", unusable);
            return new GuestClock(null, null, 0);
        }
        VmFd vm = null;
        VcpuFd vcpu = null;
        String why;
        try {
            vm = kvm.createVm();
            vcpu = vm.createVcpu(0);
            long khz = vcpu.tscKhz();
            if (vcpu.hasTscOffset() && khz > 0) {
                vcpu.setTscOffset(0);
                return new GuestClock(vm, vcpu, khz * 1000);
            }
            why = khz <= 0 ? "KVM does not know the TSC's frequency" : "this KVM cannot set a vCPU's TSC offset"
                    + " (KVM_VCPU_TSC_OFFSET, Linux 5.16 or newer), so guests may not read the host's TSC";
        } catch (KvmException e) {
            why = "cannot make the clock vCPU (" + e.getMessage() + ")";
        }
        log.info("guest clocks are read through system calls: {}", why);
        if (vcpu != null) {
            vcpu.close();
        }
        if (vm != null) {
            vm.close();
        }
        return new GuestClock(null, null, 0);
    }

    /** Why the host's TSC cannot be the guests' clock source, or null when it can. */
    private static String tscUnusable() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    List<String> flags = List.of(line.substring(line.indexOf(':') + 1).trim().split("\\s+"));
                    return flags.contains("constant_tsc") && flags.contains("nonstop_tsc") ? null
                            : "the host's TSC is not constant and non-stop (no constant_tsc/nonstop_tsc in /proc/cpuinfo)";
                }
            }
            return "/proc/cpuinfo has no CPU flags";
        } catch (IOException e) {
            return "cannot read /proc/cpuinfo (" + e.getMessage() + ")";
        }
    }

    /** Whether guests read their clocks from the time page (true) or through system calls. */
    public boolean servesTime() {
        return vcpu != null;
    }

    /**
     * Makes a time page of the template whose {@link io.kvmserver.x86.GuestLayout#VVAR} page the
     * host maps at {@code hostAddress}, and keeps it up to date until {@link TimePage#close()}.
     * {@code [userStart, userEnd)} is where the program's memory can be: the vDSO writes through
     * no pointer outside it.
     */
    public synchronized TimePage attach(long hostAddress, long userStart, long userEnd) {
        TimePage page = new TimePage(this, hostAddress, userStart, userEnd);
        if (!servesTime()) {
            return page;
        }
        if (updates == 0 || System.nanoTime() - lastUpdate > 2 * PERIOD_NANOS) {
            try {
                update();
            } catch (RuntimeException e) {
                // Publishes what it has: the last clocks (extrapolated), or none (system calls).
                log.warn("cannot update the guest clocks: {}", e.toString());
            }
        }
        page.publish(clocks);
        pages.add(page);
        if (updater == null) {
            updater = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "kvmserver-guest-clock");
                t.setDaemon(true);
                return t;
            });
            updater.scheduleWithFixedDelay(this::periodicUpdate, PERIOD_NANOS, PERIOD_NANOS, TimeUnit.NANOSECONDS);
        }
        return page;
    }

    /** Stops publishing into {@code page}; once this returns, the host never writes it again. */
    synchronized void detach(TimePage page) {
        pages.remove(page);
    }

    private synchronized void periodicUpdate() {
        if (pages.isEmpty()) {
            return;
        }
        try {
            update();
            for (TimePage page : pages) {
                page.publish(clocks);
            }
        } catch (RuntimeException e) {
            // The guests keep extrapolating the last publication; the next period tries again.
            log.warn("cannot update the guest clocks: {}", e.toString());
        }
    }

    /**
     * Pairs the TSC with the host's clocks and computes the next publication into
     * {@link #clocks}. A line that slows down meets its old one {@link #LEAD_NANOS} ahead; if the
     * host could not publish well before that (preempted), it starts over with fresh samples.
     */
    private void update() {
        for (int attempt = 0; attempt < 3; attempt++) {
            sample(sample);
            monotonicRate.add(sample.tsc, sample.monotonic);
            rawRate.add(sample.tsc, sample.raw);
            Timeline nextMonotonic = monotonic.copy();
            Timeline nextRaw = raw.copy();
            long now = sample.tsc;
            long meet = Math.max(
                    nextMonotonic.steer(now, sample.monotonic, monotonicRate.mult(nominalMult, RATE_MIN_BASELINE_NANOS),
                            periodTicks, leadTicks),
                    nextRaw.steer(now, sample.raw, rawRate.mult(nominalMult, RATE_MIN_BASELINE_NANOS),
                            periodTicks, leadTicks));
            if (meet > now && readTsc() > meet - leadTicks / 2) {
                continue;
            }
            monotonic = nextMonotonic;
            raw = nextRaw;
            // The host's realtime was set (either way); its boottime grew by a suspend.
            if (updates == 0 || Math.abs(sample.realtimeOffset - realtimeOffset) > OFFSET_STEP_NS) {
                realtimeOffset = sample.realtimeOffset;
            }
            if (updates == 0 || sample.boottimeOffset > boottimeOffset + OFFSET_STEP_NS) {
                boottimeOffset = Math.max(boottimeOffset, sample.boottimeOffset);
            }
            monotonic.writeTo(clocks, CLOCK_REALTIME, realtimeOffset);
            monotonic.writeTo(clocks, CLOCK_REALTIME_COARSE, realtimeOffset);
            monotonic.writeTo(clocks, CLOCK_MONOTONIC, 0);
            monotonic.writeTo(clocks, CLOCK_MONOTONIC_COARSE, 0);
            raw.writeTo(clocks, CLOCK_MONOTONIC_RAW, 0);
            monotonic.writeTo(clocks, CLOCK_BOOTTIME, boottimeOffset);
            lastUpdate = System.nanoTime();
            updates++;
            return;
        }
        throw new IllegalStateException("the clock updater was preempted three times in a row");
    }

    /**
     * The TSC as every guest reads it, now: one {@code KVM_GET_MSRS} on the clock vCPU.
     *
     * @throws IllegalStateException when the guests' clocks are not served from the TSC
     */
    public synchronized long guestTsc() {
        if (!servesTime()) {
            throw new IllegalStateException("guest clocks are not served from the TSC on this host");
        }
        return readTsc();
    }

    private long readTsc() {
        vcpu.getMsrs(tscMsr);
        return tscMsr.getLong(KvmAbi.MSRS_ENTRIES + 8);
    }

    /** The host's {@code clock} now, in nanoseconds. */
    private long hostNs(int clock) {
        try {
            LibC.clock_gettime(clock, Pointer.nativeValue(timespec));
        } catch (LastErrorException e) {
            throw new KvmException("clock_gettime(" + clock + ") failed", e.getErrorCode());
        }
        return timespec.getLong(0) * 1_000_000_000L + timespec.getLong(8);
    }

    /**
     * Reads the TSC between two readings of the host's {@code CLOCK_MONOTONIC}, keeping the
     * tightest of a few tries and taking the middle; the other clocks are read the same way
     * against {@code CLOCK_MONOTONIC}, which is cheap and tight.
     */
    private void sample(Sample s) {
        long best = Long.MAX_VALUE;
        for (int i = 0; i < TSC_BRACKETS; i++) {
            long before = hostNs(CLOCK_MONOTONIC);
            long tsc = readTsc();
            long after = hostNs(CLOCK_MONOTONIC);
            if (after - before < best) {
                best = after - before;
                s.tsc = tsc;
                s.monotonic = before + (after - before) / 2;
            }
        }
        s.raw = s.monotonic + offsetFromMonotonic(CLOCK_MONOTONIC_RAW);
        s.realtimeOffset = offsetFromMonotonic(CLOCK_REALTIME);
        s.boottimeOffset = offsetFromMonotonic(CLOCK_BOOTTIME);
    }

    private long offsetFromMonotonic(int clock) {
        long best = Long.MAX_VALUE;
        long offset = 0;
        for (int i = 0; i < OFFSET_BRACKETS; i++) {
            long before = hostNs(CLOCK_MONOTONIC);
            long value = hostNs(clock);
            long after = hostNs(CLOCK_MONOTONIC);
            if (after - before < best) {
                best = after - before;
                offset = value - (before + (after - before) / 2);
            }
        }
        return offset;
    }

    /**
     * The last samples of one host clock against the TSC, for its rate: over a baseline of many
     * periods, the microsecond of uncertainty in each pairing shrinks to a small fraction of a
     * part per million, and a change of the host's frequency (NTP) still shows within
     * {@code capacity} periods.
     */
    static final class RateHistory {
        private final long[] tsc;
        private final long[] ns;
        private int count;
        private int next;

        RateHistory(int capacity) {
            tsc = new long[capacity];
            ns = new long[capacity];
        }

        void add(long tscValue, long nsValue) {
            tsc[next] = tscValue;
            ns[next] = nsValue;
            next = (next + 1) % tsc.length;
            count = Math.min(count + 1, tsc.length);
        }

        /** Nanoseconds per tick &lt;&lt; 32 over the samples, or {@code nominal} over a short baseline. */
        long mult(long nominal, long minBaselineNanos) {
            if (count < 2) {
                return nominal;
            }
            int newest = (next - 1 + tsc.length) % tsc.length;
            int oldest = count < tsc.length ? 0 : next;
            long ticks = tsc[newest] - tsc[oldest];
            long nanos = ns[newest] - ns[oldest];
            if (nanos < minBaselineNanos || ticks <= 0) {
                return nominal;
            }
            return (long) ((double) nanos / ticks * 0x1p32);
        }
    }
}
