package io.kvmserver.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestsTest {

    private static final Map<String, Guest> GUESTS = Guests.all(Path.of("/repo"), Path.of("/built"));

    @TempDir
    Path work;

    @Test
    void portAndWorkAreFilledInTheCommandAndThePermissions() {
        Guest nginx = GUESTS.get("nginx");
        assertThat(nginx.command(8080, work)).containsExactly("/usr/sbin/nginx", "-p", work.toString(), "-c",
                work + "/nginx.conf", "-e", "stderr");
        assertThat(Guest.fill(nginx.settings().allowWrite(), 8080, work)).containsExactly(work + "/run");
        assertThat(Guest.fill(List.of("127.0.0.1:PORT"), 8080, work)).containsExactly("127.0.0.1:8080");
    }

    @Test
    void everyGuestSaysWhatAnEphemeralAnswerIsWarmedUpOrNot() {
        GUESTS.values().forEach(g -> {
            assertThat(g.exchange().ephemeralAnswer(0)).as(g.key()).isNotNull().startsWith(g.exchange().prefix());
            assertThat(g.exchange().ephemeralAnswer(20)).as(g.key()).isNotNull().startsWith(g.exchange().prefix());
        });
    }

    @Test
    void issue10sRuntimesAreEachDeclared() {
        assertThat(GUESTS).containsKeys("go", "tokio", "redis", "bun", "python-http", "php", "deno");
    }

    /** A template that served N warmup requests answers request N + 1 in every request VM. */
    @Test
    void aPerProcessCounterAnswersOneMoreThanTheWarmupRequestsTheTemplateServed() {
        for (String key : List.of("go", "tokio", "bun", "deno", "php")) {
            Guest.Exchange exchange = GUESTS.get(key).exchange();
            assertThat(exchange.ephemeralAnswer(0)).as(key).isEqualTo("1");
            assertThat(exchange.ephemeralAnswer(20)).as(key).isEqualTo("21");
            assertThat(exchange.http()).as(key).isTrue();
        }
        assertThat(GUESTS.get("python").exchange().ephemeralAnswer(20)).isEqualTo("python served=21");
    }

    @Test
    void aGuestWithoutACounterAnswersTheSameWarmedUpOrNot() {
        for (String key : List.of("c", "nginx", "python-http")) {
            Guest.Exchange exchange = GUESTS.get(key).exchange();
            assertThat(exchange.ephemeralAnswer(20)).as(key).isEqualTo(exchange.ephemeralAnswer(0));
        }
        assertThat(GUESTS.get("c").exchange().ephemeralAnswer(5)).isEqualTo("hello");
    }

    /** redis: INCR over its own protocol; the engine's HTTP warmup requests are refused uncounted. */
    @Test
    void redisIsAskedIncrOverItsProtocolAndAnswersOneWarmedUpOrNot() {
        Guest redis = GUESTS.get("redis");
        assertThat(redis.exchange().http()).isFalse();
        assertThat(redis.exchange().request()).isEqualTo("INCR counter\r\nQUIT\r\n");
        assertThat(redis.exchange().prefix()).isEqualTo(":");
        assertThat(redis.exchange().ephemeralAnswer(0)).isEqualTo(":1\r\n+OK\r\n");
        assertThat(redis.exchange().ephemeralAnswer(20)).isEqualTo(":1\r\n+OK\r\n");
        assertThat(redis.command(6400, work)).containsExactly(redis.program(), "--port", "6400", "--bind",
                "127.0.0.1", "--save", "", "--appendonly", "no");
    }

    @Test
    void pythonsHttpServerIsAskedForItsFileAndWarmedUpOnIt() {
        Guest.Exchange exchange = GUESTS.get("python-http").exchange();
        assertThat(exchange.request()).startsWith("GET /hello.txt HTTP/1.1\r\n").endsWith("\r\n\r\n");
        assertThat(exchange.warmupPath()).isEqualTo("/hello.txt");
        assertThat(exchange.ephemeralAnswer(0)).isEqualTo("served by python3 -m http.server\n");
        assertThat(GUESTS.get("python-http").settings().allowRead())
                .contains("/etc/mime.types", "/repo/kvmserver-engine/src/test/guests/python-http-server/www");
    }

    @Test
    void theCompiledServersComeFromTheProgramsDirectory() {
        assertThat(GUESTS.get("c").program()).isEqualTo("/built/http_server");
        assertThat(GUESTS.get("go").program()).isEqualTo("/built/go-counter");
        assertThat(GUESTS.get("tokio").program()).isEqualTo("/built/tokio-counter");
    }

    /** V8 and JavaScriptCore reserve GiBs of address space; the others fit in 1 GiB. */
    @Test
    void theJitRuntimesGetTheDefaultEightGibAndTheirEnvironment() {
        assertThat(GUESTS.get("deno").settings().mainMemory()).isEqualTo(8192L << 20);
        assertThat(GUESTS.get("bun").settings().mainMemory()).isEqualTo(8192L << 20);
        assertThat(GUESTS.get("deno").settings().env()).containsExactly("DENO_NO_UPDATE_CHECK=1", "NO_COLOR=1", "DENO_DIR=WORK/deno");
        assertThat(GUESTS.get("deno").args()).startsWith("run", "--allow-net=127.0.0.1");
        for (String key : List.of("go", "tokio", "redis", "python-http", "php")) {
            assertThat(GUESTS.get(key).settings().mainMemory()).as(key).isEqualTo(1024L << 20);
        }
    }

    @Test
    void nginxGetsAConfigurationOfItsOwnThatListensOnThePortAndKeepsEverythingInWork() throws Exception {
        GUESTS.get("nginx").setup().prepare(work, 8080);
        String conf = Files.readString(work.resolve("nginx.conf"));
        assertThat(conf).contains("listen 127.0.0.1:8080;", "master_process off;", "daemon off;",
                "pid " + work.resolve("run/nginx.pid"), "return 200 \"hello\"");
        assertThat(conf.lines().filter(l -> l.contains("/")).filter(l -> !l.contains("text/plain")))
                .allSatisfy(l -> assertThat(l).contains(work.toString()));
        assertThat(work.resolve("temp/client")).isDirectory();
        assertThat(work.resolve("run")).isDirectory();
    }
}
