# SPDX-License-Identifier: MIT
# cppgunicorn in a container: build stage with the -dev packages, runtime stage with only the
# runtime libraries, the server and the example apps.
#
#   docker build -t cppgunicorn .            (or: podman build --format docker -t cppgunicorn .)
#   docker run --rm -p 127.0.0.1:8000:8000 cppgunicorn
#
# An app image on top: packaging/docker/app.Dockerfile, a template that builds the app
# against the kit, installs the libraries it links and gives it a data volume
# (docs/deployment.md, "Your app on top").
#
# The master runs as PID 1: it reaps every child, including processes an app orphaned, and
# stops gracefully on TERM.

FROM debian:bookworm-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake make g++ pkg-config node-llhttp \
      libuv1-dev libspdlog-dev libyaml-cpp-dev nlohmann-json3-dev libsystemd-dev libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release -DCPPG_TESTS=OFF -DCMAKE_INSTALL_PREFIX=/usr \
 && cmake --build /build -j"$(nproc)" \
 && DESTDIR=/stage cmake --install /build --strip

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libuv1 libspdlog1.10-fmt9 libyaml-cpp0.7 libsystemd0 \
 && apt-get clean && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin cppgunicorn
COPY --from=build /stage/usr/bin/cppgunicorn /usr/bin/cppgunicorn
COPY --from=build /stage/usr/lib/cppgunicorn /usr/lib/cppgunicorn
# Settings through the environment, so that a CMD with other flags keeps them (a flag wins
# over its variable). graceful_timeout fits `docker stop`'s default 10 s (the master kills
# what is left 2 s after it); raise both together (docker stop -t, terminationGracePeriodSeconds).
ENV CPPGUNICORN_BIND=0.0.0.0:8000 \
    CPPGUNICORN_ADMIN_BIND=127.0.0.1:9000 \
    CPPGUNICORN_WORKERS=2 \
    CPPGUNICORN_THREADS=2 \
    CPPGUNICORN_ACCESSLOG=- \
    CPPGUNICORN_GRACEFUL_TIMEOUT=7
USER cppgunicorn
WORKDIR /app
EXPOSE 8000
STOPSIGNAL SIGTERM
# The master answers /readyz itself; --probe needs no curl in the image.
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["cppgunicorn", "--probe", "/readyz"]
ENTRYPOINT ["cppgunicorn"]
CMD ["/usr/lib/cppgunicorn/examples/hello.so"]
