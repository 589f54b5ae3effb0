package io.kvmserver.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Enumeration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;

/**
 * The test fixtures every module's tests share, as real directories: the C guest programs
 * ({@code c}), python scripts ({@code python}) and runtime guests ({@code guests}) that live in
 * the engine's {@code src/test} and travel in its test-jar as classpath resources under
 * {@code io/kvmserver/testing/}. In the engine the resources are plain files; in another module
 * they are extracted from the jar, once, into {@code target/fixtures}.
 */
public final class Fixtures {

    private static final String ROOT = "io/kvmserver/testing/";
    private static final Path EXTRACTED = Path.of("target/fixtures");
    private static final ConcurrentHashMap<String, Path> DIRECTORIES = new ConcurrentHashMap<>();

    private Fixtures() {
    }

    /** The fixture directory {@code kind} ({@code c}, {@code python}, {@code guests}). */
    public static Path directory(String kind) {
        return DIRECTORIES.computeIfAbsent(kind, Fixtures::locate);
    }

    /** A file of fixture directory {@code kind}, such as {@code ("python", "asyncio_server.py")}. */
    public static Path file(String kind, String name) {
        Path file = directory(kind).resolve(name);
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("no fixture " + kind + "/" + name + " in " + directory(kind));
        }
        return file;
    }

    private static Path locate(String kind) {
        URL url = Fixtures.class.getClassLoader().getResource(ROOT + kind);
        if (url == null) {
            throw new IllegalStateException("no fixtures " + ROOT + kind + " on the test classpath: depend on the"
                    + " kvmserver-engine test-jar");
        }
        try {
            if (url.getProtocol().equals("file")) {
                return Path.of(url.toURI());
            }
            if (url.getProtocol().equals("jar")) {
                return extract(((JarURLConnection) url.openConnection()).getJarFile(), kind);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        throw new IllegalStateException("cannot read fixtures from " + url);
    }

    private static Path extract(JarFile jar, String kind) throws IOException {
        Path target = EXTRACTED.resolve(kind).toAbsolutePath();
        String prefix = ROOT + kind + "/";
        for (Enumeration<JarEntry> entries = jar.entries(); entries.hasMoreElements();) {
            JarEntry entry = entries.nextElement();
            if (!entry.getName().startsWith(prefix) || entry.isDirectory()) {
                continue;
            }
            Path file = target.resolve(entry.getName().substring(prefix.length()));
            Files.createDirectories(file.getParent());
            try (InputStream in = jar.getInputStream(entry)) {
                Files.copy(in, file, StandardCopyOption.REPLACE_EXISTING);
            }
        }
        return target;
    }
}
