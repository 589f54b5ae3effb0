package io.kvmserver.autoconfigure.route;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The program's {@code Content-Type} as Tomcat is given it: a charset the JVM does not know is
 * left out, however the program spaces or quotes it, and the rest stays as written (the review of
 * 2026-12-05 passed {@code charset =nope} by the check, and Tomcat logged its long warning).
 */
class ForwardedHeadersTests {

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            text/plain; charset=nope                | text/plain
            text/plain; charset =nope               | text/plain
            text/plain; charset\t= "nope"           | text/plain
            text/plain; CHARSET=nope; q=1           | text/plain; q=1
            text/plain; charset=                    | text/plain
            text/plain; charset=UTF-8               | text/plain; charset=UTF-8
            text/plain; charset="utf-8"             | text/plain; charset="utf-8"
            text/plain; x="a;charset=nope"          | text/plain; x="a;charset=nope"
            text/plain; x="a\\"b;c"; charset=nope   | text/plain; x="a\\"b;c"
            application/json                        | application/json
            """)
    void anUnknownCharsetIsLeftOutAndTheRestKept(String written, String relayed) {
        assertThat(ForwardedHeaders.withKnownCharset(written.replace("\\t", "\t"))).isEqualTo(relayed);
    }

}
