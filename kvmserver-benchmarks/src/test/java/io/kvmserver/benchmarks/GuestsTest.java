package io.kvmserver.benchmarks;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GuestsTest {

    @TempDir
    Path work;

    @Test
    void portAndWorkAreFilledInTheCommandAndThePermissions() {
        Guest nginx = Guests.all(Path.of("/repo"), Path.of("/bin/http_server")).get("nginx");
        assertThat(nginx.command(8080, work)).containsExactly("/usr/sbin/nginx", "-p", work.toString(), "-c",
                work + "/nginx.conf", "-e", "stderr");
        assertThat(Guest.fill(nginx.allowWrite(), 8080, work)).containsExactly(work + "/run");
        assertThat(Guest.fill(List.of("127.0.0.1:PORT"), 8080, work)).containsExactly("127.0.0.1:8080");
    }

    @Test
    void everyGuestSaysWhatAnEphemeralAnswerIs() {
        Guests.all(Path.of("/repo"), Path.of("/bin/http_server")).values()
                .forEach(g -> assertThat(g.ephemeralBody()).as(g.key()).isNotNull().startsWith(g.bodyPrefix()));
    }

    @Test
    void nginxGetsAConfigurationOfItsOwnThatListensOnThePortAndKeepsEverythingInWork() throws Exception {
        Guests.all(Path.of("/repo"), Path.of("/bin/http_server")).get("nginx").setup().prepare(work, 8080);
        String conf = Files.readString(work.resolve("nginx.conf"));
        assertThat(conf).contains("listen 127.0.0.1:8080;", "master_process off;", "daemon off;",
                "pid " + work.resolve("run/nginx.pid"), "return 200 \"hello\"");
        assertThat(conf.lines().filter(l -> l.contains("/")).filter(l -> !l.contains("text/plain")))
                .allSatisfy(l -> assertThat(l).contains(work.toString()));
        assertThat(work.resolve("temp/client")).isDirectory();
        assertThat(work.resolve("run")).isDirectory();
    }
}
