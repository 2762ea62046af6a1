# Builder of nix/rpm/default.nix: one RPM unpacked into Nix outputs.
#
# The FHS trees RPMs install into (/usr, and gcc-toolset's
# /opt/rh/gcc-toolset-N/root/usr) are merged into $out (bin, lib, libexec,
# share) and $dev (include); lib64 and lib both become $out/lib. Absolute
# symlinks and linker scripts that name a file of this package by its FHS
# path are pointed at its store path; what names another package is left to
# the overrides (nix/rpm/overrides.nix), which run as $postInstall.
set -eu
root=$PWD/root
mkdir -p "$root" "$out" "$dev"
cd "$root"
rpm2cpio "$src" | cpio -idm --quiet --no-absolute-filenames

# from-dir to-dir: merge a folder of the RPM into an output
move() {
    [ -d "$1" ] && [ ! -L "$1" ] || return 0
    mkdir -p "$2"
    cp -a "$1"/. "$2"/
    rm -rf "$1"
}

# the FHS path a file had -> where it is now (empty when this package does not have it)
stored() {
    for prefix in $prefixes; do
        for pair in "include=$dev/include" "lib64=$out/lib" "lib=$out/lib" "bin=$out/bin" "libexec=$out/libexec" \
                    "share=$out/share"; do
            fhs="/${prefix:+$prefix/}${pair%%=*}"
            case "$1" in "$fhs"/*) candidate="${pair#*=}/${1#"$fhs"/}"; [ -e "$candidate" ] && echo "$candidate" && return ;; esac
        done
    done
    echo ""
}

prefixes=$(cd "$root" && { ls -d opt/rh/*/root/usr 2>/dev/null || true; echo usr; echo .; })
for prefix in $prefixes; do
    for dir in include lib64 lib bin libexec share; do
        case "$dir" in include) to="$dev/include" ;; lib64) to="$out/lib" ;; *) to="$out/$dir" ;; esac
        move "$prefix/$dir" "$to"
    done
done
prefixes=$(echo "$prefixes" | sed 's|^\./*||; s|^\.$||')
left=$(find "$root" -mindepth 1 ! -type d | head -n 5)
if [ -n "$left" ]; then
    echo "rpm: files outside the FHS trees this builder knows, kept under \$out/root:" >&2
    echo "$left" >&2
    mkdir -p "$out/root"
    cp -a "$root"/. "$out/root"/
fi

for output in "$out" "$dev"; do
    # absolute symlinks into this package
    find "$output" -type l | while read -r link; do
        target=$(readlink "$link")
        case "$target" in /nix/store/*) continue ;; /*) ;; *) continue ;; esac
        now=$(stored "$target")
        if [ -n "$now" ]; then ln -sfn "$now" "$link"; fi
    done
    # linker scripts naming files of this package by their FHS paths
    find "$output" -type f -name '*.so' -size -4k | while read -r script; do
        grep -qE '^(/\*|INPUT|GROUP)' "$script" 2>/dev/null || continue
        for path in $(grep -oE '/[^ ()]+' "$script" | sort -u); do
            now=$(stored "$path")
            if [ -n "$now" ]; then sed -i "s|$path|$now|g" "$script"; fi
        done
    done
done

eval "${postInstall:-}"
