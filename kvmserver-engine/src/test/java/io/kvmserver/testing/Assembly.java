package io.kvmserver.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * An annotated assembly source from the resources (the trap stub, the vDSO), assembled by GNU
 * {@code as}: what tests compare the engine's hard-coded machine code with.
 *
 * @param text        the {@code .text} bytes
 * @param symbols     every symbol {@code nm} lists (labels and {@code .set} constants), by name
 * @param relocations what {@code readelf -r} says about the object
 */
public record Assembly(byte[] text, Map<String, Long> symbols, String relocations) {

    /** Assembles {@code resource} beside {@code owner} in a scratch {@code dir}. */
    public static Assembly of(Class<?> owner, String resource, Path dir) throws IOException {
        HostTools.assumeInstalled("as", "objcopy", "nm", "readelf");
        Path source = dir.resolve(resource);
        try (InputStream in = owner.getResourceAsStream(resource)) {
            assertThat(in).as(resource + " beside " + owner.getSimpleName() + " in the resources").isNotNull();
            Files.copy(in, source);
        }
        Path object = dir.resolve(resource + ".o");
        Path binary = dir.resolve(resource + ".bin");
        HostTools.run(List.of("as", "--64", "-o", object.toString(), source.toString()));
        HostTools.run(List.of("objcopy", "-O", "binary", "-j", ".text", object.toString(), binary.toString()));
        Map<String, Long> symbols = new HashMap<>();
        for (String line : HostTools.run(List.of("nm", object.toString())).split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 3) {
                symbols.put(f[2], Long.parseUnsignedLong(f[0], 16));
            }
        }
        return new Assembly(Files.readAllBytes(binary), symbols,
                HostTools.run(List.of("readelf", "-r", object.toString())));
    }

    /** The value of {@code name}; fails the test when the source has no such symbol. */
    public long symbol(String name) {
        assertThat(symbols).as("symbol " + name + " in the source").containsKey(name);
        return symbols.get(name);
    }
}
