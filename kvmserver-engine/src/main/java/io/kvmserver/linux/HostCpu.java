package io.kvmserver.linux;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The guest's {@code /proc/cpuinfo}: the host's first processor, as the one CPU of a VM (its
 * siblings and cores one, its ids zero). What it tells is what {@code cpuid} in the guest tells
 * anyway; read once.
 */
final class HostCpu {

    static final byte[] INFO = read();

    private HostCpu() {
    }

    private static byte[] read() {
        String host;
        try {
            host = Files.readString(Path.of("/proc/cpuinfo"), StandardCharsets.US_ASCII);
        } catch (IOException | RuntimeException e) {
            host = "";
        }
        int end = host.indexOf("\n\n");
        String first = end < 0 ? host : host.substring(0, end);
        if (!first.startsWith("processor")) {
            first = "processor\t: 0\nvendor_id\t: unknown\nmodel name\t: unknown";
        }
        StringBuilder out = new StringBuilder(first.length() + 32);
        for (String line : first.split("\n")) {
            String key = line.split(":", 2)[0].strip();
            switch (key) {
                case "siblings", "cpu cores" -> out.append(key).append("\t: 1");
                case "processor", "physical id", "core id", "apicid", "initial apicid" -> out.append(key).append("\t: 0");
                default -> out.append(line);
            }
            out.append('\n');
        }
        return out.append('\n').toString().getBytes(StandardCharsets.US_ASCII);
    }
}
