# ferry: build in the Rust image, run in a slim Debian with only the binary and the job.
# docker compose up -d --build (see docker-compose.yml) builds and starts it.

FROM rust:1-bookworm AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends clang libssl-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock rust-toolchain.toml ./
COPY src ./src
COPY benches ./benches
COPY examples ./examples
# Cargo features to build with: FEATURES=distributed for the Ballista cluster (compose profile
# `cluster`). The registry and target folders are cached between builds (BuildKit).
ARG FEATURES=""
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin ferry --features "$FEATURES" && cp target/release/ferry /usr/local/bin/ferry

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libssl3 curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /app ferry
WORKDIR /app
COPY --from=build /usr/local/bin/ferry /usr/local/bin/ferry
COPY ferry.toml ./ferry.toml
COPY queries ./queries
USER ferry
EXPOSE 8080
# SIGTERM (docker stop) lets a running migration finish before the process exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["ferry"]
CMD ["serve", "--job", "/app/ferry.toml", "--bind", "0.0.0.0:8080"]
