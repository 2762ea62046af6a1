#!/usr/bin/env python3
"""Record what a Nix package set needs of RPMs: name, version, where, sha256, requirements.

    python tools/rpm_metadata.py --repo BASE [--repo BASE ...] [--arch x86_64] [-o FILE] NAME...

BASE is a Yum/DNF repository: a local folder or an http(s) address holding
`repodata/repomd.xml` (for AlmaLinux 8, for example, the BaseOS and
AppStream `.../8/<repo>/x86_64/os/` trees). The tool reads `repomd.xml`,
fetches the `primary` metadata it names and checks it against the sha256
given there, and for each NAME picks the newest build (by rpm's version
comparison) of the requested architecture or `noarch` across the
repositories. The output (JSON, to stdout or FILE) records, per package, its
epoch, version, release, architecture, the address of the RPM and its
sha256 (the one the repository publishes), and its `requires` and
`provides`, with the repositories, their metadata revisions and the date:
nix/rpm.nix turns each entry into a derivation. A NAME no repository has is
an error (exit 2) naming it.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gzip
import hashlib
import json
import lzma
import os
import pathlib
import re
import sys
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from typing import Any

REPO = "{http://linux.duke.edu/metadata/repo}"
COMMON = "{http://linux.duke.edu/metadata/common}"
RPM = "{http://linux.duke.edu/metadata/rpm}"
MAX_METADATA = 1 << 30  # bytes of uncompressed primary metadata (AlmaLinux 8 AppStream's is about 150 MB)


def fetch(base: str, href: str) -> bytes:
    """`href` relative to the repository `base` (a folder or an address)."""
    if re.match(r"^https?://", base):
        address = urllib.parse.urljoin(base.rstrip("/") + "/", href)
        with urllib.request.urlopen(address, timeout=120) as response:
            return bytes(response.read())
    with open(os.path.join(base, *href.split("/")), "rb") as f:
        return f.read()


def address_of(base: str, href: str) -> str:
    if re.match(r"^https?://", base):
        return urllib.parse.urljoin(base.rstrip("/") + "/", href)
    return pathlib.Path(os.path.abspath(os.path.join(base, *href.split("/")))).as_uri()


def primary(base: str) -> tuple[str, ET.Element]:
    """The repository's metadata revision and its parsed primary metadata, checked against repomd.xml."""
    repomd = ET.fromstring(fetch(base, "repodata/repomd.xml"))
    revision = repomd.findtext(f"{REPO}revision") or ""
    for data in repomd.findall(f"{REPO}data"):
        if data.get("type") != "primary":
            continue
        location, checksum = data.find(f"{REPO}location"), data.find(f"{REPO}checksum")
        if location is None or checksum is None or checksum.get("type") != "sha256":
            raise SystemExit(f"rpm_metadata: {base}: repomd.xml gives no sha256 for the primary metadata")
        raw = fetch(base, location.get("href", ""))
        if hashlib.sha256(raw).hexdigest() != (checksum.text or "").strip():
            raise SystemExit(f"rpm_metadata: {base}: the primary metadata does not match repomd.xml's sha256")
        href = location.get("href", "")
        if href.endswith(".gz"):
            text = gzip.decompress(raw)
        elif href.endswith(".xz"):
            text = lzma.decompress(raw)
        else:
            text = raw
        if len(text) > MAX_METADATA:
            raise SystemExit(f"rpm_metadata: {base}: primary metadata of {len(text)} bytes")
        return revision, ET.fromstring(text)
    raise SystemExit(f"rpm_metadata: {base}: repomd.xml names no primary metadata")


def _segments(text: str) -> list[str]:
    return re.findall(r"~|\^|[0-9]+|[A-Za-z]+", text)


def rpm_compare(a: str, b: str) -> int:
    """rpm's version comparison of two version or release strings: -1, 0 or 1."""
    left, right = _segments(a), _segments(b)
    while left or right:
        x, y = (left.pop(0) if left else None), (right.pop(0) if right else None)
        if x == "~" or y == "~":  # a tilde sorts before anything, even the end
            if x != y:
                return -1 if x == "~" else 1
            continue
        if x == "^" or y == "^":  # a caret sorts after the end, before anything else
            if x != y:
                if x is None:
                    return -1
                if y is None:
                    return 1
                return -1 if x == "^" else 1
            continue
        if x is None or y is None:
            return -1 if x is None else 1
        if x.isdigit() != y.isdigit():  # a number is newer than letters
            return 1 if x.isdigit() else -1
        if x.isdigit():
            x, y = x.lstrip("0") or "0", y.lstrip("0") or "0"
            if len(x) != len(y):
                return 1 if len(x) > len(y) else -1
        if x != y:
            return 1 if x > y else -1
    return 0


def evr_key(entry: dict[str, Any]) -> tuple[int, Any, Any]:
    """Sorts builds as rpm does: epoch, then version, then release."""
    version = functools.cmp_to_key(rpm_compare)
    return (int(entry["epoch"]), version(entry["version"]), version(entry["release"]))


def _entries(element: ET.Element | None) -> list[str]:
    if element is None:
        return []
    out = []
    for entry in element.findall(f"{RPM}entry"):
        name = entry.get("name", "")
        if entry.get("flags"):
            relation = {"EQ": "=", "GE": ">=", "LE": "<=", "GT": ">", "LT": "<"}.get(entry.get("flags", ""), "?")
            version = entry.get("ver", "") + (f"-{entry.get('rel')}" if entry.get("rel") else "")
            name = f"{name} {relation} {version}"
        out.append(name)
    return sorted(set(out))


def packages(base: str, tree: ET.Element, arches: set[str]) -> list[dict[str, Any]]:
    found = []
    for package in tree.findall(f"{COMMON}package"):
        arch = package.findtext(f"{COMMON}arch") or ""
        if arch not in arches:
            continue
        version = package.find(f"{COMMON}version")
        checksum = package.find(f"{COMMON}checksum")
        location = package.find(f"{COMMON}location")
        if version is None or checksum is None or location is None or checksum.get("type") != "sha256":
            continue
        href = location.get("href", "")
        fmt = package.find(f"{COMMON}format")
        found.append({
            "name": package.findtext(f"{COMMON}name") or "",
            "epoch": version.get("epoch", "0"),
            "version": version.get("ver", ""),
            "release": version.get("rel", ""),
            "arch": arch,
            "file": href.rsplit("/", 1)[-1],
            "url": address_of(base, href),
            "sha256": (checksum.text or "").strip(),
            "requires": _entries(fmt.find(f"{RPM}requires") if fmt is not None else None),
            "provides": _entries(fmt.find(f"{RPM}provides") if fmt is not None else None),
        })
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--repo", action="append", required=True, help="a repository: folder or http(s) address")
    parser.add_argument("--arch", default="x86_64", help="the architecture (noarch packages are taken too)")
    parser.add_argument("-o", "--output", help="write here rather than to standard output")
    parser.add_argument("names", nargs="+", help="package names")
    args = parser.parse_args(argv)
    candidates: dict[str, list[dict[str, Any]]] = {}
    revisions = {}
    for base in args.repo:
        revision, tree = primary(base)
        revisions[base] = revision
        for entry in packages(base, tree, {args.arch, "noarch"}):
            candidates.setdefault(entry["name"], []).append(entry)
    missing = [n for n in args.names if n not in candidates]
    if missing:
        print(f"rpm_metadata: no repository has {', '.join(missing)}", file=sys.stderr)
        return 2
    chosen = {name: max(candidates[name], key=evr_key) for name in sorted(set(args.names))}
    data = {
        "about": "RPMs for nix/rpm.nix, from each repository's primary metadata. Generated by "
                 "tools/rpm_metadata.py; do not edit.",
        "generated": datetime.date.today().isoformat(),
        "repositories": [{"base": base, "revision": revisions[base]} for base in args.repo],
        "arch": args.arch,
        "packages": chosen,
    }
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
