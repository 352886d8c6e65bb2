# Build:  docker build -t qanatix .
# Run:    docker run -d --name qanatix -p 8000:8000 -v qanatix-data:/data qanatix
#         docker logs qanatix            # the master key's path and the first-key commands
#         docker exec qanatix cat /data/master.key
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin qanatix

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin qanatix \
    && mkdir -p /data && chown qanatix:qanatix /data && chmod 0700 /data
COPY --from=build /src/target/release/qanatix /usr/local/bin/qanatix
USER qanatix
# HOST 0.0.0.0: inside the container the published port is the only way in.
ENV DATA_DIR=/data HOST=0.0.0.0 PORT=8000 RUST_LOG=info
VOLUME /data
EXPOSE 8000
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=30s --timeout=3s CMD curl -fsS http://127.0.0.1:8000/health || exit 1
ENTRYPOINT ["/usr/local/bin/qanatix"]
