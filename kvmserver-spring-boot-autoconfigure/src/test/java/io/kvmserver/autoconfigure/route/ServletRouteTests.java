package io.kvmserver.autoconfigure.route;

import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.context.SpringBootTest.WebEnvironment;

/** Routes in a Spring MVC application (Tomcat). */
@SpringBootTest(webEnvironment = WebEnvironment.RANDOM_PORT, classes = RouteTests.Application.class,
        properties = "spring.main.web-application-type=servlet")
class ServletRouteTests extends RouteTests {

}
