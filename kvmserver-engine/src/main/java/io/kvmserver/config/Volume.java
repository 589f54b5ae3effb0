package io.kvmserver.config;

import java.nio.file.Path;
import java.util.Objects;

/**
 * A {@code --volume}: the host directory or file {@code hostPath} appears to the guest at
 * {@code guestPath}, read-only unless {@code writable}.
 *
 * <p>Both paths are absolute and lexically normalized (no {@code .}, {@code ..} or duplicate
 * slashes), so that the sandbox can compare them segment by segment. Neither may contain
 * {@code :}, because the {@code host:guest:mode} form could not express it and
 * {@link KvmServerOptions#describe()} must print every volume in a form that reads back.
 */
public record Volume(String hostPath, String guestPath, boolean writable) {

    /** Normalizes both paths and rejects relative ones. */
    public Volume {
        hostPath = normalizedAbsolute(Objects.requireNonNull(hostPath, "hostPath"), "host");
        guestPath = normalizedAbsolute(Objects.requireNonNull(guestPath, "guestPath"), "guest");
    }

    /**
     * Reads the {@code --volume} syntax {@code <host-path>:<guest-path>[:r|w|rw]}.
     *
     * @param spec the flag's value
     * @param hostBase the directory a relative host path is resolved against (the guest path
     *     must be absolute: the guest has no working directory yet when volumes are mounted)
     */
    public static Volume parse(String spec, Path hostBase) {
        String[] parts = spec.split(":", -1);
        if (parts.length < 2 || parts.length > 3 || parts[0].isEmpty() || parts[1].isEmpty()) {
            throw new IllegalArgumentException(
                    "volume '" + spec + "' is not <host-path>:<guest-path>[:r|w|rw]");
        }
        boolean writable = parts.length == 3 && writableMode(parts[2], spec);
        return new Volume(hostBase.resolve(parts[0]).toString(), parts[1], writable);
    }

    /** The {@code --volume} value that {@link #parse} reads back into this volume. */
    public String spec() {
        return hostPath + ":" + guestPath + (writable ? ":rw" : ":r");
    }

    private static boolean writableMode(String mode, String spec) {
        return switch (mode) {
            case "r" -> false;
            case "w", "rw" -> true;
            default -> throw new IllegalArgumentException(
                    "volume '" + spec + "' has mode '" + mode + "'; use r (read-only), w or rw");
        };
    }

    private static String normalizedAbsolute(String path, String which) {
        if (!path.startsWith("/")) {
            throw new IllegalArgumentException(
                    "volume " + which + " path '" + path + "' must be absolute");
        }
        if (path.indexOf(':') >= 0) {
            throw new IllegalArgumentException(
                    "volume " + which + " path '" + path + "' must not contain ':'");
        }
        return Path.of(path).normalize().toString();
    }
}
