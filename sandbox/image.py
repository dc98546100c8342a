"""Building the sandbox image, with or without a registry.

Two recipes make the same environment (python3, pytest, pytest-asyncio, numpy, pandas, scipy):

* ``debootstrap``: a minimal Debian bookworm from the mirror apt already uses, imported with
  ``docker import``. Needs no registry, only the Debian mirror; the rootfs tarball is cached under
  ``~/.cache/ponder`` so rebuilding the image is a re-import.
* ``dockerfile``: the shipped Dockerfile (``python:3.12-slim``), for machines that can pull.

Images are tagged by a hash of their recipe, so a build is skipped when that exact image exists,
and ``ponder-sandbox:latest`` (the default `SandboxSettings.image`) points at the result.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import docker
from docker.errors import APIError, DockerException, ImageNotFound

from ponder.sandbox.errors import SandboxUnavailableError
from ponder.sandbox.settings import DEFAULT_IMAGE

Source = Literal["auto", "debootstrap", "dockerfile"]
Log = Callable[[str], None]

DOCKERFILE = Path(__file__).with_name("Dockerfile")
BASE_IMAGE = ("python", "3.12-slim")
SUITE = "bookworm"
PACKAGES = (
    "python3",
    "python3-pytest",
    "python3-pytest-asyncio",
    "python3-numpy",
    "python3-pandas",
    "python3-scipy",
)
CHANGES = ("ENV LANG=C.UTF-8", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
RECIPE_VERSION = 1
"""Bump when the rootfs treatment below changes, so cached images and tarballs are rebuilt."""
FALLBACK_MIRROR = "http://deb.debian.org/debian"
PRUNE = ("var/lib/apt/lists", "var/cache/apt", "usr/share/doc", "usr/share/man", "usr/share/info")


@dataclass(frozen=True, slots=True)
class BuiltImage:
    tag: str
    """The content-hash tag, e.g. ``ponder-sandbox:deb-1a2b3c4d5e6f``."""
    source: Literal["debootstrap", "dockerfile"]
    reused: bool
    """True when an image with this recipe hash already existed (nothing was built)."""


def recipe_hash(source: Literal["debootstrap", "dockerfile"]) -> str:
    """12 hex digits identifying what the recipe produces (the mirror is where, not what)."""
    if source == "dockerfile":
        body = DOCKERFILE.read_text(encoding="utf-8")
    else:
        recipe = {"suite": SUITE, "variant": "minbase", "packages": PACKAGES, "changes": CHANGES}
        body = json.dumps({**recipe, "v": RECIPE_VERSION}, sort_keys=True)
    return hashlib.sha256(f"{source}\n{body}".encode()).hexdigest()[:12]


def hashed_tag(image: str, source: Literal["debootstrap", "dockerfile"]) -> str:
    repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repo}:{'deb' if source == 'debootstrap' else 'df'}-{recipe_hash(source)}"


def apt_mirror(apt_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror apt on this machine uses (deb822 ``*.sources`` or ``sources.list``)."""
    texts = []
    for path in [apt_dir / "sources.list", *sorted((apt_dir / "sources.list.d").glob("*"))]:
        if path.suffix in (".list", ".sources") and path.is_file():
            texts.append(path.read_text(encoding="utf-8", errors="replace"))
    for text in texts:
        for stanza in re.split(r"\n\s*\n", text):
            uris = re.search(r"^URIs:\s*(\S+)", stanza, re.M)
            suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and SUITE in suites.group(1).split():
                return uris.group(1)
        for match in re.finditer(r"^deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", text, re.M):
            if match.group(2) == SUITE:
                return match.group(1)
    return FALLBACK_MIRROR


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ponder"


def find_image(client: docker.DockerClient, tag: str) -> str | None:
    """The image id for `tag`, or None."""
    try:
        return str(client.api.inspect_image(tag)["Id"])
    except ImageNotFound:
        return None


def can_pull(client: docker.DockerClient, timeout_s: float = 20.0) -> bool:
    """Whether the engine can pull the Dockerfile's base image (the only registry probe ponder makes)."""
    if find_image(client, f"{BASE_IMAGE[0]}:{BASE_IMAGE[1]}"):
        return True
    outcome: list[bool] = []

    def pull() -> None:
        try:
            client.api.pull(BASE_IMAGE[0], tag=BASE_IMAGE[1])
            outcome.append(True)
        except DockerException:
            outcome.append(False)

    worker = threading.Thread(target=pull, daemon=True)
    worker.start()
    worker.join(timeout_s)
    return bool(outcome and outcome[0])


def build_image(
    client: docker.DockerClient,
    *,
    source: Source = "auto",
    image: str = DEFAULT_IMAGE,
    force: bool = False,
    pull_timeout_s: float = 20.0,
    log: Log = lambda _msg: None,
) -> BuiltImage:
    """Make `image` exist: reuse a hash-tagged build when present, otherwise build and tag it.

    Args:
        source: ``auto`` uses an existing build of either recipe, else the Dockerfile when the
            engine can pull ``python:3.12-slim`` within `pull_timeout_s`, else debootstrap.
        image: the name to point at the result (default ``ponder-sandbox:latest``).
        force: rebuild even when the hash-tagged image exists.

    Raises:
        SandboxUnavailableError: debootstrap missing and not installable, a failed build or import.
    """
    chosen: Literal["debootstrap", "dockerfile"]
    if source == "auto":
        existing = [s for s in ("debootstrap", "dockerfile") if find_image(client, hashed_tag(image, s))]  # type: ignore[arg-type]
        if existing and not force:
            chosen = existing[0]  # type: ignore[assignment]
        else:
            log(f"checking whether the engine can pull {':'.join(BASE_IMAGE)} ({pull_timeout_s:.0f} s)")
            chosen = "dockerfile" if can_pull(client, pull_timeout_s) else "debootstrap"
    else:
        chosen = source
    tag = hashed_tag(image, chosen)
    if find_image(client, tag) and not force:
        log(f"reusing {tag}")
        _tag(client, tag, image)
        return BuiltImage(tag=tag, source=chosen, reused=True)
    if chosen == "dockerfile":
        _build_dockerfile(client, tag, log)
    else:
        _import_rootfs(client, rootfs_tarball(log=log), tag, log)
    _tag(client, tag, image)
    return BuiltImage(tag=tag, source=chosen, reused=False)


def _tag(client: docker.DockerClient, tag: str, image: str) -> None:
    if tag != image:
        repo, _, name = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "latest")
        client.api.tag(tag, repo, name)


def _build_dockerfile(client: docker.DockerClient, tag: str, log: Log) -> None:
    log(f"building {tag} from {DOCKERFILE}")
    try:
        with tempfile.TemporaryDirectory(prefix="ponder-image-") as ctx:
            shutil.copy(DOCKERFILE, Path(ctx) / "Dockerfile")
            client.images.build(path=ctx, tag=tag, rm=True, pull=False)
    except DockerException as exc:
        raise SandboxUnavailableError(
            f"building {tag} from {DOCKERFILE} failed ({exc}); without a registry use "
            "`ponder sandbox build-image --from debootstrap`"
        ) from exc


def ensure_debootstrap(log: Log) -> str:
    """Path of debootstrap, installing it with apt-get when missing (needs root)."""
    found = shutil.which("debootstrap") or next(
        (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if os.access(p, os.X_OK)), None
    )
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise SandboxUnavailableError(
            "debootstrap is not installed; run `sudo apt-get install -y debootstrap` (or build with "
            "`ponder sandbox build-image --from dockerfile` where a registry is reachable)"
        )
    log("installing debootstrap with apt-get")
    for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "debootstrap"]):
        _check(cmd, "installing debootstrap")
    return shutil.which("debootstrap") or "/usr/sbin/debootstrap"


def rootfs_tarball(*, log: Log, cache: Path | None = None, mirror: str | None = None) -> Path:
    """The cached rootfs tar for the debootstrap recipe, bootstrapping it on first use (~1 min)."""
    cache = cache or cache_dir()
    target = cache / f"sandbox-rootfs-{recipe_hash('debootstrap')}.tar"
    if target.is_file():
        log(f"using cached rootfs {target}")
        return target
    if os.geteuid() != 0:
        raise SandboxUnavailableError(
            "debootstrap needs root to build the sandbox rootfs; run `sudo ponder sandbox build-image`"
        )
    debootstrap = ensure_debootstrap(log)
    mirror = mirror or apt_mirror()
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=cache) as tmp:
        rootfs = Path(tmp) / "rootfs"
        log(f"debootstrap {SUITE} from {mirror} (about a minute)")
        _check(
            [
                debootstrap,
                "--variant=minbase",
                f"--cache-dir={cache / 'debs'}",
                f"--include={','.join(PACKAGES)}",
                SUITE,
                str(rootfs),
                mirror,
            ],
            "debootstrap",
            prepare=lambda: (cache / "debs").mkdir(exist_ok=True),
        )
        for rel in PRUNE:
            shutil.rmtree(rootfs / rel, ignore_errors=True)
        partial = Path(tmp) / "rootfs.tar"
        _check(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], "packing the rootfs")
        os.replace(partial, target)
    return target


def _import_rootfs(client: docker.DockerClient, tarball: Path, tag: str, log: Log) -> None:
    log(f"importing {tarball.name} as {tag}")
    repo, _, name = tag.rpartition(":")
    try:
        client.api.import_image_from_file(str(tarball), repository=repo, tag=name, changes=list(CHANGES))
    except APIError as exc:
        raise SandboxUnavailableError(
            f"docker import of {tarball} failed ({exc}); delete the file and rerun"
        ) from exc
    if not find_image(client, tag):
        raise SandboxUnavailableError(
            f"docker import of {tarball} produced no {tag}; delete the file and rerun"
        )


def _check(cmd: list[str], what: str, prepare: Callable[[], object] | None = None) -> None:
    if prepare:
        prepare()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise SandboxUnavailableError(
            f"{what} failed (exit {proc.returncode}: {tail}); command: {' '.join(cmd)}"
        )
