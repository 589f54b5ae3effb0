# Sourced by run.sh, compare.sh and profile.sh: `build_servers DIR` compiles the servers that
# Guests runs from DIR (ServerBenchmarks --programs DIR): the engine's C epoll test server
# (http_server, static), and issue 10's compiled fixtures from kvmserver-engine/src/test/guests,
# built as the engine's tests build them (CompiledGuests): go-counter static (CGO_ENABLED=0) with
# the standard library only, tokio-counter offline from Debian's crates. A toolchain that is
# missing (bash .ci/install-guests) leaves its server out, and its rows say it is missing.
build_servers() {
  local out="$1" fixtures="$ROOT/kvmserver-engine/src/test/guests"
  mkdir -p "$out"
  gcc -O2 -Wall -Wno-unused-result -static -o "$out/http_server" "$ROOT/kvmserver-engine/src/test/c/http_server.c"
  if command -v go >/dev/null; then
    (cd "$fixtures/go-counter" && CGO_ENABLED=0 GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
      go build -trimpath -o "$out/go-counter" .)
  else
    echo "build_servers: go is not installed: no go-counter" >&2
  fi
  if command -v cargo >/dev/null; then
    (cd "$fixtures/tokio-counter" && cargo build --release --offline --quiet --target-dir "$out/cargo")
    cp "$out/cargo/release/tokio-counter" "$out/tokio-counter"
  else
    echo "build_servers: cargo is not installed: no tokio-counter" >&2
  fi
}
