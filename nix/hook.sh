# shellcheck shell=bash
# abicheck setup hook: after fixup, check every output's ELF objects with
# `abicheck check` and fail the build on any finding.
#
# Set in a derivation:
#   dontAbicheck=1          skip the check
#   abicheckTarget=wheel    for outputs that become wheels (default: nix)
#   abicheckPolicy=NAME     the policy (default: abicheck's, manylinux_2_28)
#   abicheckFlags=(...)     more `abicheck check` flags (--ignore AB202, ...)
#
# It is registered in postFixupHooks, so it runs in fixupPhase, which every
# stdenv build runs unless dontFixup is set.

abicheckLog() {
    if declare -F nixErrorLog >/dev/null; then nixErrorLog "$*"; else echo "$*" >&2; fi
}

_abicheckCommand() {
    local substituted="@abicheck@"
    if [ -n "${abicheckCommand-}" ]; then
        echo "$abicheckCommand"
    elif [ "${substituted#@}" != "$substituted" ]; then
        echo abicheck  # sourced without makeSetupHook: use the one on PATH
    else
        echo "$substituted"
    fi
}

# Each output as "name path": under __structuredAttrs `outputs` is an
# associative array (name -> path), where "${outputs:-out}" would read only
# "out"; otherwise it is a list of names, each a variable holding the path.
_abicheckOutputs() {
    local output
    if declare -p outputs 2>/dev/null | grep -q '^declare -A'; then
        for output in "${!outputs[@]}"; do
            echo "$output ${outputs[$output]}"
        done
    else
        for output in ${outputs:-out}; do
            echo "$output ${!output}"
        done
    fi
}

abicheckPhase() {
    if [ -n "${dontAbicheck-}" ]; then
        echo "abicheck: skipped (dontAbicheck is set)"
        return 0
    fi
    local cmd
    cmd="$(_abicheckCommand)"
    if ! command -v "$cmd" >/dev/null 2>&1; then
        abicheckLog "abicheck: '$cmd' is not on PATH; add abicheckHook to nativeBuildInputs (or set dontAbicheck=1)"
        exit 1
    fi

    local -a args=(check --target "${abicheckTarget:-nix}" --allow-empty)
    if [ -n "${abicheckPolicy-}" ]; then
        args+=(--policy "$abicheckPolicy")
    fi
    # abicheckFlags may be a bash array (__structuredAttrs) or a plain string.
    if declare -p abicheckFlags 2>/dev/null | grep -q '^declare -a'; then
        args+=("${abicheckFlags[@]}")
    elif [ -n "${abicheckFlags-}" ]; then
        # shellcheck disable=SC2206 # word splitting is the point for a string of flags
        args+=($abicheckFlags)
    fi

    local output dir failed=0
    while read -r output dir; do
        [ -e "$dir" ] || continue
        echo "abicheck: checking output $output ($dir)"
        if ! "$cmd" "${args[@]}" "$dir"; then
            failed=1
            abicheckLog "abicheck: output $output has objects that will not load where they are meant to run (see above)"
        fi
    done < <(_abicheckOutputs)
    if [ "$failed" -ne 0 ]; then
        abicheckLog "abicheck: failing the build; set dontAbicheck=1 to skip, or abicheckFlags to --ignore a rule"
        exit 1
    fi
}

postFixupHooks+=(abicheckPhase)
