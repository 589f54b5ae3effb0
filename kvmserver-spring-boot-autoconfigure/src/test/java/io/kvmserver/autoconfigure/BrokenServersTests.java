package io.kvmserver.autoconfigure;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * One application, one liveness state, several servers publishing to it: CORRECT only once none
 * is broken (review of 2026-12-05, third round: a server that recovered would have published
 * CORRECT while another was still stuck).
 */
class BrokenServersTests {

    @Test
    void livenessIsCorrectAgainOnlyOnceEveryServerOfTheApplicationRecovered() {
        Object application = new Object();
        Object another = new Object();
        BrokenServers.broken(application, "default");
        BrokenServers.broken(application, "render");
        BrokenServers.broken(another, "default");
        assertThat(BrokenServers.recovered(application, "render")).containsExactly("default");
        assertThat(BrokenServers.recovered(application, "default")).isEmpty();
        assertThat(BrokenServers.recovered(another, "default")).as("another application's own").isEmpty();
        assertThat(BrokenServers.recovered(new Object(), "default")).as("never broken").isEmpty();
    }
}
