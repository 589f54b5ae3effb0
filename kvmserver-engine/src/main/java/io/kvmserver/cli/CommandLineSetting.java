package io.kvmserver.cli;

/**
 * A converted option value and where it came from ({@code --volume}, or
 * {@code /srv/kvmserver.toml:4: volume}), so that a value found wrong only when it is applied
 * can still be traced to its flag or file line.
 */
record CommandLineSetting(Object value, String where) {
}
