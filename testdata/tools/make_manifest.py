"""Print testdata/manifest.json: readelf's facts for every test binary.

Files under bin/bad/ are recorded as inputs that must be rejected. The
macOS and Windows objects (bin/macos/, bin/windows/) are not ELF: readelf
knows nothing of them, and their tests use macholib and pefile instead.
Usage: make_manifest.py BIN_DIR > manifest.json
"""

import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
from readelf_facts import facts


def main(root: str) -> None:
    manifest = {}
    for dirpath, _dirs, files in sorted(os.walk(root)):
        for name in sorted(files):
            path = os.path.join(dirpath, name)
            key = os.path.relpath(path, os.path.dirname(root.rstrip("/")) or ".")
            if os.path.basename(dirpath) in ("macos", "windows"):
                continue
            if os.path.basename(dirpath) == "bad":
                manifest[key] = {"bad": True}
            else:
                manifest[key] = facts(path)
    # readelf reads version tables only through section headers, so a
    # section-less twin inherits them from the file it was cut from.
    for key, entry in manifest.items():
        if entry.get("sectionless"):
            twin = manifest[key.replace(".nosections", "")]
            entry["version_needs"] = twin["version_needs"]
            entry["versioned_imports"] = twin["versioned_imports"]
            entry["versions_from"] = key.replace(".nosections", "")
    json.dump(dict(sorted(manifest.items())), sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
