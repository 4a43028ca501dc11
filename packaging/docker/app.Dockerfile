# SPDX-License-Identifier: MIT
# An app's image on top of cppgunicorn's, as a template. As written it builds the notes
# example (examples/notes: SQLite, its data in a volume); for your app, change the lines
# marked "your app".
#
# The build context is a directory holding
#   cppgunicorn.deb   the Debian package (`cd build && cpack -G DEB`): the kit to build with
#   app/              the app's CMake project (here a copy of examples/notes)
# and the server image (the top-level Dockerfile) must exist:
#   docker build -t cppgunicorn .
#   docker build -f packaging/docker/app.Dockerfile -t notes CONTEXT
#   docker run -d -p 127.0.0.1:8000:8000 -v notes-data:/var/lib/app notes
# (podman and buildah: add --format docker, or the HEALTHCHECK is dropped.)
#
# Why it is built this way (docs/deployment.md, "Your app on top"):
# - the app is built on the Debian release the server image runs (bookworm), against the
#   kit of the same cppgunicorn, and its unit tests run in the build;
# - the server image has the server's libraries only: the run stage installs the packages
#   of every library the app links that the server does not (`ldd notes.so`: libsqlite3);
#   packaging/tests/app-dockerfile.py checks that in every test run;
# - the image's user (cppgunicorn, uid 10001) is not root and cannot write under /app: the
#   app's data goes to /var/lib/app, a volume that belongs to that user.

ARG SERVER_IMAGE=cppgunicorn

FROM debian:bookworm-slim AS build
COPY cppgunicorn.deb /tmp/
# your app: the -dev packages it builds with (doctest-dev for its tests)
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/cppgunicorn.deb cmake make g++ \
      nlohmann-json3-dev doctest-dev libsqlite3-dev \
 && rm -rf /var/lib/apt/lists/* /tmp/cppgunicorn.deb
COPY app /src
RUN cmake -S /src -B /build -DCMAKE_BUILD_TYPE=Release \
 && cmake --build /build -j"$(nproc)" \
 && cd /build && ctest --output-on-failure

FROM ${SERVER_IMAGE}
USER root
# your app: the runtime packages of the libraries it links (ldd: libsqlite3.so.0)
RUN apt-get update \
 && apt-get install -y --no-install-recommends libsqlite3-0 \
 && rm -rf /var/lib/apt/lists/* \
 && install -d -o cppgunicorn -g cppgunicorn -m 0750 /var/lib/app
# your app: the plugin
COPY --from=build /build/notes.so /app/notes.so
USER cppgunicorn
# An empty named volume starts as a copy of this directory, owner included.
VOLUME /var/lib/app
# The master answers /readyz itself (CPPGUNICORN_ADMIN_BIND, from the server image).
HEALTHCHECK --interval=10s --timeout=5s --start-period=5s --retries=3 \
  CMD ["cppgunicorn", "--probe", "/readyz"]
# your app: its path, and its arguments after --: here the database, in the volume
CMD ["/app/notes.so", "--", "/var/lib/app/notes.db"]
