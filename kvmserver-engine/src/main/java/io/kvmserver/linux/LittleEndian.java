package io.kvmserver.linux;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/** C ints in bytes copied out of (or into) the guest: x86-64 stores them little-endian. */
final class LittleEndian {

    private static final VarHandle INT = MethodHandles.byteArrayViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private LittleEndian() {
    }

    /** The int at {@code offset} of {@code bytes}; the caller checked that four bytes are there. */
    static int intAt(byte[] bytes, int offset) {
        return (int) INT.get(bytes, offset);
    }

    /** {@code value} as the four bytes of a C int. */
    static byte[] intBytes(int value) {
        byte[] bytes = new byte[4];
        INT.set(bytes, 0, value);
        return bytes;
    }
}
