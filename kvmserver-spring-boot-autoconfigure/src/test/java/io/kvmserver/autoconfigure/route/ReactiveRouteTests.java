package io.kvmserver.autoconfigure.route;

import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;

/** Routes in a Spring WebFlux application (Reactor Netty). */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, classes = RouteTests.Application.class,
        properties = "spring.main.web-application-type=reactive")
class ReactiveRouteTests extends RouteTests {

    @Override
    protected boolean waitingHoldsAThread() {
        return false;
    }

}
