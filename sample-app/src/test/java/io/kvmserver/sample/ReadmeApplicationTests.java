package io.kvmserver.sample;

import static org.assertj.core.api.Assertions.assertThat;

import io.kvmserver.testing.Http;
import io.kvmserver.testing.RequiresKvm;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.SpringApplication;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * A fresh application built only from the README: an empty Spring Boot application with the
 * starter and web MVC, configured with exactly the YAML of the README's Spring Boot section (the
 * guest's private address moved to another port, though nothing listens there). It must start,
 * serve through its route, answer its probes and stop, and log no warning.
 */
@RequiresKvm
@ExtendWith(OutputCaptureExtension.class)
class ReadmeApplicationTests {

    @Test
    void theReadmesConfigurationServes(@TempDir Path dir, CapturedOutput output) throws Exception {
        int guest = Http.freePort();
        String yaml = String.join("\n---\n", yamlBlocks("## Spring Boot")).replace("8000", String.valueOf(guest));
        assertThat(yaml).contains("kvmserver:", "management:");
        Path config = Files.writeString(dir.resolve("application.yml"), yaml);
        try (ConfigurableApplicationContext context = SpringApplication.run(FreshApplication.class,
                "--spring.config.location=file:" + config, "--server.port=0")) {
            for (int i = 0; i < 2; i++) {
                HttpResponse<String> listing = SampleRuns.get(context, "/doc/");
                assertThat(listing.statusCode()).isEqualTo(200);
                assertThat(listing.body()).contains("Directory listing for /doc/");
            }
            assertThat(SampleRuns.get(context, "/actuator/health/readiness").statusCode()).isEqualTo(200);
            assertThat(SampleRuns.get(context, "/actuator/health/liveness").statusCode()).isEqualTo(200);
        }
        SampleRuns.assertCleanLog(output);
    }

    /** The YAML code blocks of a README section. */
    static List<String> yamlBlocks(String heading) throws IOException {
        return yamlBlocks(Path.of("../README.md"), heading);
    }

    /** The YAML code blocks of a section of a Markdown file, up to the next heading of its level. */
    static List<String> yamlBlocks(Path markdown, String heading) throws IOException {
        List<String> lines = Files.readAllLines(markdown);
        String level = heading.substring(0, heading.indexOf(' ') + 1);
        int at = lines.indexOf(heading);
        assertThat(at).as("README heading %s", heading).isNotNegative();
        List<String> blocks = new ArrayList<>();
        StringBuilder block = null;
        for (int i = at + 1; i < lines.size() && !lines.get(i).startsWith(level); i++) {
            String line = lines.get(i);
            if (block == null && line.equals("```yaml")) {
                block = new StringBuilder();
            }
            else if (block != null && line.equals("```")) {
                blocks.add(block.toString());
                block = null;
            }
            else if (block != null) {
                block.append(line).append('\n');
            }
        }
        return blocks;
    }

    /** The README's application: without the Spring Security the sample's classpath holds. */
    @SpringBootConfiguration
    @EnableAutoConfiguration(excludeName = {
            "org.springframework.boot.security.autoconfigure.SecurityAutoConfiguration",
            "org.springframework.boot.security.autoconfigure.UserDetailsServiceAutoConfiguration",
            "org.springframework.boot.security.autoconfigure.actuate.web.servlet.ManagementWebSecurityAutoConfiguration",
            "org.springframework.boot.security.autoconfigure.web.servlet.SecurityFilterAutoConfiguration",
            "org.springframework.boot.security.autoconfigure.web.servlet.ServletWebSecurityAutoConfiguration" })
    static class FreshApplication {

    }

}
