package io.kvmserver.autoconfigure.route;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import io.kvmserver.autoconfigure.KvmServerLifecycle;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;
import org.springframework.boot.test.web.server.LocalServerPort;

/** Routes in a Spring MVC application (Tomcat). */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, classes = RouteTests.Application.class,
        properties = "spring.main.web-application-type=servlet")
@ExtendWith(OutputCaptureExtension.class)
class ServletRouteTests extends RouteTests {

    @LocalServerPort
    private int localPort;

    @Autowired
    @Qualifier("kvmServerLifecycle-streamed")
    private KvmServerLifecycle streamed;

    /**
     * A client that announces a large body and stalls before sending it, to a program that answers
     * without reading it, behind a route that streams bodies. Found by the review of 2026-12-04 late: the handler returned while the
     * thread copying the body still read the request's stream, which Tomcat then recycled for
     * other clients (their requests broke with 400s, their bytes read by this copier). Now a
     * routed request is over only when its copier is: whenever its observation has stopped, no
     * copier reads (the request normally lasts until the client sends more or goes).
     */
    @Test
    void noBodyCopierOutlivesItsRequest() throws Exception {
        // Every VM free first: a request refused 503 for another test's VM would end at once.
        RouteClient.waitFor(() -> this.streamed.getServer().busyVms() == 0);
        try (Socket client = new Socket()) {
            client.connect(new InetSocketAddress("127.0.0.1", this.localPort), 5000);
            client.getOutputStream().write(("POST /streamed/counter HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000000\r\n"
                    + "\r\n").getBytes(StandardCharsets.US_ASCII));
            Thread.sleep(1000);
            if (observedPosts("/streamed/counter") == 1) {
                assertThat(ServletRouteHandler.copying()).as("a copier reads after its request ended").isZero();
            }
        }
        RouteClient.waitFor(() -> observedPosts("/streamed/counter") == 1);
        assertThat(ServletRouteHandler.copying()).isZero();
    }

    /**
     * A charset no JVM knows in the program's Content-Type: Tomcat logged a warning with a long
     * stack trace for each such answer (review of 2026-12-05), so the program decided how fast the
     * log grew; the charset is left out and nothing is logged.
     */
    @Test
    void anUnknownCharsetInTheProgramsContentTypeIsLeftOut(CapturedOutput output) throws Exception {
        java.net.http.HttpResponse<String> answer = new RouteClient(this.localPort).get("/charset");
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(answer.headers().firstValue("Content-Type")).hasValueSatisfying(
                (type) -> assertThat(type).startsWith("text/plain").doesNotContain("nope"));
        assertThat(output.getAll()).doesNotContain("is not recognised by the JRE");
    }

}
