package io.kvmserver.sample;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.context.annotation.Bean;
import org.springframework.security.config.Customizer;
import org.springframework.security.config.annotation.web.builders.HttpSecurity;
import org.springframework.security.web.SecurityFilterChain;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/**
 * A Spring Boot application that serves a bundled Linux executable with per-request KVM
 * isolation, through routes of its own: {@code /guest/**} and {@code /private/**} are forwarded
 * to a fresh copy of the guest (application.yml), {@code /spring} is a plain controller beside
 * them, and Spring Security asks for basic auth on {@code /private/**} before any VM runs.
 */
@SpringBootApplication
@RestController
public class SampleApplication {

    public static void main(String[] args) {
        SpringApplication.run(SampleApplication.class, args);
    }

    @GetMapping("/spring")
    String spring() {
        return "Hello from Spring!\n";
    }

    @Bean
    SecurityFilterChain security(HttpSecurity http) throws Exception {
        return http.authorizeHttpRequests((requests) -> requests.requestMatchers("/private/**")
            .authenticated()
            .anyRequest()
            .permitAll())
            .httpBasic(Customizer.withDefaults())
            .csrf((csrf) -> csrf.disable()) // the guest's own forms, if any, are its to protect
            .build();
    }

}
