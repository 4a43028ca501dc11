#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The app image template (packaging/docker/app.Dockerfile), checked without building it:
the two ways an app image on top of the server image breaks at run time.

1. A library the app links is not in the image. The server image has the server's
   libraries; every other library `ldd` lists for the app (built here: BUILD_DIR/examples/
   notes.so) must come from a package the run stage installs. The package is the one that
   owns the library on this machine (dpkg -S), which runs the same Debian release.
2. The app cannot write its data. The run stage must run as a user that is not root, and
   each VOLUME must be a directory that a RUN of that stage creates for that user.

Also: the CMD runs the .so the run stage copies from the build stage, and the HEALTHCHECK
asks the master (cppgunicorn --probe). packaging/tests/docker.sh builds and runs the image.

Usage: app-dockerfile.py BUILD_DIR [DOCKERFILE]
"""
import json
import os
import re
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DOCKERFILE = os.path.join(HERE, "..", "docker", "app.Dockerfile")


def instructions(path):
    """(INSTRUCTION, arguments) for each instruction, continuation lines joined."""
    out, pending = [], ""
    with open(path) as f:
        for line in f:
            stripped = line.strip()
            if not pending and (not stripped or stripped.startswith("#")):
                continue
            if pending and stripped.startswith("#"):
                continue  # a comment inside a continued instruction
            if stripped.endswith("\\"):
                pending += stripped[:-1] + " "
                continue
            whole = pending + stripped
            pending = ""
            word, _, rest = whole.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def final_stage(steps):
    starts = [i for i, (word, _) in enumerate(steps) if word == "FROM"]
    return steps[starts[-1]:]


def installed_packages(stage):
    """The packages the stage's RUN lines install with apt-get (or apt) install."""
    packages = set()
    for word, args in stage:
        if word != "RUN":
            continue
        for command in re.split(r"&&|;|\|\|", args):
            tokens = shlex.split(command)
            if len(tokens) >= 2 and tokens[0] in ("apt-get", "apt") and "install" in tokens:
                after = tokens[tokens.index("install") + 1:]
                packages.update(t for t in after if not t.startswith("-"))
    return packages


def linked_libraries(binary):
    """{soname: resolved path} from ldd, the loader and the vDSO left out."""
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    libs = {}
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+)", line)
        if m:
            libs[m.group(1)] = m.group(2)
        elif "=> not found" in line:
            sys.exit("%s: %s" % (binary, line.strip()))
    return libs


def owning_package(path):
    """The Debian package that installed a library file (usrmerge: either spelling)."""
    candidates = [path, os.path.realpath(path)]
    if not path.startswith("/usr/"):
        candidates.append("/usr" + path)
    for candidate in candidates:
        done = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
        if done.returncode == 0:
            return done.stdout.split(":")[0].strip()
    return None


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit(__doc__)
    build = argv[1]
    dockerfile = argv[2] if len(argv) == 3 else DEFAULT_DOCKERFILE
    stage = final_stage(instructions(dockerfile))
    problems = []

    # The app the template builds, as the CMD names it; the .so of that name in this build.
    cmd = [args for word, args in stage if word == "CMD"]
    app_path = json.loads(cmd[-1])[0] if cmd else None
    copied = [args.split()[-1] for word, args in stage if word == "COPY" and args.startswith("--from=")]
    if app_path not in copied:
        problems.append("the CMD runs %s, which the run stage does not COPY --from the build" % app_path)
    app = os.path.join(build, "examples", os.path.basename(app_path or "?"))
    if not os.path.exists(app):
        sys.exit("app-dockerfile.py: %s not built" % app)

    # 1. Libraries: what the app links beyond what the server links.
    provided = installed_packages(stage)
    server = linked_libraries(os.path.join(build, "cppgunicorn"))
    for soname, path in sorted(linked_libraries(app).items()):
        if soname in server:
            continue
        package = owning_package(path)
        if package is None:
            problems.append("%s links %s (%s), which no Debian package provides" % (app_path, soname, path))
        elif package not in provided:
            problems.append("%s links %s: the run stage does not install %s (it installs: %s)"
                            % (app_path, soname, package, ", ".join(sorted(provided)) or "nothing"))

    # 2. Data: a non-root user that owns every volume.
    users = [args for word, args in stage if word == "USER"]
    user = users[-1].split(":")[0] if users else "root"
    if user in ("root", "0"):
        problems.append("the run stage runs as root")
    runs = " ".join(args for word, args in stage if word == "RUN")
    for word, args in stage:
        if word != "VOLUME":
            continue
        for volume in (json.loads(args) if args.startswith("[") else args.split()):
            owned = re.search(r"install\s+-d\b[^&;]*-o\s+%s\b[^&;]*\s%s(\s|$)" % (re.escape(user), re.escape(volume)), runs) \
                or re.search(r"chown\s+(-R\s+)?%s(:\S+)?\s+[^&;]*%s(\s|$)" % (re.escape(user), re.escape(volume)), runs)
            if not owned:
                problems.append("VOLUME %s: no RUN of the run stage makes it a directory of %s (install -d -o %s ... %s)"
                                % (volume, user, user, volume))
    if not any(word == "VOLUME" for word, _ in stage):
        problems.append("no VOLUME for the app's data")

    health = [args for word, args in stage if word == "HEALTHCHECK"]
    if not health or "--probe" not in health[-1]:
        problems.append("no HEALTHCHECK with cppgunicorn --probe")

    for problem in problems:
        print("FAIL: %s: %s" % (os.path.relpath(dockerfile), problem))
    if problems:
        sys.exit(1)
    extra = sorted(set(linked_libraries(app)) - set(server))
    print("%s: the run stage installs what %s links beyond the server (%s), runs as %s, "
          "and its volumes belong to %s" % (os.path.relpath(dockerfile), os.path.basename(app),
                                            ", ".join(extra) or "nothing", user, user))


if __name__ == "__main__":
    main(sys.argv)
