package io.kvmserver.autoconfigure;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import org.springframework.core.io.Resource;
import org.springframework.core.io.ResourceLoader;
import org.springframework.util.FileSystemUtils;

/**
 * Turns the program and argument locations of the properties into host paths. A
 * {@code classpath:} location is copied into a private temporary directory, because the guest
 * reads host files and a resource inside a jar is not one; the directory is deleted when the
 * server stops.
 */
final class GuestFiles implements AutoCloseable {

    private static final String CLASSPATH = "classpath:";

    private final ResourceLoader resourceLoader;

    private Path directory;

    GuestFiles(ResourceLoader resourceLoader) {
        this.resourceLoader = resourceLoader;
    }

    static boolean isResource(String location) {
        return location != null && location.startsWith(CLASSPATH);
    }

    /** The program as an absolute host path: relative paths against the working directory. */
    String program(String location) {
        return isResource(location) ? extract(location) : Path.of(location).toAbsolutePath().normalize().toString();
    }

    /** An argument, with a {@code classpath:} resource replaced by its extracted path. */
    String argument(String argument) {
        return isResource(argument) ? extract(argument) : argument;
    }

    /** The directory holding the extracted resources, or null when nothing was extracted. */
    Path directory() {
        return this.directory;
    }

    private String extract(String location) {
        Resource resource = this.resourceLoader.getResource(location);
        if (!resource.exists()) {
            throw new ProgramResourceNotFoundException(location);
        }
        try {
            if (this.directory == null) {
                this.directory = Files.createTempDirectory("kvmserver-",
                        PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            }
            Path target = this.directory.resolve(Path.of(location.substring(CLASSPATH.length())).getFileName());
            try (InputStream in = resource.getInputStream()) {
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
            Files.setPosixFilePermissions(target, PosixFilePermissions.fromString("r-x------"));
            return target.toString();
        }
        catch (IOException ex) {
            throw new UncheckedIOException("cannot extract " + location + " to a temporary file", ex);
        }
    }

    @Override
    public void close() {
        if (this.directory != null) {
            try {
                FileSystemUtils.deleteRecursively(this.directory);
            }
            catch (IOException ex) {
                // A leftover temporary directory is harmless; the server's stop must not fail.
            }
            this.directory = null;
        }
    }

    /** A {@code classpath:} program or argument that does not exist. */
    static final class ProgramResourceNotFoundException extends RuntimeException {

        private static final long serialVersionUID = 1L;

        ProgramResourceNotFoundException(String location) {
            super(location + " does not exist on the application's classpath");
        }

    }

}
