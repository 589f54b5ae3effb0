package io.kvmserver.vdso;

import java.util.HexFormat;
import java.util.List;

/**
 * The machine code of the guest's vDSO functions; its annotated source is {@code vdso.S} beside
 * this class in the resources, and {@code VdsoCodeTest} assembles that file with {@code as} and
 * compares the bytes, the function offsets and the layout constants. To change the code, edit
 * {@code vdso.S} and paste the bytes the test prints.
 *
 * <p>The code finds the time page RIP-relative, one page below the image, so it must sit at
 * {@link #TEXT_OFFSET} in the image ({@link VdsoImage} puts it there).
 */
public final class VdsoCode {

    private VdsoCode() {
    }

    /** Where the code sits in the image; {@code vdso.S} computes the time page's address from it. */
    public static final int TEXT_OFFSET = 0x800;

    /** One exported function: its name without the {@code __vdso_} prefix and its offset in the code. */
    public record Function(String name, int offset) {
    }

    /** The functions, in the order of the code. */
    public static final List<Function> FUNCTIONS = List.of(
            new Function("clock_gettime", 0x000),
            new Function("gettimeofday", 0x0c0),
            new Function("time", 0x1c0),
            new Function("getcpu", 0x260),
            new Function("clock_getres", 0x2d0));

    private static final String TEXT = """
            f30f1efa83ff070f87a9000000483b35f4e7ffff0f829c0000004c8d46104c3b
            05ebe7ffff0f878b0000004939f00f82820000004189f94f8d0c4949c1e1034c
            8d15bae7ffff458b024589c34183e3014569dbc00000004d01cb4b8b4c1a5048
            85c974520faee80f310faee848c1e2204809d04b2b441a4048f7e9480facd020
            4b03441a48453b0275bc4889c148c1e80948ba535a9ba02fb8440048f7e248c1
            ea0b4869c200ca9a3b4829c148891648894e0831c0c3b8e40000000f05c3cccc
            f30f1efa4885f67427483b3538e7ffff0f82db0000004c8d46084c3b052fe7ff
            ff0f87ca0000004939f00f82c10000004885ff0f84a9000000483b3d08e7ffff
            0f82ab0000004c8d47104c3b05ffe6ffff0f879a0000004939f80f8291000000
            4531c94c8d15d6e6ffff458b024589c34183e3014569dbc00000004d01cb4b8b
            4c1a504885c974690faee80f310faee848c1e2204809d04b2b441a4048f7e948
            0facd0204b03441a48453b0275bc4889c148c1e80948ba535a9ba02fb8440048
            f7e248c1ea0b4869c200ca9a3b4829c14869c9d34d621048c1e9264889174889
            4f084885f6740748c7060000000031c0c3b8600000000f05c3cccccccccccccc
            f30f1efa4885ff741f483b3d38e6ffff0f82810000004c8d47084c3b052fe6ff
            ff77744939f8726f4531c94c8d150ee6ffff458b024589c34183e3014569dbc0
            0000004d01cb4b8b4c1a504885c974470faee80f310faee848c1e2204809d04b
            2b441a4048f7e9480facd0204b03441a48453b0275bc48c1e80948ba535a9ba0
            2fb8440048f7e248c1ea0b4889d04885ff7403488907c3b8c90000000f05c3cc
            f30f1efa4885ff741b483b3d98e5ffff724b4c8d47044c3b0593e5ffff773e49
            39f872394885f6741b483b3578e5ffff722b4c8d46044c3b0573e5ffff771e49
            39f072194885ff7406c707000000004885f67406c7060000000031c0c3b83501
            00000f05c3ccccccccccccccccccccccf30f1efa83ff07773cb8930000000fa3
            f873324885f6742a483b3519e5ffff72244c8d46104c3b0514e5ffff77174939
            f0721248c7060000000048c746080100000031c0c3b8e50000000f05c3
            """;

    private static final byte[] CODE = HexFormat.of().parseHex(TEXT.replaceAll("\\s", ""));

    /** The assembled {@code .text} of {@code vdso.S}. */
    public static byte[] text() {
        return CODE.clone();
    }

    /** Bytes of {@code function}: up to the next function, or to the end of the code. */
    public static int size(Function function) {
        int i = FUNCTIONS.indexOf(function);
        return (i + 1 < FUNCTIONS.size() ? FUNCTIONS.get(i + 1).offset() : CODE.length) - function.offset();
    }
}
