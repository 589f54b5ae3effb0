package io.kvmserver.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class VolumeTest {

    private static final Path BASE = Path.of("/home/user");

    @ParameterizedTest
    @CsvSource({
        "/srv/data:/data,       /srv/data, /data, false",
        "/srv/data:/data:r,     /srv/data, /data, false",
        "/srv/data:/data:w,     /srv/data, /data, true",
        "/srv/data:/data:rw,    /srv/data, /data, true",
        "data:/data,            /home/user/data, /data, false",
        "../x/./y/:/a//b/,      /home/x/y, /a/b, false",
    })
    void parsesTheVolumeSyntax(String spec, String host, String guest, boolean writable) {
        assertThat(Volume.parse(spec, BASE)).isEqualTo(new Volume(host, guest, writable));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "/srv/data                | is not <host-path>:<guest-path>[:r|w|rw]",
        "/srv/data:               | is not <host-path>:<guest-path>",
        ":/data                   | is not <host-path>:<guest-path>",
        "/a:/b:rw:x               | is not <host-path>:<guest-path>",
        "/a:/b:x                  | has mode 'x'; use r (read-only), w or rw",
        "/a:/b:                   | has mode ''",
        "/a:data                  | volume guest path 'data' must be absolute",
    })
    void rejectsMalformedSpecs(String spec, String message) {
        assertThatThrownBy(() -> Volume.parse(spec, BASE)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(message);
    }

    @Test
    void specReadsBack() {
        Volume volume = new Volume("/h", "/g", true);
        assertThat(Volume.parse(volume.spec(), BASE)).isEqualTo(volume);
        assertThat(new Volume("/h", "/g", false).spec()).isEqualTo("/h:/g:r");
    }

    @Test
    void rejectsRelativeHostPathAndColonsInTheRecord() {
        assertThatThrownBy(() -> new Volume("h", "/g", false)).hasMessage("volume host path 'h' must be absolute");
        assertThatThrownBy(() -> new Volume("/a:b", "/g", false))
                .hasMessage("volume host path '/a:b' must not contain ':'");
    }
}
