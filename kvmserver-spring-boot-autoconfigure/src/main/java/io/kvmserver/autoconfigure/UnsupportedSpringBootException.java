package io.kvmserver.autoconfigure;

/**
 * The application runs a Spring Boot version the kvmserver starter was not built for. On Spring
 * Boot 3, for example, the health indicator's classes do not exist and it would silently
 * disappear; failing at start says so instead.
 */
public class UnsupportedSpringBootException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** The oldest Spring Boot major version the starter supports. */
    static final int REQUIRED_MAJOR = 4;

    private final String version;

    UnsupportedSpringBootException(String version) {
        super("kvmserver's Spring Boot starter needs Spring Boot " + REQUIRED_MAJOR + " or later; this application"
                + " runs Spring Boot " + version);
        this.version = version;
    }

    /** The Spring Boot version the application runs. */
    public String getVersion() {
        return this.version;
    }

    /**
     * Fails for a Spring Boot version older than {@value #REQUIRED_MAJOR}; an unknown version
     * (null, as in some repackaged jars) passes, since nothing can be said about it.
     */
    static void check(String version) {
        if (version == null) {
            return;
        }
        int dot = version.indexOf('.');
        try {
            int major = Integer.parseInt((dot < 0) ? version : version.substring(0, dot));
            if (major < REQUIRED_MAJOR) {
                throw new UnsupportedSpringBootException(version);
            }
        }
        catch (NumberFormatException ex) {
            // A version we cannot read is not one we can judge.
        }
    }

}
