package io.kvmserver.linux;

/**
 * The FPU/SSE/AVX state this VM's threads have, as signal frames carry it: the size of the
 * standard-format XSAVE image for the enabled components (CPUID leaf 0xD) and those components
 * (XCR0). Linux puts the same two numbers in a frame's {@code _fpx_sw_bytes}.
 *
 * @param xstateSize bytes of the XSAVE image, at most {@link UserContext#XSAVE_SIZE}
 * @param xfeatures the XCR0 bits enabled
 */
public record FpuFormat(int xstateSize, long xfeatures) {

    private static final int FCW = 0;
    private static final int MXCSR = 24;

    public FpuFormat {
        if (xstateSize < 576 || xstateSize > UserContext.XSAVE_SIZE) {
            throw new IllegalArgumentException("XSAVE image of " + xstateSize + " bytes");
        }
    }

    /**
     * The size of the XSAVE image for {@code xcr0}, from CPUID leaf 0xD's per-component sizes and
     * offsets ({@code cpuid.apply(i)} returns {eax, ebx, ecx, edx} of sub-leaf i).
     */
    public static FpuFormat of(long xcr0, java.util.function.IntFunction<int[]> cpuidLeafD) {
        int size = 576; // legacy area and XSAVE header
        for (int i = 2; i < 63; i++) {
            if ((xcr0 & (1L << i)) != 0) {
                int[] r = cpuidLeafD.apply(i);
                size = Math.max(size, r[1] + r[0]);
            }
        }
        return new FpuFormat(Math.min(size, UserContext.XSAVE_SIZE), xcr0);
    }

    /**
     * The initial state, as a new thread's signal handler starts with it: every component in its
     * init state (XSTATE_BV 0), FCW and MXCSR at their reset values for XRSTOR's sake.
     */
    public byte[] initialImage() {
        byte[] image = new byte[UserContext.XSAVE_SIZE];
        image[FCW] = 0x7f;
        image[FCW + 1] = 0x03;
        image[MXCSR] = (byte) 0x80;
        image[MXCSR + 1] = 0x1f;
        return image;
    }
}
